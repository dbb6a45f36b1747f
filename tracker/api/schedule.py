"""Tasks and follow-up actions as JSON."""
from flask import jsonify, request
from flask_babel import gettext as _
from flask_login import current_user

from .. import clock
from ..auth import api_roles
from ..extensions import db
from ..services import ServiceError, schedule
from . import bp
from .sites import _int_arg

TASK_STATUSES = ("open", "done", "missed", "cancelled")
ACTION_STATUSES = ("open", "escalated", "cleared")


def task_json(t) -> dict:
    return {"id": t.id, "site_id": t.site_id, "site_name": t.site.name, "dong": t.site.dong, "week": t.week,
            "kind": t.kind, "slot": t.slot, "required_mode": t.required_mode, "due_at": t.due_at.isoformat(),
            "status": t.status, "overdue": t.overdue, "assignee_id": t.assignee_id,
            "done_inspection_id": t.done_inspection_id}


def action_json(a) -> dict:
    return {"id": a.id, "site_id": a.site_id, "site_name": a.site.name, "dong": a.site.dong, "item_key": a.item_key,
            "critical": a.critical, "status": a.status, "opened_at": a.opened_at.isoformat(),
            "due_at": a.due_at.isoformat(), "cleared_at": a.cleared_at.isoformat() if a.cleared_at else None,
            "opened_inspection_id": a.opened_inspection_id, "cleared_inspection_id": a.cleared_inspection_id}


def _choice(name, allowed):
    value = request.args.get(name) or None
    if value is not None and value not in allowed:
        raise ServiceError(_("%(name)s은(는) %(allowed)s 중 하나여야 합니다", name=name, allowed=", ".join(allowed)),
                           errors={name: f"must be one of {', '.join(allowed)}"})
    return value


@bp.route("/tasks")
@api_roles()
def list_tasks():
    """Tasks of a week (default this week), by status; inspectors see their own."""
    week = request.args.get("week") or clock.week_of()
    try:
        clock.parse_week(week)
    except ValueError:
        raise ServiceError(_("week는 2020-W11 형식이어야 합니다"), errors={"week": "must look like 2020-W11"})
    status = _choice("status", TASK_STATUSES)
    limit = _int_arg("limit", 500, 1, 5000)
    offset = _int_arg("offset", 0, 0, 10**9)
    mine = current_user.id if current_user.role == "inspector" else None
    stmt = schedule.tasks_stmt(week=week, status=status, assignee_id=mine)
    rows = db.session.scalars(stmt.limit(limit).offset(offset)).all()
    return jsonify(week=week, items=[task_json(t) for t in rows], limit=limit, offset=offset)


@bp.route("/actions")
@api_roles("lead", "admin")
def list_actions():
    """Follow-up actions by status ('open' includes escalated)."""
    status = _choice("status", ACTION_STATUSES)
    limit = _int_arg("limit", 500, 1, 5000)
    offset = _int_arg("offset", 0, 0, 10**9)
    rows = db.session.scalars(schedule.actions_stmt(status=status, dong=request.args.get("dong") or None,
                                                    item=request.args.get("item") or None)
                              .limit(limit).offset(offset)).all()
    return jsonify(items=[action_json(a) for a in rows], limit=limit, offset=offset)
