"""Who is asking: session users for pages, and bearer tokens for the API."""
import hashlib
from functools import wraps

from flask import abort, g, jsonify
from flask_login import current_user
from sqlalchemy import bindparam, select

from .extensions import db, login_manager
from .models import ROLES, ApiToken, User

login_manager.login_view = "auth.login"
login_manager.login_message = None


@login_manager.user_loader
def load_user(user_id: str):
    user = db.session.get(User, int(user_id))
    return user if user and user.active else None


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
