"""What an inspection's "no" answers opened: its follow-up actions, with their due dates, and the reinspection."""
from sqlalchemy import and_, func, or_, select

from ..extensions import db
from ..models import Action, Inspection, Task
from .schedule import REINSPECTION


def of(insp: Inspection) -> dict:
    """{"actions": [(action, opened here)], "reinspection": task or None} for the result page, in two queries.

    An item answered "no" that already had an open action opened none: that action is listed, marked as not new.
    """
    failed = [a.item_key for a in insp.answers if a.value == "no"]
    if not failed:
        return {"actions": [], "reinspection": None}
    at = insp.submitted_at
    still_open_then = and_(Action.opened_at <= at, or_(Action.cleared_at.is_(None), Action.cleared_at > at))
    actions = db.session.scalars(select(Action).where(
        Action.site_id == insp.site_id, Action.item_key.in_(failed),
        or_(Action.opened_inspection_id == insp.id, still_open_then)).order_by(Action.due_at, Action.id)).all()
    # The reinspection is due with the earliest of the actions this inspection opened (schedule.FollowUp).
    first_due = select(func.min(Action.due_at)).where(Action.opened_inspection_id == insp.id).scalar_subquery()
    task = db.session.scalars(select(Task).where(Task.site_id == insp.site_id, Task.kind == REINSPECTION,
                                                 Task.due_at == first_due).order_by(Task.id).limit(1)).first()
    return {"actions": [(a, a.opened_inspection_id == insp.id) for a in actions], "reinspection": task}
