"""The access log of personal data as JSON, for admins."""
from ..auth import api_roles
from ..extensions import db
from ..services import access_log
from . import bp, refusals
from .schemas import AccessLogArgs, AccessLogSchema


@bp.route("/access-log")
@api_roles("admin")
@refusals(403)
@bp.arguments(AccessLogArgs, location="query")
@bp.response(200, AccessLogSchema)
def list_access_log(args):
    """Access records newest first, by account (user: id or e-mail), days (from, to: YYYY-MM-DD, inclusive, in the
    district's time) and action (view, export, download); paged with limit and offset."""
    stmt = access_log.list_stmt(args.get("user"), args.get("first"), args.get("last"), args.get("action"))
    rows = db.session.scalars(stmt.limit(args["limit"]).offset(args["offset"])).all()
    return {"items": rows, "limit": args["limit"], "offset": args["offset"]}
