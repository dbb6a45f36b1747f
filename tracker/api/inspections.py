"""Inspections and the current checklist as JSON."""
from flask import jsonify, request
from flask_babel import gettext as _
from flask_login import current_user

from .. import clock
from ..auth import api_roles
from ..extensions import db
from ..services import ServiceError, checklist, inspections
from . import bp
from .sites import _int_arg

SUBMIT_FIELDS = ("site_id", "qr_token", "mode", "client_uuid", "answers", "device_time", "contact_name",
                 "called_at", "lat", "lng", "note", "scan_token")


@bp.route("/inspections", methods=["POST"])
@api_roles()
def create_inspection():
    """Submit an inspection: 201 with the new record, 200 with the saved one for a replayed client_uuid."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ServiceError(_("JSON 객체를 보내야 합니다"), errors={"body": "expected a JSON object"})
    insp, created = inspections.submit({k: body.get(k) for k in SUBMIT_FIELDS}, by=current_user)
    record = inspections.to_dict(insp)
    db.session.commit()
    return jsonify(record), 201 if created else 200


@bp.route("/inspections")
@api_roles()
def list_inspections():
    """Inspections by site and week, newest first; inspectors see their own."""
    week = request.args.get("week") or None
    if week:
        try:
            clock.parse_week(week)
        except ValueError:
            raise ServiceError(_("week는 2020-W11 형식이어야 합니다"), errors={"week": "must look like 2020-W11"})
    site_id = _int_arg("site_id", 0, 0, 2**31 - 1) or None
    limit = _int_arg("limit", 100, 1, 500)
    offset = _int_arg("offset", 0, 0, 10**9)
    mine = current_user.id if current_user.role == "inspector" else None
    stmt = inspections.list_stmt(site_id=site_id, week=week, inspector_id=mine, full=True)
    rows = db.session.scalars(stmt.limit(limit).offset(offset)).all()
    return jsonify(items=[inspections.to_dict(i) for i in rows], limit=limit, offset=offset)


@bp.route("/checklist")
@api_roles()
def current_checklist():
    """The published checklist: version and items with key, labels, category, critical and modes."""
    tpl = checklist.current()
    if tpl is None:
        raise ServiceError(_("게시된 점검표가 없습니다."), errors={"template": "none published"}, status=404)
    return jsonify(checklist.to_dict(tpl))
