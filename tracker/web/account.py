"""내 정보: the user's own password, logins, API tokens and two-factor login.

The page is a list of sections (SECTIONS). A feature adds its own by appending (template, context function) there:
the template is included on /me with whatever the function returns for the user.
"""
from flask import (
    Blueprint,
    flash,
    g,
    has_request_context,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from .. import clock, edge
from ..auth import api_roles, roles_required, start_login, uses_bearer
from ..extensions import db
from ..services import ServiceError, accounts, sessions, totp
from .forms import ConfirmForm, PasswordChangeForm, TotpEnrolForm, TotpOffForm

bp = Blueprint("account", __name__, url_prefix="/me")
NEW_SECRET = "totp_new"  # the secret being enrolled, until a code made from it is entered


def _password_section(user):
    return {"password_form": PasswordChangeForm()}


def _sessions_section(user):
    return {"user_sessions": db.session.scalars(sessions.active_stmt(user)).all(),
            "this_session": g.get("user_session_id"), "end_form": ConfirmForm()}


def _tokens_section(user):
    return {"tokens": db.session.scalars(sessions.tokens_stmt(user)).all(), "end_form": ConfirmForm()}


def _totp_section(user):
    return {"totp_on": bool(user.totp_secret), "totp_required": totp.required(user),
            "codes_left": totp.recovery_codes_left(user) if user.totp_secret else 0, "totp_off_form": TotpOffForm()}


def _no_data(user):
    return {}


# (template, context function), in the page's order. Reminder opt-outs and other features add theirs here.
SECTIONS = [
    ("account/_password.html", _password_section),
    ("account/_sessions.html", _sessions_section),
    ("account/_tokens.html", _tokens_section),
    ("account/_totp.html", _totp_section),
    ("account/_location.html", _no_data),  # a link to /me/location, where location consent is given or withdrawn
    ("account/_reminders.html", _no_data),  # the reminders' two switches, kept on /me/reminders
]


@bp.route("")
@roles_required()
def me():
    """The user's own page, one section after another."""
    user = current_user._get_current_object()
    sections = [(tpl, fn(user)) for tpl, fn in SECTIONS]
    return render_template("account/me.html", sections=sections)


@bp.route("/password", methods=["GET", "POST"])
@roles_required()
def password():
    """Change one's own password, given the current one; every other login and API token ends."""
    form, status = PasswordChangeForm(), 200
    if form.validate_on_submit():
        key = f"password|{current_user.id}"
        try:
            _change(form, key)
        except ServiceError as exc:
            edge.undo()
            if exc.status == 401:  # guessing the password from an open session is slowed down too
                edge.keep(accounts.record_failed_login, key)
            field = form.old if exc.status in (401, 429) else form.new
            field.errors = list(field.errors) + [exc.message]
            status = 422
        else:
            flash(_("비밀번호를 바꿨습니다. 다른 기기의 로그인과 API 토큰은 모두 끝났습니다."), "info")
            return redirect(url_for("account.me"))
    elif request.method == "POST":
        status = 422
    return render_template("account/password.html", form=form), status


def _change(form, key):
    wait = accounts.login_wait_seconds(key)
    if wait:
        raise ServiceError(_("실패가 반복되었습니다. %(n)s초 후에 다시 시도하세요.", n=wait), status=429)
    if form.new.data != form.confirm.data:
        raise ServiceError(_("새 비밀번호 두 칸이 서로 다릅니다."))
    user = current_user._get_current_object()
    accounts.change_password(user, form.old.data, form.new.data)
    start_login(user, request.user_agent.string, request.remote_addr)  # this browser goes on, under a new session


@bp.route("/sessions/<int:session_id>/end", methods=["POST"])
@roles_required()
def end_session(session_id):
    """End one of the user's logins on another device."""
    if ConfirmForm().validate_on_submit() and session_id != g.get("user_session_id"):
        if sessions.end(session_id, "ended", user_id=current_user.id):
            flash(_("그 기기의 로그인을 끝냈습니다."), "info")
    return redirect(url_for("account.me"))


@bp.route("/tokens/<int:token_id>/end", methods=["POST"])
@roles_required()
def end_token(token_id):
    """Revoke one of the user's API tokens."""
    if ConfirmForm().validate_on_submit() and sessions.end_token(current_user, token_id):
        flash(_("API 토큰을 폐기했습니다."), "info")
    return redirect(url_for("account.me"))


@bp.route("/totp", methods=["GET", "POST"])
@roles_required()
def totp_enrol():
    """Enrol an authenticator app: scan the QR code, enter a code; the recovery codes are shown once."""
    user = current_user._get_current_object()
    if user.totp_secret:
        return redirect(url_for("account.me"))
    secret = session.get(NEW_SECRET) or totp.new_secret()
    session[NEW_SECRET] = secret
    form, status = TotpEnrolForm(), 200
    if form.validate_on_submit():
        try:
            codes = totp.enrol(user, secret, form.code.data)
        except ServiceError as exc:
            form.code.errors = [exc.message]
            status = 422
        else:
            session.pop(NEW_SECRET, None)
            # A login someone else may hold (a phone left signed in, a copied cookie) is not let past the new
            # second step: every other browser login ends, and this one goes on.
            ended = sessions.end_others(user, g.get("user_session_id"), "totp_on")
            return render_template("account/recovery_codes.html", codes=codes, ended=ended)
    elif request.method == "POST":
        status = 422
    uri = totp.provisioning_uri(user, secret)
    return render_template("account/totp.html", form=form, qr=totp.qr_svg(uri), secret=secret,
                           required=totp.required(user)), status


@bp.route("/totp/off", methods=["POST"])
@roles_required()
def totp_off():
    """Turn two-factor login off, given the password (not for a role that requires it)."""
    form = TotpOffForm()
    if form.validate_on_submit():
        try:
            totp.disable(current_user._get_current_object(), form.password.data)
        except ServiceError as exc:
            edge.undo()
            flash(exc.message, "error")
        else:
            flash(_("2단계 인증을 껐습니다."), "info")
    return redirect(url_for("account.me"))


# --- the idle warning (KWCAG 2.2 / WCAG 2.2.1 Timing Adjustable): static/js/idle.js asks and extends ---------

def _idle_left() -> int | None:
    """Seconds until this browser's login ends unless used, or None when it is not a cookie login."""
    # Mail and PDFs are rendered outside a request (a job, the submit's notice): no login, no limit.
    ends = g.get("idle_ends_at") if has_request_context() and current_user.is_authenticated else None
    return None if ends is None else max(0, int((ends - clock.now()).total_seconds()))


@bp.app_context_processor
def idle_limit():
    """Every signed-in page tells idle.js its role's limit and what is left of it (base.html's #idle-dialog)."""
    left = _idle_left()
    if left is None:
        return {}
    return {"idle_limit": int(sessions.idle_timeout(current_user.role).total_seconds()), "idle_left": left}


def _ended():
    return jsonify(error="authentication required", message=_("로그인이 끝났습니다. 다시 로그인하세요.")), 401


@bp.route("/idle")
@api_roles()  # a script asks: 401 JSON, not the login page's redirect
def idle():
    """How long this login has left, without counting as its use (auth.UNTOUCHED_ENDPOINTS); 401 once ended. The
    warning asks before it shows, so that another tab's or a script's requests are taken into account."""
    left = _idle_left()
    return _ended() if left is None else jsonify(left=left)


@bp.route("/keepalive", methods=["POST"])
@api_roles()
def keepalive():
    """계속 사용: the login counts as used now, even if a request touched it less than a minute ago; 204, or 401
    once it has ended (JSON, not the login page's redirect: the caller is a script)."""
    if not current_user.is_authenticated or g.get("user_session_id") is None:  # the first loads the login
        return _ended()
    sessions.touch(g.user_session_id)
    return "", 204


# Where a user who must first change their password or enrol TOTP may still go.
OPEN_ENDPOINTS = {"account.password", "account.totp_enrol", "account.idle", "account.keepalive", "auth.logout",
                  "auth.login", "auth.login_code", "static", "health.healthz", "api_docs.openapi",
                  "pwa.service_worker", "pwa.manifest", "pwa.offline"}


def pending_step(user) -> str | None:
    """The page a logged-in user must finish before any other: a new password after a reset, or TOTP enrolment
    when their role requires it."""
    if user.must_change_password:
        return "account.password"
    if totp.required(user) and not user.totp_secret:
        return "account.totp_enrol"
    return None


def gate():
    """Before every request: send a user with a pending step to it. The API answers 401, which the phone's outbox
    treats as "log in again" and keeps its queue."""
    if request.endpoint in OPEN_ENDPOINTS or not current_user.is_authenticated or uses_bearer():
        return None
    step = pending_step(current_user)
    if step is None:
        return None
    if request.path.startswith("/api/"):
        return jsonify(error="step_required", message=_("먼저 비밀번호를 바꾸거나 2단계 인증을 등록하세요.")), 401
    if request.method == "GET":
        flash(_("새 비밀번호를 정하세요.") if step == "account.password"
              else _("이 역할은 2단계 인증을 써야 합니다. 인증 앱을 등록하세요."), "warn")
    return redirect(url_for(step))
