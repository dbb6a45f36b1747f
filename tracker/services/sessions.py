"""Server-side logins: each browser's login is a user_session row that the server can end.

The cookie holds a random key and the server keeps its SHA-256 only. A login ends at logout, after an idle time
set per role, when the password changes, or when the user is deactivated; a copy of the cookie then opens nothing.
"""
import hashlib
import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select, update

from .. import clock
from ..extensions import db
from ..models import ApiToken, User, UserSession

# last_seen_at is written at most this often per session: a write on every request would cost the load floor.
TOUCH_EVERY = timedelta(minutes=1)


def key_hash(key: str) -> str:
    """The stored form of a session key."""
    return hashlib.sha256(key.encode()).hexdigest()


def idle_timeout(role: str) -> timedelta:
    """How long a login of this role may go without a request before it ends."""
    cfg = current_app.config
    minutes = cfg["TRACKER_IDLE_TIMEOUT_MINUTES_INSPECTOR" if role == "inspector" else "TRACKER_IDLE_TIMEOUT_MINUTES"]
    return timedelta(minutes=minutes)


def start(user: User, user_agent: str | None, ip: str | None) -> tuple[str, UserSession]:
    """A new session for the user: its key, which only the cookie keeps, and its row."""
    key = secrets.token_urlsafe(32)
    row = UserSession(key_hash=key_hash(key), user_id=user.id, user_agent=(user_agent or "")[:300], ip=(ip or "")[:64])
    db.session.add(row)
    db.session.flush()
    return key, row


# Built once: every page request runs it.
_LIVE = (select(UserSession, User).join(User, User.id == UserSession.user_id)
         .where(UserSession.ended_at.is_(None), User.active.is_(True)))


def find(key: str | None, user_id: int) -> tuple[UserSession, User] | None:
    """The live session with this key, and its user, or None (unknown, ended, another user's, or deactivated)."""
    if not key:
        return None
    row = db.session.execute(_LIVE.where(UserSession.key_hash == key_hash(key),
                                         UserSession.user_id == user_id)).first()
    return tuple(row) if row else None


def is_idle(sess: UserSession, role: str, now: datetime | None = None) -> bool:
    """Whether the session has gone unused past its role's idle time."""
    return (now or clock.now()) - sess.last_seen_at > idle_timeout(role)


def needs_touch(sess: UserSession, now: datetime | None = None) -> bool:
    """Whether last_seen_at is old enough to be written again."""
    return (now or clock.now()) - sess.last_seen_at >= TOUCH_EVERY


def touch(session_id: int) -> None:
    """Record a request on the session now (one UPDATE; no row is loaded)."""
    db.session.execute(update(UserSession).where(UserSession.id == session_id, UserSession.ended_at.is_(None))
                       .values(last_seen_at=clock.now()))


def end(session_id: int, reason: str, user_id: int | None = None) -> int:
    """End one session (of this user, when given); returns how many were ended (0 or 1)."""
    stmt = update(UserSession).where(UserSession.id == session_id, UserSession.ended_at.is_(None))
    if user_id is not None:
        stmt = stmt.where(UserSession.user_id == user_id)
    return db.session.execute(stmt.values(ended_at=clock.now(), end_reason=reason)).rowcount


def end_all(user_id: int, reason: str) -> None:
    """End every session and API token of a user: after a password change, a reset or a deactivation."""
    db.session.execute(update(UserSession).where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
                       .values(ended_at=clock.now(), end_reason=reason))
    db.session.execute(delete(ApiToken).where(ApiToken.user_id == user_id))


def end_others(user: User, keep_session_id: int | None, reason: str) -> int:
    """End every other browser login of a user, keeping this one (API tokens are the user's own to revoke); returns
    how many were still in use. Those already idle past their time (never asked since, so never closed) are closed
    as idle, and not counted: they were over anyway."""
    now = clock.now()
    others = (UserSession.user_id == user.id, UserSession.ended_at.is_(None), UserSession.id != (keep_session_id or 0))
    db.session.execute(update(UserSession).where(*others, UserSession.last_seen_at < now - idle_timeout(user.role))
                       .values(ended_at=now, end_reason="idle"))
    return db.session.execute(update(UserSession).where(*others).values(ended_at=now, end_reason=reason)).rowcount


def active_stmt(user: User):
    """The user's sessions still open (not ended and not idle past their time), most recent first."""
    since = clock.now() - idle_timeout(user.role)
    return (select(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None),
                                      UserSession.last_seen_at >= since)
            .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc()))


def tokens_stmt(user: User):
    """The user's API tokens, newest first."""
    return select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())


def end_token(user: User, token_id: int) -> int:
    """Revoke one of the user's API tokens; returns how many were (0 or 1)."""
    return db.session.execute(delete(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id)).rowcount
