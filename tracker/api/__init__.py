"""JSON API under /api/v1: bearer tokens or the logged-in session (which must send X-CSRFToken to write).

flask-smorest reads each endpoint's arguments and writes its response with the schemas of api/schemas.py; the
OpenAPI document at /api/v1/openapi.json is written from the same schemas (api/document.py)."""
from http import HTTPStatus

import flask_smorest
from flask import jsonify, request
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from .. import schemas as shape
from ..auth import api_roles, uses_bearer
from ..extensions import csrf
from ..services import ServiceError
from .schemas import CsrfTokenSchema

bp = flask_smorest.Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

WRITE = [{"bearer": []}, {"session": [], "csrf": []}]  # security of the operations that write


def register(app) -> None:
    """The API's blueprint, and its document's."""
    from .document import docs
    app.register_blueprint(bp)
    app.register_blueprint(docs)


def refusals(*statuses: int):
    """Document the refusals an operation can give, each with the ErrorSchema body (401 for anonymous callers
    and 422 for a NUL anywhere in the query go for every operation)."""
    def deco(view):
        for status in sorted({401, 422, *statuses}):
            view = bp.alt_response(status, response=HTTPStatus(status).name)(view)
        return view
    return deco


@bp.before_request
def _authenticate_then_csrf():
    # Anonymous callers learn they must authenticate (401) before anything else is checked.
    if not current_user.is_authenticated:
        return jsonify(error="authentication required", message="로그인이 필요합니다."), 401
    # A bearer token cannot be sent by another site's form, so only cookie-authenticated writes need the token.
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and not uses_bearer():
        csrf.protect()
    # PostgreSQL cannot store or even compare text with NUL bytes (psycopg raises, a 500); no real input has them.
    if _has_nul(list(request.args.items(multi=True))) or (request.is_json and _body_has_nul()):
        return jsonify(error="invalid", message=_("입력에 NUL 문자(\\x00)가 있습니다."),
                       errors={"body": "contains a NUL character"}), 422


def _body_has_nul() -> bool:
    """Whether the JSON body holds a NUL anywhere. In UTF-8 JSON a NUL can only be written as the escape \\u0000,
    so a body without that escape (nor any zero byte: UTF-16 and UTF-32 JSON are full of them) needs no walk."""
    data = request.get_data(cache=True)
    return (b"\\u0000" in data or b"\x00" in data) and _has_nul(request.get_json(silent=True))


def _has_nul(value) -> bool:
    """Whether a string anywhere in a JSON value (or in query pairs) holds a NUL character."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_nul(v) for v in value)
    return False


@bp.errorhandler(ServiceError)
def _service_error(exc: ServiceError):
    error = "unavailable" if exc.status == 503 else "invalid"  # 503 (a store is down): the client retries as is
    return jsonify(error=error, message=exc.message, errors=exc.errors), exc.status


@bp.errorhandler(HTTPStatus.UNPROCESSABLE_ENTITY)
def _invalid_arguments(exc):
    """A query the schema refused (webargs aborts with marshmallow's messages by location): the house shape."""
    errors = {}
    for messages in getattr(exc, "data", {}).get("messages", {}).values():
        errors.update(shape.flat(messages))
    message = _("입력을 확인하세요: %(n)s곳이 올바르지 않습니다.", n=len(errors))
    return _service_error(ServiceError(message, errors=errors))


@bp.route("/csrf-token")
@api_roles()
@refusals()
@bp.response(200, CsrfTokenSchema)
def csrf_token():
    """A fresh CSRF token, so that a long-open form can still submit."""
    return {"csrf_token": generate_csrf()}


from . import access_log, inspections, schedule, sites, summary  # noqa: E402,F401  (routes attach to bp)
