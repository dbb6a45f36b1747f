"""The site's reply page (조치 보고, issue 16), public behind its signed link, and the office's review of replies."""
from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from .. import edge
from ..auth import roles_required
from ..services import ServiceError, accounts, checklist, replies, self_checks
from . import refused
from .forms import ConfirmForm

bp = Blueprint("reply", __name__)


def _no_store(resp):
    # The page names a site and its shortfalls: never kept by a browser or a proxy, never sent on as a Referer.
    # (The service worker keeps the self-check page alone, which names only the site and the checklist, on the phone
    # that opened it, so that it opens with no signal: sw.js.)
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


def _dead_link(kind: str):
    phone = current_app.config["TRACKER_OFFICE_PHONE"]
    office = current_app.config["TRACKER_DISTRICT_NAME"]
    who = (_("%(office)s청 콜센터 점검 담당(%(phone)s)", office=office, phone=phone) if phone
           else _("%(office)s청 콜센터 점검 담당", office=office))
    title, message = {
        "expired": (_("링크의 사용 기간이 지났습니다"),
                    _("이 조치 보고 링크는 기간이 지나 더 쓸 수 없습니다. %(who)s에 전화해 새 링크를 받으세요.",
                      who=who)),
        "revoked": (_("구청이 이 링크를 폐기했습니다"),
                    _("이 링크는 더 쓸 수 없습니다. 구청에서 보낸 가장 최근 메일의 링크를 여시거나, %(who)s에 전화해 "
                      "새 링크를 받으세요.", who=who)),
    }.get(kind) or (_("쓸 수 없는 링크입니다"),
                    _("링크가 잘렸거나 바뀌었습니다. 메일의 링크를 그대로 여시거나, %(who)s에 전화해 주세요.", who=who))
    status = 404 if kind == "invalid" else 410
    return _no_store(current_app.make_response(
        (render_template("reply/dead.html", title=title, message=message), status)))


def _page(token: str, site, status: int = 200, errors: dict | None = None, failed_action: int | None = None):
    return _no_store(current_app.make_response((render_template(
        "reply/page.html", site=site, token=token, actions=replies.open_actions(site), form=ConfirmForm(),
        errors=errors or {}, failed_action=failed_action, max_photos=replies.MAX_PHOTOS), status)))


def _site(token: str):
    """(site, None) for a good link, or (None, the page that says why not).

    A forged or mangled link counts as a failed try of the client's address, as a wrong password does (the login
    throttle's table, kept even though the request is refused): guessing links soon has to wait, and so do that
    address's logins."""
    key = accounts.address_key(request.remote_addr)
    wait = accounts.login_wait_seconds(key)
    if wait:
        message = _("시도가 너무 많습니다. %(n)s초 후에 다시 여세요.", n=wait)
        return None, _no_store(current_app.make_response(
            (render_template("reply/dead.html", title=message, message=message), 429)))
    try:
        return replies.read_token(token), None
    except replies.LinkError as exc:
        if exc.kind == "invalid":
            edge.keep(accounts.record_failed_login, key)
        return None, _dead_link(exc.kind)


@bp.route("/r/<link>")
def page(link):
    """The site's open actions, each with a form to say what was done."""
    site, refusal = _site(link)
    return refusal or _page(link, site)


@bp.route("/r/<link>/actions/<int:action_id>", methods=["POST"])
def report(link, action_id):
    """Record one reply: the action becomes reported (조치 보고됨), waiting for the office's review."""
    site, refusal = _site(link)
    if refusal:
        return refusal
    if not ConfirmForm().validate_on_submit():
        return _page(link, site, 400, {"form": _("보안 토큰이 만료되었습니다. 다시 보내세요.")}, action_id)
    photos = [f.read() for f in request.files.getlist("photo") if f and f.filename]
    try:
        replies.reply(site, action_id, request.form.get("note", ""), [p for p in photos if p])
    except ServiceError as exc:
        return _page(link, site, exc.status,
                     exc.errors or {"form": exc.message}, action_id)
    flash(_("조치 보고를 보냈습니다. 구청에서 확인하면 조치 완료로 바뀝니다."), "info")
    return _no_store(redirect(url_for("reply.page", link=link), 303))


def _self_check_page(token: str, site, status: int = 200, errors: dict | None = None, fields: dict | None = None):
    tpl = checklist.current()
    if tpl is None:
        return _no_store(current_app.make_response((render_template("reply/dead.html", title=_(
            "게시된 점검표가 없습니다."), message=_("구청에 전화해 주세요.")), 503)))
    from ..services import inspections
    items = self_checks.items(tpl)
    return _no_store(current_app.make_response((render_template(
        "reply/self_check.html", site=site, token=token, tpl=tpl, groups=inspections.grouped(items),
        n_items=len(items), form=ConfirmForm(), errors=errors or {}, fields=fields or {},
        client_uuid=(fields or {}).get("client_uuid") or inspections.new_client_uuid()), status)))


@bp.route("/r/<link>/self-check", methods=["GET", "POST"])
def self_check(link):
    """The site's weekly self-check (자체점검): the published checklist's phone items, kept apart from inspections."""
    site, refusal = _site(link)
    if refusal:
        return refusal
    if request.method == "GET":
        return _self_check_page(link, site)
    form = request.form
    answers = {k[2:]: v for k, v in form.items() if k.startswith("a-")}
    fields = {"officer_name": form.get("officer_name", ""), "client_uuid": form.get("client_uuid", ""),
              "answers": answers}
    json = "application/json" in request.headers.get("Accept", "")
    if not ConfirmForm().validate_on_submit():
        message = _("보안 토큰이 만료되었습니다. 다시 보내세요.")
        return (_no_store(jsonify(error="csrf", message=message)), 400) if json else \
            _self_check_page(link, site, 400, {"form": message}, fields)
    try:
        self_checks.submit(site, fields["officer_name"], fields["client_uuid"], answers)
    except ServiceError as exc:
        if json:
            return _no_store(jsonify(error="invalid", message=exc.message, errors=exc.errors)), exc.status
        return _self_check_page(link, site, exc.status, {"form": exc.message, **exc.errors}, fields)
    flash(_("자체점검을 보냈습니다. 감사합니다. 구청 점검을 대신하지는 않습니다."), "info")
    done = url_for("reply.page", link=link, sent=fields["client_uuid"])
    return _no_store(jsonify(ok=True, next=done)) if json else _no_store(redirect(done, 303))


@bp.route("/replies")
@roles_required()
def waiting():
    """Replies waiting for review: accept (clears the action) or ask again."""
    from ..extensions import db
    rows = db.session.scalars(replies.waiting_stmt().limit(200)).all()
    return render_template("reply/review.html", rows=rows, form=ConfirmForm())


@bp.route("/replies/<int:reply_id>/<verb>", methods=["POST"])
@roles_required()
def review(reply_id, verb):
    """Accept a site's reply or ask again."""
    if verb not in ("accept", "again"):
        abort(404)
    if ConfirmForm().validate_on_submit():
        try:
            replies.review(reply_id, verb == "accept", current_user)
        except ServiceError as exc:
            refused(exc)
        else:
            flash(_("조치 완료로 처리했습니다.") if verb == "accept" else _("다시 조치를 요청했습니다."), "info")
    return redirect(url_for("reply.waiting"), 303)
