"""The inspector's pages on a phone: this week's sites, the QR entry point, the checklist form and its result."""
import uuid
from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wsgi import wrap_file

from .. import clock
from ..auth import roles_required
from ..extensions import db
from ..masking import mask_email
from ..models import LEADS, MODES, ROLES, Inspection, Site
from ..services import (
    ServiceError,
    checklist,
    documents,
    followups,
    inspections,
    location,
    notices,
    replies,
    retention,
    self_checks,
    sites,
)
from . import log_access
from .consent import state_json
from .forms import ConfirmForm

bp = Blueprint("inspect", __name__)


def _wants_json() -> bool:
    # The form's script asks for JSON; a plain browser POST gets pages and redirects.
    return "application/json" in request.headers.get("Accept", "")


def _modes(tpl) -> list[str]:
    """The modes the template has items for: a mode with nothing to judge is not offered (none without one)."""
    return [m for m in MODES if tpl and any(i.applies_to(m) for i in tpl.items)]


def _no_checklist():
    # `db upgrade` and `seed-demo` publish the default; a database made some other way may have none yet.
    return render_template("error.html", status=503, title=_("게시된 점검표가 없습니다."), message=_(
        "점검표가 게시되어야 점검할 수 있습니다. 관리자에게 점검표 게시를 요청하세요.")), 503


def _render_form(site: Site, mode: str, *, scan_token: str = "", client_uuid: str | None = None,
                 answers: dict | None = None, fields: dict | None = None, errors: dict | None = None,
                 message: str | None = None, status: int = 200, posted_token: str | None = None):
    tpl = checklist.current()
    if tpl is None:
        return _no_checklist()
    modes = _modes(tpl)
    if mode not in modes:
        mode = modes[0]
    items = inspections.items_for(tpl, mode)
    g.csp_blob_images = True  # the photo previews (see security_headers)
    consent = state_json(location.state(current_user)) if mode == "onsite" else None
    # A posted form given back keeps its owner: another inspector's (409) is never re-signed for this login.
    keep_owner = client_uuid and inspections.signed_for_another(posted_token, current_user)
    client_uuid = client_uuid or inspections.new_client_uuid()
    site_answers, site_check = _site_answers(site, mode, answers)
    return render_template(
        "inspect/form.html", site=site, mode=mode, tpl=tpl, groups=inspections.grouped(items), n_items=len(items),
        consent=consent, days=retention.days(retention.POSITIONS),
        other_mode=next((m for m in modes if m != mode), None), client_uuid=client_uuid, scan_token=scan_token,
        form_token=posted_token if keep_owner else inspections.form_token(current_user, client_uuid),
        answers=answers or {k: {"value": v} for k, v in site_answers.items()}, site_answers=site_answers,
        site_check=site_check, fields=fields or {}, errors=errors or {}, message=message), status


def _site_answers(site: Site, mode: str, posted: dict | None) -> tuple[dict, object]:
    """A new phone check starts from the site's own self-check of this ISO week, each answer marked as the site's,
    for the inspector to confirm or change on the call; a form given back keeps what was posted."""
    if mode != "phone" or posted:
        return {}, None
    return self_checks.prefill(site.id, clock.week_of())


def _posted() -> tuple[dict, list, dict]:
    """The multipart form as the service's input: (data, photos, answers for re-display); data["signature"] is the
    officer's drawn 확인 서명, if any."""
    form = request.form
    answers = {k[2:]: {"value": v, "note": form.get("n-" + k[2:], "")} for k, v in form.items() if k.startswith("a-")}
    data = {k: form.get(k) for k in ("mode", "client_uuid", "scan_token", "device_time", "contact_name",
                                     "called_at", "lat", "lng", "location_consent", "note", "form_token",
                                     "offline_qr_token", "offline_scanned_at", "signature")}
    data.update(site_id=request.view_args["site_id"], answers=answers)
    photos = [(k[2:], f.read()) for k, f in request.files.items(multi=True) if k.startswith("p-") and f.filename]
    return data, [p for p in photos if p[1]], answers


@bp.route("/inspect")
@roles_required()
def home():
    """This week's sites of the inspector, done or not yet (?todo=1: not yet only), and the QR scan."""
    week = clock.week_of()
    rows = inspections.week_sites(current_user, week)
    done = sum(1 for _s, i, _o in rows if i)
    todo = request.args.get("todo") == "1"
    return render_template("inspect/home.html", rows=[r for r in rows if not r[1]] if todo else rows, week=week,
                           done=done, total=len(rows), todo=todo, mine=_viewable(rows, week),
                           modes=_modes(checklist.current()), replies_waiting=replies.waiting_count())


def _viewable(rows: list, week: str) -> dict:
    """{site id: the week's latest inspection of it that this user may open}: an inspector opens only their own."""
    if current_user.role in LEADS:
        return {s.id: i for s, i, _o in rows if i}
    own = db.session.execute(inspections.list_stmt(week=week, inspector_id=current_user.id)
                             .with_only_columns(Inspection.site_id, Inspection.id)).all()
    latest: dict = {}
    for site_id, insp_id in own:  # newest first
        latest.setdefault(site_id, insp_id)
    return latest


@bp.route("/s/<token>")
def scan(token):
    """A scanned QR code: a scan record bound to this user and this site, and a 303 to the site's on-site form.

    The form's URL carries the record, never the site's code, and a login on the way carries the code in the
    session, not in `next`. The form's own page is the same for every visit, so a phone can keep it; the record
    travels beside it. The service worker asks for JSON, to learn which form the code opens (and open it offline
    next time)."""
    if not current_user.is_authenticated:
        session["scan_code"] = token
        return redirect(url_for("auth.login", next=url_for("inspect.scan_after_login")))
    return _scanned(token)


scan.required_roles = ROLES  # any signed-in user; it sends anyone else to log in itself, keeping the code aside


@bp.route("/s/")
@roles_required()
def scan_after_login():
    """The code scanned before logging in, kept in the session (once)."""
    token = session.pop("scan_code", None)
    return _scanned(token) if token else redirect(url_for("inspect.home"))


def _scanned(token: str):
    site = sites.find_by_code(token)
    if site is None:
        return render_template("error.html", status=404, title=_("사용할 수 없는 QR 코드"), message=_(
            "이 QR 코드는 더 이상 유효하지 않습니다. 새 코드가 발급되었을 수 있습니다. "
            "팀장에게 새 QR 코드를 요청하세요.")), 404
    if site.status != "active":
        return _closed(site)
    proof = inspections.scan_token(site, current_user)
    if _wants_json():
        resp = jsonify(form=url_for("inspect.form", site_id=site.id, mode="onsite"), scan=proof)
    else:
        resp = redirect(url_for("inspect.form", site_id=site.id, mode="onsite", scan=proof), 303)
    resp.headers["Cache-Control"] = "no-store"  # a proof of one visit, never to be replayed from a cache
    return resp


def _scan_proof(site: Site) -> str:
    """The signed scan in the form's URL, when it is this user's, this site's and still fresh; empty otherwise."""
    proof = request.args.get("scan", "")
    try:
        return proof if proof and inspections.read_scan_token(proof, site.id, current_user.id) else ""
    except ServiceError:
        return ""


@bp.route("/inspect/form-token")
@roles_required()
def form_token():
    """A form's signed owner for a client_uuid the phone made itself (a kept form opened again): this user's."""
    try:
        client_uuid = str(uuid.UUID(request.args.get("client_uuid", "")))
    except ValueError:
        return jsonify(error="invalid", message=_("client_uuid가 UUID 형식이 아닙니다")), 422
    resp = jsonify(client_uuid=client_uuid, form_token=inspections.form_token(current_user, client_uuid))
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _closed(site):
    return render_template("error.html", status=410, title=_("폐업한 사업장"), message=_(
        "%(name)s은(는) 폐업 처리되어 점검할 수 없습니다.", name=site.name)), 410


@bp.route("/inspect/sites/<int:site_id>", methods=["GET"])
@roles_required()
def form(site_id):
    """The checklist form opened from the list: on site (without a scan) or by phone."""
    site = db.get_or_404(Site, site_id)
    if site.status != "active":
        return _closed(site)
    mode = request.args.get("mode", "onsite")
    return _render_form(site, mode, scan_token=_scan_proof(site) if mode == "onsite" else "")


@bp.route("/inspect/sites/<int:site_id>/contact")
@roles_required()
def contact(site_id):
    """The site's prevention officer, fetched live by the phone form: kept forms hold no one's name or number."""
    site = db.get_or_404(Site, site_id)
    if site.status != "active":  # no form calls a closed site: its officer stays masked until retention blanks it
        message = _("%(name)s은(는) 폐업 처리되어 점검할 수 없습니다.", name=site.name)
        return jsonify(error="closed", message=message), 410
    if site.manager_name or site.manager_phone:
        log_access("view", {"site": site.id, "page": "phone"})
    resp = jsonify(name=site.manager_name or "", phone=site.manager_phone or "")
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.route("/inspect/sites/<int:site_id>", methods=["POST"])
@roles_required()
def submit(site_id):
    """Save the inspection (a replay returns the saved one), then show its result."""
    site = db.get_or_404(Site, site_id)
    data, photos, answers = _posted()
    try:
        insp, created = inspections.submit(data, by=current_user, photos=photos, require_form_token=True,
                                           signature=data.pop("signature"))
    except ServiceError as exc:
        if _wants_json():
            error = "unavailable" if exc.status == 503 else "invalid"  # 503: not the inspection's fault; retry
            return jsonify(error=error, message=exc.message, errors=exc.errors), exc.status
        mode = data["mode"] if data["mode"] in MODES else "onsite"
        uuid = None if "client_uuid" in exc.errors else data["client_uuid"]
        return _render_form(site, mode, scan_token=data["scan_token"] or "", client_uuid=uuid, answers=answers,
                            fields=data, errors=exc.errors, message=exc.message, status=exc.status,
                            posted_token=data["form_token"])
    url = url_for("inspect.detail", inspection_id=insp.id, saved=1)  # the result page then says it was saved
    if _wants_json():
        return jsonify(id=insp.id, created=created, url=url), 201 if created else 200
    return redirect(url, 303)


@bp.route("/inspections/<int:inspection_id>")
@roles_required()
def detail(inspection_id):
    """One inspection: failed items (critical first), passed ones, photos. Inspectors see their own."""
    insp = _viewable_inspection(inspection_id)
    if insp.lat is not None:  # the page shows where the inspector stood
        log_access("view", {"inspection": insp.id, "site": insp.site_id})
    doc = documents.inspection_html(insp, lambda sha: url_for("inspect.photo", sha=sha))
    return render_template("inspect/result.html", insp=insp, r=inspections.result(insp),
                           follow=followups.of(insp), saved=request.args.get("saved") == "1",
                           mode_label=inspections.mode_label(insp.mode), doc=doc, notice=notices.of(insp.id),
                           mask_email=mask_email, form=ConfirmForm())


@bp.route("/inspections/<int:inspection_id>/notice/<verb>", methods=["POST"])
@roles_required()
def notice(inspection_id, verb):
    """Hold the inspection's result notice before it leaves, or let a held one go (its inspector or a lead)."""
    insp = _viewable_inspection(inspection_id)
    if verb not in ("hold", "release"):
        abort(404)
    if ConfirmForm().validate_on_submit():
        if getattr(notices, verb)(insp.id, by=current_user):
            flash(_("결과 통보를 보류했습니다. 보내지 않습니다.") if verb == "hold" else
                  _("보류를 풀었습니다. 결과 통보를 곧 보냅니다."), "info")
        else:
            flash(_("이미 보냈거나 보내는 중인 통보는 바꿀 수 없습니다."), "error")
    return redirect(url_for("inspect.detail", inspection_id=insp.id) + "#notice", 303)


def _viewable_inspection(inspection_id: int):
    insp = inspections.get(inspection_id) or abort(404)
    if not inspections.can_view(current_user, insp):
        abort(403)
    return insp


@bp.route("/inspections/<int:inspection_id>/report.pdf")
@roles_required()
def report_pdf(inspection_id):
    """The 점검 결과서 as an A4 PDF, for whoever may open the inspection."""
    insp = _viewable_inspection(inspection_id)
    name = documents.pdf_filename(insp)
    resp = Response(documents.inspection_pdf(insp), mimetype="application/pdf")
    resp.headers["Content-Disposition"] = f"inline; filename=\"report-{insp.id}.pdf\"; filename*=UTF-8''{quote(name)}"
    return resp


@bp.route("/photos/<sha>.jpg")
@roles_required()
def photo(sha):
    """A stored photo, only for users who may see an inspection that holds it."""
    if len(sha) != 64 or not all(c in "0123456789abcdef" for c in sha):
        abort(404)
    if not inspections.photo_visible(current_user, sha):
        abort(404)
    stored = inspections.open_photo(sha) or abort(404)
    # Streamed from the store through the app, after the permission check: the store is never public.
    resp = Response(wrap_file(request.environ, stored.body), mimetype="image/jpeg", direct_passthrough=True)
    resp.content_length = stored.size
    resp.headers["Cache-Control"] = "private, no-store"  # a shared phone keeps no one's photos
    return resp


@bp.app_context_processor
def _mode_label():
    return {"mode_label": inspections.mode_label}


def rescue_expired_form():
    """When the CSRF token of an inspection form expired, give the form back with its answers (None otherwise)."""
    if request.endpoint != "inspect.submit" or not current_user.is_authenticated:
        return None
    if _wants_json():
        return jsonify(error="csrf", message=_("보안 토큰이 만료되었습니다. 새 토큰으로 다시 보내세요.")), 400
    site = db.session.get(Site, request.view_args["site_id"])
    if site is None:
        return None
    data, _photos, answers = _posted()
    mode = data["mode"] if data["mode"] in MODES else "onsite"
    return _render_form(site, mode, scan_token=data["scan_token"] or "", client_uuid=data["client_uuid"],
                        answers=answers, fields=data, status=400, posted_token=data["form_token"], message=_(
                            "보안 토큰이 만료되어 아직 저장하지 않았습니다. 입력한 답은 그대로 두었습니다. "
                            "사진을 첨부했다면 다시 첨부한 뒤 제출을 누르세요."))
