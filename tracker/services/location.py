"""Consent to recording an inspector's position at on-site checks (위치정보법): asked once, recorded with the time,
withdrawable; without it no position is asked for by the phone nor stored by the server."""
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from .. import clock
from ..extensions import db
from ..models import LocationConsent

UNASKED, GIVEN, REFUSED, WITHDRAWN = "unasked", "given", "refused", "withdrawn"
ANSWERS = {"given": True, "refused": False}  # what a form or the API may send as its answer


@dataclass(frozen=True)
class State:
    """Where a user stands: unasked, given, refused or withdrawn, and since when (None when unasked)."""

    state: str
    at: datetime | None

    @property
    def given(self) -> bool:
        return self.state == GIVEN


def _latest(user_id: int) -> LocationConsent | None:
    return db.session.scalar(select(LocationConsent).where(LocationConsent.user_id == user_id)
                             .order_by(LocationConsent.id.desc()).limit(1))


def state(user) -> State:
    """The user's consent as it stands now."""
    row = _latest(user.id)
    if row is None:
        return State(UNASKED, None)
    if not row.given:
        return State(REFUSED, row.at)
    return State(WITHDRAWN, row.withdrawn_at) if row.withdrawn_at else State(GIVEN, row.at)


def decide(user, given: bool) -> State:
    """Record the user's answer: give (again), refuse, or withdraw a consent given; an answer that changes nothing
    adds nothing."""
    row = _latest(user.id)
    now = clock.now()
    if given and not (row is not None and row.given and row.withdrawn_at is None):
        db.session.add(LocationConsent(user_id=user.id, given=True, at=now))
    elif not given and row is not None and row.given and row.withdrawn_at is None:
        row.withdrawn_at = now
    elif not given and row is None:
        db.session.add(LocationConsent(user_id=user.id, given=False, at=now))
    db.session.flush()
    return state(user)


def answered_offline(user, answer: str | None) -> State:
    """An answer that came with a submission (given on a phone offline, sent with the inspection): it counts only
    when the server has no answer of this user yet. Any answer the server holds was given or changed later on the
    server side (the immediate post, or 내 정보), so a queued inspection can never undo a withdrawal."""
    current = state(user)
    if answer in ANSWERS and current.state == UNASKED:
        return decide(user, ANSWERS[answer])
    return current


def history(user) -> list[LocationConsent]:
    """The user's answers, newest first."""
    return list(db.session.scalars(select(LocationConsent).where(LocationConsent.user_id == user.id)
                                   .order_by(LocationConsent.id.desc())))
