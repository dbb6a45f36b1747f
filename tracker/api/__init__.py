"""JSON API under /api/v1: bearer tokens or the logged-in session (which must send X-CSRFToken to write).

flask-smorest reads each endpoint's arguments and writes its response with the schemas of api/schemas.py; the
OpenAPI document at /api/v1/openapi.json is written from the same schemas (api/document.py)."""
import re
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
    # Nor can any database store an unpaired surrogate (JSON's "\ud800" escape reads as one; UTF-8 cannot encode
    # it), so both are refused here, before anything reads them.
    bad = _bad_text(list(request.args.items(multi=True))) or (request.is_json and _body_bad_text())
    if bad == "nul":
        return jsonify(error="invalid", message=_("입력에 NUL 문자(\\x00)가 있습니다."),
                       errors={"body": "contains a NUL character"}), 422
    if bad:
        return jsonify(error="invalid", message=_("입력에 짝이 없는 서로게이트 문자(\\ud800 등)가 있습니다."),
                       errors={"body": "contains an unpaired surrogate"}), 422


def _body_bad_text() -> str | None:
    """What is wrong with the JSON body's text, if anything. In UTF-8 JSON a NUL or a lone surrogate can only be
    written as a \\u escape, so a body without one (nor any zero byte: UTF-16 and UTF-32 JSON are full of them)
    needs no walk."""
    data = request.get_data(cache=True)
    return _bad_text(request.get_json(silent=True)) if (b"\\u" in data or b"\x00" in data) else None


def _bad_text(value) -> str | None:
    """'nul' or 'surrogate' when a string anywhere in a JSON value (or in query pairs) holds one; else None. A loop,
    not recursion: a body nested a few hundred deep parses, and must not then overflow the stack here."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if "\x00" in v:
                return "nul"
            if _SURROGATE.search(v):
                return "surrogate"
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, (list, tuple)):
            stack.extend(v)
    return None


_SURROGATE = re.compile("[\ud800-\udfff]")


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
