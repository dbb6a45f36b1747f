"""The register: list with council tables, site pages, edits, QR codes, import and export."""
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from wtforms import SelectChoice

from .. import district
from ..auth import roles_required
from ..extensions import db
from ..masking import mask_email, mask_name, mask_phone
from ..models import LEADS, Inspection, Site
from ..services import ServiceError, audit, inspections, replies, reports, schedule, site_import, sites
from . import ask_reason, export_reason, form_status, log_access, page_arg, refused
from .downloads import download
from .forms import ConfirmForm, ImportForm, SiteForm

bp = Blueprint("sites", __name__, url_prefix="/sites")
PER_PAGE = 25
HISTORY_SHORT, HISTORY_ALL = 10, 500


def _filters() -> dict:
    args = request.args
    return {k: (args.get(k) or None) for k in ("dong", "band", "status", "q", "no_email")}


@bp.route("/")
@roles_required()
def index():
    """The register, filtered and paged, under the report's two tables."""
    filters = _filters()
    page = db.paginate(sites.list_stmt(**filters), page=page_arg(),
                       per_page=PER_PAGE, error_out=False)
    return render_template("sites/index.html", page=page, filters=filters, counts=sites.counts(),
                           args={k: v for k, v in filters.items() if v},
                           district=district.current(), can_edit=current_user.role in LEADS,
                           without_email=sites.count_without_email() if current_user.role in LEADS else 0)


def _get(site_id: int) -> Site:
    return db.get_or_404(Site, site_id)


@bp.route("/<int:site_id>")
@roles_required()
def detail(site_id):
    """One site: details, QR code, and what changed when."""
    site = _get(site_id)
    history = db.session.scalars(audit.history_stmt("site", site.id).limit(50)).all()
    extra = schedule.site_panel(site)
    if current_user.role in LEADS:
        # A phone shows the last ten; the whole history is one tap away.
        limit = HISTORY_ALL if request.args.get("history") == "all" else HISTORY_SHORT
        extra["inspection_history"] = db.session.scalars(
            inspections.list_stmt(site_id=site.id).limit(limit)).all()
        extra["inspection_count"] = db.session.scalar(
            select(func.count()).select_from(Inspection).where(Inspection.site_id == site.id))
    full = current_user.role in LEADS  # inspectors call from the phone-monitoring form, which shows the number
    if full and _shows_officer(site, history):
        log_access("view", {"site": site.id})
    return render_template("sites/detail.html", site=site, history=history, form=ConfirmForm(),
                           short_code=sites.short_code(site), qr_url=sites.qr_url(site), full=full,
                           officer=_officer(site, full), can_edit=current_user.role in LEADS, **extra)


def _shows_officer(site: Site, history: list) -> bool:
    """Whether the page shows the officer's name, phone or e-mail: today's, or an earlier one in the change history."""
    fields = ("manager_name", "manager_phone", "manager_email")
    return any(getattr(site, f) for f in fields) or any(
        (a.before or {}).get(f) or (a.after or {}).get(f) for a in history for f in fields)


def _officer(site: Site, full: bool) -> dict:
    """The prevention officer's name, phone and e-mail as this reader may see them."""
    if full:
        return {"name": site.manager_name, "phone": site.manager_phone, "email": site.manager_email}
    return {"name": mask_name(site.manager_name), "phone": mask_phone(site.manager_phone),
            "email": mask_email(site.manager_email)}


def _site_form(site: Site | None = None) -> SiteForm:
    form = SiteForm(obj=site)
    form.dong.choices = [SelectChoice("", _("선택")), *district.current().dongs]
    return form


def _save(form: SiteForm, site: Site | None):
    data = {f: getattr(form, f).data for f in sites.FIELDS} | {"self_check": form.self_check.data}
    try:
        if site is None:
            site = sites.create_site(data, by=current_user)
        else:
            sites.update_site(site, data, by=current_user)
    except ServiceError as exc:
        for f, msg in exc.errors.items():
            getattr(form, f).errors = list(getattr(form, f).errors) + [msg]
        return None
    return site


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*LEADS)
def create():
    """Register a new site."""
    form = _site_form()
    if form.validate_on_submit() and (site := _save(form, None)):
        flash(_("사업장을 등록했습니다."), "info")
        return redirect(url_for("sites.detail", site_id=site.id))
    return render_template("sites/form.html", form=form, site=None), form_status()


@bp.route("/<int:site_id>/edit", methods=["GET", "POST"])
@roles_required(*LEADS)
def edit(site_id):
    """Edit a site; its band follows the head count."""
    site = _get(site_id)
    form = _site_form(site)
    if form.validate_on_submit() and _save(form, site):
        flash(_("저장했습니다."), "info")
        return redirect(url_for("sites.detail", site_id=site.id))
    if request.method == "GET" and (site.manager_name or site.manager_phone):
        log_access("view", {"site": site.id, "page": "edit"})
    return render_template("sites/form.html", form=form, site=site), form_status()


@bp.route("/<int:site_id>/status", methods=["POST"])
@roles_required(*LEADS)
def set_status(site_id):
    """Close or reopen a site."""
    site = _get(site_id)
    if ConfirmForm().validate_on_submit():
        try:
            sites.set_status(site, request.form.get("status", ""), by=current_user)
        except ServiceError as exc:
            refused(exc)
        else:
            flash(_("폐업 처리했습니다.") if site.status == "closed" else _("다시 운영 중으로 바꿨습니다."), "info")
    return redirect(url_for("sites.detail", site_id=site.id))


@bp.route("/<int:site_id>/rotate-qr", methods=["POST"])
@roles_required(*LEADS)
def rotate_qr(site_id):
    """Issue a new QR token; the old printed code stops working."""
    site = _get(site_id)
    if ConfirmForm().validate_on_submit():
        sites.rotate_token(site, by=current_user)
        flash(_("QR 코드를 새로 발급했습니다. 예전 코드는 더 이상 쓸 수 없습니다. 새 코드를 인쇄해 붙이세요."), "info")
    return redirect(url_for("sites.detail", site_id=site.id))


@bp.route("/<int:site_id>/revoke-links", methods=["POST"])
@roles_required(*LEADS)
def revoke_links(site_id):
    """End every reply link the site has been given (조치 보고 and 자체점검); mail not yet sent gets a new one."""
    site = _get(site_id)
    if ConfirmForm().validate_on_submit():
        relinked = replies.revoke(site, by=current_user)
        flash(_("이 사업장에 보낸 회신 링크를 모두 폐기했습니다. 아직 보내지 않은 메일 %(n)s건에는 새 링크를 "
                "넣었습니다.", n=relinked) if relinked else
              _("이 사업장에 보낸 회신 링크를 모두 폐기했습니다. 새 링크는 다음 결과 통보나 자체점검 요청 메일에 "
                "들어갑니다."), "info")
    return redirect(url_for("sites.detail", site_id=site.id))


@bp.route("/<int:site_id>/qr.<fmt>")
@roles_required(*LEADS)
def qr(site_id, fmt):
    """The site's QR code as SVG or PNG."""
    site = _get(site_id)
    if fmt == "svg":
        return Response(sites.qr_svg(site), mimetype="image/svg+xml")
    if fmt == "png":
        return Response(sites.qr_png(site), mimetype="image/png",
                        headers={"Content-Disposition": f'inline; filename="qr-{site.id}.png"'})
    abort(404)


@bp.route("/qr-sheet")
@roles_required(*LEADS)
def qr_sheet():
    """A printable A4 sheet with every active site's code."""
    active = db.session.scalars(sites.list_stmt(status="active", dong=request.args.get("dong") or None)).all()
    return render_template("sites/qr_sheet.html", sites=active, short_code=sites.short_code)


@bp.route("/import", methods=["GET", "POST"])
@roles_required(*LEADS)
def upload():
    """Upload a CSV or XLSX register; preview first, then import all or nothing."""
    form = ImportForm()
    report, error = None, None
    if form.validate_on_submit():
        dry = form.dry_run.data or request.form.get("action") == "preview"
        f = form.file.data
        try:
            report = site_import.import_sites(f.read(), f.filename or "", by=current_user, dry_run=dry)
        except ServiceError as exc:
            error = exc.message
        if report is not None and report.ok and not dry:
            flash(_("가져오기를 마쳤습니다: 새로 %(c)s곳, 변경 %(u)s곳, 그대로 %(n)s곳.",
                    c=len(report.created), u=len(report.updated), n=report.unchanged), "info")
            return redirect(url_for("sites.index"))
    status = 422 if (error or (report and not report.ok)) else 200
    if report is not None and report.officers_shown:
        # The preview shows each changed officer field as stored → as uploaded: the stored values are a view.
        log_access("view", {"sites": report.officers_shown, "page": "import"})
    return render_template("sites/import.html", form=form, report=report, error=error), status


@bp.route("/export.<fmt>")
@roles_required()
def export(fmt):
    """The register, with the list's filters, as XLSX or CSV: masked, or in full (full=1, leads) for re-import.
    The reason (사유) comes first, and the download is logged with it."""
    if fmt not in ("xlsx", "csv"):
        abort(404)
    full = request.args.get("full") == "1"
    if full and current_user.role not in LEADS:
        abort(403)
    reason = export_reason()
    if reason is None:
        return ask_reason(_("사업장 목록 내려받기"), offer_full=current_user.role in LEADS)
    filters = _filters()
    log_access("download" if full else "export",
               {"export": "register", "format": fmt, "filters": {k: v for k, v in filters.items() if v},
                "rows": reports.register_count(**filters), "full": full}, reason)
    return download(reports.register_export(fmt, full, **filters), fmt, f"sites{'-full' if full else ''}.{fmt}")


@bp.route("/code", methods=["GET"])
@roles_required()
def by_code():
    """Open a site from the short code typed by hand under its QR."""
    site = sites.find_by_code(request.args.get("code", ""))
    if site is None:
        flash(_("그 코드의 사업장이 없습니다. 코드를 다시 확인하세요."), "error")
        # Back to the inspector's list, where the code is typed: never to wherever the Referer header points.
        return redirect(url_for("inspect.home"))
    return redirect(url_for("inspect.scan", token=site.qr_token))
