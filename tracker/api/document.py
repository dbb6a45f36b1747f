"""The OpenAPI document at /api/v1/openapi.json (public, so that clients can discover the API), written by
flask-smorest from the schemas that read and write each endpoint's data.

flask-smorest writes the document when the blueprint is registered on its Api, and that puts every schema through
apispec: longer than the rest of create_app. So the app registers the API's blueprint as it does any other, and
the document is written on the first request for it, once per process and district, by an Api over an app of
its own (which also keeps flask-smorest's JSON error pages away from the HTML pages)."""
from functools import lru_cache

import flask_smorest
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, current_app, jsonify

from .. import schemas as shape
from . import bp
from .schemas import ErrorSchema, component_name

docs = Blueprint("api_docs", __name__, url_prefix=bp.url_prefix)

SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "flask --app wsgi create-token --email E"},
    "session": {"type": "apiKey", "in": "cookie", "name": "session", "description": "the logged-in session"},
    "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRFToken",
             "description": "with the session, to write: from GET /api/v1/csrf-token"},
}


class Api(flask_smorest.Api):
    """flask-smorest with the API's error body in the document, and no catch-all response: each operation lists
    the statuses it gives."""

    ERROR_SCHEMA = ErrorSchema
    DEFAULT_ERROR_RESPONSE_NAME = None


@docs.route("/openapi.json")
def openapi():
    """The API's OpenAPI document."""
    cfg = current_app.config
    return jsonify(_document(tuple(cfg["TRACKER_DONGS"]), tuple(cfg["TRACKER_BAND_EDGES"])))


@lru_cache(maxsize=8)
def _document(dongs: tuple, band_edges: tuple) -> dict:
    """The document for a district (its dongs and bands are the documented values of those parameters)."""
    app = Flask(__name__)
    app.config.update(TRACKER_DONGS=list(dongs), TRACKER_BAND_EDGES=list(band_edges), API_TITLE="Tracker API",
                      API_VERSION="1", OPENAPI_VERSION="3.0.3",
                      API_SPEC_OPTIONS={"security": [{"bearer": []}, {"session": []}]})
    api = Api(app, spec_kwargs={"marshmallow_plugin": MarshmallowPlugin(schema_name_resolver=component_name)})
    api.ma_plugin.converter.add_attribute_function(shape.district_values)
    for name, scheme in SECURITY_SCHEMES.items():
        api.spec.components.security_scheme(name, scheme)
    with app.app_context():
        api.register_blueprint(bp)
    return api.spec.to_dict()
