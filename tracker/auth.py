"""Who is asking: session users for pages, and bearer tokens for the API."""
import hashlib
from functools import wraps

from flask import abort, flash, g, jsonify, session
from flask_babel import gettext as _
from flask_login import current_user, login_user
from sqlalchemy import bindparam, select

from . import clock, edge
from .extensions import db, login_manager
from .models import ROLES, ApiToken, User
from .services import sessions

login_manager.login_view = "auth.login"
login_manager.login_message = None
# The cookie's key of the server-side session (services/sessions.py). Flask-Login's own "_user_id" alone opens
# nothing: a remember-me cookie (never set by this app) or an old cookie without this key is anonymous.
SESSION_KEY = "sid"


@login_manager.user_loader
def load_user(user_id: str):
    """The user of a live server-side session; an unknown, ended or idle one is anonymous."""
    try:
        found = sessions.find(session.get(SESSION_KEY), int(user_id))
    except (TypeError, ValueError):
        return None
    if found is None:
        return None
    sess, user = found
    now = clock.now()
    if sessions.is_idle(sess, user.role, now):
        # Written through the edge (this may be a GET); the next page, the login page, says why.
        edge.keep(sessions.end, sess.id, "idle")
        forget_login()
        flash(_("오래 사용하지 않아 로그인이 끝났습니다. 다시 로그인하세요. 작성 중인 점검은 이 기기에 남아 "
                "있습니다."), "warn")
        return None
    if sessions.needs_touch(sess, now):
        edge.keep(sessions.touch, sess.id)
    g.user_session_id = sess.id
    return user


def forget_login(keep: tuple[str, ...] = ("lang",)) -> None:
    """Empty the cookie session, keeping only the language (and what `keep` names): the old CSRF token goes with
    it, so a page or a copy from before no longer posts."""
    kept = {k: session[k] for k in keep if k in session}
    session.clear()
    session.update(kept)


def start_login(user: User, user_agent: str | None, ip: str | None) -> None:
    """Log the user in on this browser with a new server-side session and a fresh cookie session. A site code
    scanned on the way to the login (web/inspect.py keeps it as "scan_code", out of the URL) waits for this user."""
    forget_login(keep=("lang", "scan_code"))
    key, row = sessions.start(user, user_agent, ip)
    login_user(user)
    session[SESSION_KEY] = key
    g.user_session_id = row.id


def token_hash(token: str) -> str:
    """The stored form of an API token."""
    return hashlib.sha256(token.encode()).hexdigest()


# Built once: every API request runs it.
_BY_TOKEN = select(User).join(ApiToken, ApiToken.user_id == User.id).where(
    ApiToken.token_hash == bindparam("token_hash"), User.active.is_(True))


@login_manager.request_loader
def load_user_from_bearer(req):
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    user = db.session.scalar(_BY_TOKEN, {"token_hash": token_hash(header[7:].strip())})
    g.authenticated_by_token = user is not None
    return user


def roles_required(*roles: str):
    """Pages: anonymous users go to login; a user without one of the roles gets 403."""
    def deco(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if roles and current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)
        wrapped.required_roles = roles or ROLES  # read by the access tests
        return wrapped
    return deco


def api_roles(*roles: str):
    """API: 401 without credentials, 403 for a role that may not."""
    def deco(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return jsonify(error="authentication required", message="로그인이 필요합니다."), 401
            if roles and current_user.role not in roles:
                return jsonify(error="forbidden", message="권한이 없습니다."), 403
            return view(*args, **kwargs)
        wrapped.required_roles = roles or ROLES
        return wrapped
    return deco


def uses_bearer() -> bool:
    """Whether this request was authenticated by its token rather than the session cookie. A cookie session with
    any Authorization header added is still a cookie session, and still needs its CSRF token."""
    current_user._get_current_object()  # make Flask-Login decide now: session first, then the token
    return bool(g.get("authenticated_by_token"))
