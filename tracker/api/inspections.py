"""Inspections and the current checklist as JSON."""
from flask import request
from flask_babel import gettext as _
from flask_login import current_user

from ..auth import api_roles
from ..extensions import db
from ..schemas import Submission
from ..services import ServiceError, checklist, inspections
from ..web import log_access
from . import WRITE, bp, refusals
from .schemas import ChecklistSchema, InspectionArgs, InspectionListSchema, InspectionSchema


@bp.route("/inspections", methods=["POST"])
@api_roles()
@refusals(400, 409)
@bp.doc(security=WRITE, requestBody={"required": True, "content": {"application/json": {"schema": Submission}}})
@bp.response(201, InspectionSchema, description="the new inspection")
@bp.alt_response(200, schema=InspectionSchema, success=True,
                 description="the inspection already saved under this client_uuid")
def create_inspection():
    """Submit an inspection (idempotent on client_uuid).

    The body is read by the same schema as the inspection page's form (tracker.schemas.Submission), inside the
    service, so that its errors and the checklist's are reported together; 409 when the client_uuid is another
    inspector's."""
    body = request.get_json(silent=True)
    if body is None and request.get_data(cache=True).strip():
        # Not JSON at all, or nested deeper than any parser follows: say so, rather than "not an object".
        raise ServiceError(_("요청 본문을 JSON으로 읽을 수 없습니다 (형식이 틀렸거나 너무 깊이 중첩되었습니다)."),
                           errors={"body": _("JSON으로 읽을 수 없습니다")}, status=400)
    insp, created = inspections.submit(body, by=current_user)
    return insp, 201 if created else 200


@bp.route("/inspections")
@api_roles()
@refusals()
@bp.arguments(InspectionArgs, location="query")
@bp.response(200, InspectionListSchema)
def list_inspections(args):
    """Inspections by site and week, newest first; inspectors see their own."""
    mine = current_user.id if current_user.role == "inspector" else None
    stmt = inspections.list_stmt(site_id=args.get("site_id") or None, week=args.get("week"), inspector_id=mine,
                                 full=True)
    rows = db.session.scalars(stmt.limit(args["limit"]).offset(args["offset"])).all()
    placed = [i.id for i in rows if i.lat is not None]
    if placed:  # the answer holds where inspectors stood
        log_access("view", {"inspections": placed})
    return {"items": rows, "limit": args["limit"], "offset": args["offset"]}


@bp.route("/checklist")
@api_roles()
@refusals(404)
@bp.response(200, ChecklistSchema)
def current_checklist():
    """The published checklist template: version and items (key, labels, category, critical, modes)."""
    tpl = checklist.current()
    if tpl is None:
        raise ServiceError(_("게시된 점검표가 없습니다."), errors={"template": "none published"}, status=404)
    return tpl
