"""Login, logout and the language switch."""
from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from .. import clock, edge
from ..auth import forget_login, roles_required, start_login
from ..services import ServiceError, accounts, sessions, totp
from .forms import CodeForm, ConfirmForm, LoginForm

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str | None:
    """A path on this site, or None. Browsers and Werkzeug drop tabs and newlines from a Location, so "/\t/host"
    would become "//host": any control or space character refuses the value, as do "//host" and backslashes."""
    from urllib.parse import urlsplit
    if not target or any(ord(c) < 33 or ord(c) == 127 for c in target) or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with e-mail and password; repeated failures are slowed down. A user with TOTP goes on to the code."""
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.home"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        key = f"{form.email.data.strip().lower()}|{request.remote_addr}"
        try:
            user = accounts.authenticate(form.email.data, form.password.data, key, request.remote_addr)
        except ServiceError as exc:
            if exc.status == 401:  # wrong credentials count, though the request is rolled back; an early try does not
                edge.keep(accounts.record_failed_login, key)
                edge.keep(accounts.record_failed_login, accounts.address_key(request.remote_addr))
            flash(exc.message, "error")
            status = exc.status
        else:
            if user.totp_secret:
                # Not logged in yet: the cookie only says whose code is awaited, and since when.
                forget_login()
                session[PENDING] = {"uid": user.id, "at": clock.now().timestamp()}
                return redirect(url_for("auth.login_code", next=_safe_next(request.args.get("next"))))
            return _logged_in(user)
    return render_template("auth/login.html", form=form), status


def _logged_in(user):
    start_login(user, request.user_agent.string, request.remote_addr)
    return redirect(_safe_next(request.args.get("next")) or url_for("dashboard.home"))


PENDING = "totp_pending"
PENDING_FOR = 300  # seconds between the password and the code


@bp.route("/login/code", methods=["GET", "POST"])
def login_code():
    """The second step: a TOTP code from the user's app, or a recovery code; throttled like the password."""
    pending = session.get(PENDING)
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.home"))
    if not pending or clock.now().timestamp() - pending.get("at", 0) > PENDING_FOR:
        session.pop(PENDING, None)
        flash(_("인증 시간이 지났습니다. 다시 로그인하세요."), "warn")
        return redirect(url_for("auth.login", next=_safe_next(request.args.get("next"))))
    form, status = CodeForm(), 200
    if form.validate_on_submit():
        key = f"totp|{pending['uid']}"
        try:
            user = totp.verify(pending["uid"], form.code.data, key, request.remote_addr)
        except ServiceError as exc:
            if exc.status == 401:
                edge.keep(accounts.record_failed_login, key)
                edge.keep(accounts.record_failed_login, accounts.address_key(request.remote_addr))
            form.code.errors = [exc.message]
            status = exc.status
        else:
            return _logged_in(user)
    return render_template("auth/code.html", form=form), status


@bp.route("/logout", methods=["POST"])
@roles_required()
def logout():
    """Sign out: the server-side session ends, so a copy of the cookie (or of its CSRF token) opens nothing."""
    if ConfirmForm().validate_on_submit():
        if g.get("user_session_id"):
            sessions.end(g.user_session_id, "logout")
        logout_user()
        forget_login()
        flash(_("로그아웃했습니다."), "info")
    return redirect(url_for("auth.login"))
