"""The audit trail: who changed what, when, with the state before and after."""
from sqlalchemy import select

from ..extensions import db
from ..models import Audit


def record(user, entity: str, entity_id, action: str, before: dict | None, after: dict | None) -> None:
    """Add one audit row in the current transaction."""
    db.session.add(Audit(user_id=getattr(user, "id", None), entity=entity, entity_id=entity_id,
                         action=action, before=before, after=after))


def history_stmt(entity: str, entity_id: int):
    """Audit rows of one record, newest first."""
    return (select(Audit).where(Audit.entity == entity, Audit.entity_id == entity_id)
            .order_by(Audit.at.desc(), Audit.id.desc()))
