"""Switches an admin sets on the admin pages, kept in the database so that every process sees them."""
from sqlalchemy import select

from ..extensions import db
from ..models import Setting
from . import audit

# key: default. Only keys listed here may be set.
DEFAULTS = {"notice_compliant": "0"}  # send a short "적합" notice after an inspection with no shortfall


def get(key: str) -> str:
    """A setting's value, or its default."""
    value = db.session.scalar(select(Setting.value).where(Setting.key == key))
    return DEFAULTS[key] if value is None else value


def enabled(key: str) -> bool:
    """Whether an on/off setting is on."""
    return get(key) == "1"


def set_flag(key: str, on: bool, by=None) -> bool:
    """Switch a setting on or off; returns whether it changed (and records who changed it)."""
    if key not in DEFAULTS:
        raise KeyError(key)
    before = get(key)
    after = "1" if on else "0"
    if before == after:
        return False
    row = db.session.get(Setting, key)
    if row is None:
        db.session.add(Setting(key=key, value=after))
    else:
        row.value = after
    db.session.flush()
    audit.record(by, "setting", None, "update", {key: before}, {key: after})
    return True
