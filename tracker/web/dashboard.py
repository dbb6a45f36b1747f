"""The landing page, the lead's compliance dashboard, its exports and the council report."""
from datetime import timedelta

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from .. import clock, district
from ..auth import roles_required
from ..models import LEADS
from ..services import ServiceError, documents, reports, self_checks, sites, summary
from . import ask_reason, export_reason, log_access
from .downloads import MIME, download
from .trend_chart import trend_chart

bp = Blueprint("dashboard", __name__)


@bp.route("/")
@roles_required()
def home():
    """Inspectors land on this week's sites; leads and admins on the dashboard."""
    if current_user.role == "inspector":
        return redirect(url_for("inspect.home"))
    return redirect(url_for("dashboard.overview"))


DEFAULT_WEEKS = 12  # the dashboard's period when none is asked for: a trend, not one dot


def _period(whole_programme: bool = False) -> tuple[str, str, str | None]:
    """from/to/dong from the query string; a wrong value is named in a message and the default is used.

    The default is the last 12 weeks to this week, or for the council report the programme so far: its first to its
    last inspected week.
    """
    args = request.args
    first, last = args.get("from"), args.get("to")
    if not first and not last:
        first, last = _default_period(whole_programme)
    try:
        return summary.parse_params(first, last, args.get("dong"))
    except ServiceError as exc:
        flash(exc.message, "error")
        return summary.parse_params(*_default_period(whole_programme), None)


def _default_period(whole_programme: bool) -> tuple[str, str]:
    this_week = clock.week_of()
    if whole_programme:
        return summary.programme_period() or (this_week, this_week)
    return clock.add_weeks(this_week, 1 - DEFAULT_WEEKS), this_week


@bp.route("/dashboard")
@roles_required(*LEADS)
def overview():
    """Compliance for a week or a range of weeks, optionally one dong."""
    first, last, dong = _period()
    s = summary.compute(first, last, dong)
    return render_template("dashboard/overview.html", s=s, charts=[("wide", trend_chart(s["weeks"])),
                                                                   ("compact", trend_chart(s["weeks"], 360, 260))],
                           incidents=summary.incidents(first, last, dong), district=district.current(),
                           self_checks=self_checks.count(first, last, dong),
                           lowest_n=summary.LOWEST_SITES, lowest_weeks=summary.LOWEST_SITES_WEEKS,
                           filters={"from": first, "to": last, "dong": dong or ""}, this_week=clock.week_of(),
                           default_weeks=DEFAULT_WEEKS, prev_week=clock.add_weeks(last, -1),
                           next_week=clock.add_weeks(last, 1))


@bp.route("/dashboard/export/<what>.<fmt>")
@roles_required(*LEADS)
def export(what, fmt):
    """Inspections with their answers, or actions, as CSV (UTF-8 with BOM) or XLSX, with the page's filters. The
    inspections name their inspectors: their reason (사유) comes first, and the download is logged with it."""
    if what not in ("inspections", "actions") or fmt not in MIME:
        abort(404)
    first, last, dong = _period()
    if what == "inspections":
        reason = export_reason()
        if reason is None:
            return ask_reason(gettext("점검 결과 내려받기"))
        filters = {"from": first, "to": last} | ({"dong": dong} if dong else {})
        log_access("export", {"export": "inspections", "format": fmt, "filters": filters,
                              "rows": reports.inspection_count(first, last, dong)}, reason)
    body = reports.dashboard_export(what, fmt, first, last, dong)
    name = f"{what}_{first}_{last}{'_' + dong if dong else ''}.{fmt}"
    return download(body, fmt, name)


@bp.route("/reports/council")
@roles_required(*LEADS)
def council():
    """The council report's tables for a period, printable on A4."""
    return render_template("reports/council.html", **_council_context(gettext))


def _council_context(translate) -> dict:
    """What the council report shows, for the page and its PDF; translate turns the tables' labels."""
    first, last, _dong = _period(whole_programme=True)
    s = summary.compute(first, last)
    counts = sites.counts()
    # The period's first Monday to its last Sunday: "2020-W23" alone does not tell a reader when the week ended.
    days = (clock.week_monday(first), clock.week_monday(last) + timedelta(days=6))
    return {"s": s, "counts": counts, "printed_on": clock.today(), "days": days,
            # The sites' own checks, counted apart: never an inspection, on site or by phone.
            "self_checks": self_checks.count(first, last),
            "tables": reports.council_tables(s, counts, translate), "filters": {"from": first, "to": last}}


@bp.route("/reports/council.pdf")
@roles_required(*LEADS)
def council_pdf():
    """The council report as an A4 PDF, from the page's own partial, in the council's Korean."""
    ctx = _council_context(str)
    name = f"council_{ctx['filters']['from']}_{ctx['filters']['to']}.pdf"
    return Response(documents.council_pdf(ctx), mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}"'})


@bp.route("/reports/council.xlsx")
@roles_required(*LEADS)
def council_xlsx():
    """The council report's tables as XLSX."""
    first, last, _dong = _period(whole_programme=True)
    body = reports.council_xlsx(summary.compute(first, last), sites.counts())
    return download(body, "xlsx", f"council_{first}_{last}.xlsx")


@bp.app_template_filter("pct")
def pct(value):
    """A rate in per cent, or a dash when nothing applied."""
    return "–" if value is None else f"{value:.1f}%"
