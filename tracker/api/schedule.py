"""Tasks and follow-up actions as JSON."""
from flask_login import current_user

from .. import clock
from ..auth import api_roles
from ..extensions import db
from ..models import LEADS
from ..services import schedule
from . import bp, refusals
from .schemas import ActionArgs, ActionListSchema, TaskArgs, TaskListSchema


@bp.route("/tasks")
@api_roles()
@refusals()
@bp.arguments(TaskArgs, location="query")
@bp.response(200, TaskListSchema)
def list_tasks(args):
    """Tasks of a week (default this week), by status; inspectors see their own."""
    week = args.get("week") or clock.week_of()
    mine = current_user.id if current_user.role == "inspector" else None
    stmt = schedule.tasks_stmt(week=week, status=args.get("status"), assignee_id=mine)
    rows = db.session.scalars(stmt.limit(args["limit"]).offset(args["offset"])).all()
    return {"week": week, "items": rows, "limit": args["limit"], "offset": args["offset"]}


@bp.route("/actions")
@api_roles(*LEADS)
@refusals(403)
@bp.arguments(ActionArgs, location="query")
@bp.response(200, ActionListSchema)
def list_actions(args):
    """Follow-up actions (행정지도) by status ('open' includes escalated)."""
    stmt = schedule.actions_stmt(status=args.get("status"), dong=args.get("dong"), item=args.get("item"))
    rows = db.session.scalars(stmt.limit(args["limit"]).offset(args["offset"])).all()
    return {"items": rows, "limit": args["limit"], "offset": args["offset"]}
