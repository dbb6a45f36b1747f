"""Login, logout and the language switch."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from .. import edge
from ..auth import roles_required
from ..services import ServiceError, accounts
from .forms import ConfirmForm, LoginForm

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
    """Sign in with e-mail and password; repeated failures are slowed down."""
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
            login_user(user)
            return redirect(_safe_next(request.args.get("next")) or url_for("dashboard.home"))
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@roles_required()
def logout():
    """Sign out."""
    if ConfirmForm().validate_on_submit():
        logout_user()
        flash(_("로그아웃했습니다."), "info")
    return redirect(url_for("auth.login"))
