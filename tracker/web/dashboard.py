"""The landing page, the lead's compliance dashboard, its exports and the council report."""
from datetime import timedelta

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from .. import clock, district
from ..auth import roles_required
from ..services import ServiceError, reports, sites, summary

bp = Blueprint("dashboard", __name__)
LEADS = ("lead", "admin")
MIME = {"csv": "text/csv; charset=utf-8",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


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


def trend_chart(weeks: list[dict], width: int = 960, height: int = 280) -> dict:
    """Geometry of the weekly trend, drawn as SVG by the template: two panels on one week axis.

    The compliance rate has its own panel scaled to its range in the period (it sits at 97-99 % in practice, a flat
    line on a 0-100 axis), with gridlines at its lowest and highest week, labelled; the inspections are bars from 0
    in the panel below, with gridlines at 0 and at the busiest week.
    """
    left, right = 76, 14
    rate_top, rate_h = 24, round(height * 0.3)
    bar_top = rate_top + rate_h + 34
    base = height - 26
    pw = width - left - right
    n = max(1, len(weeks))
    step = pw / n
    rates = [w["compliance_rate"] for w in weeks if w["compliance_rate"] is not None]
    lo, hi = (min(rates), max(rates)) if rates else (0.0, 100.0)
    pad = max(0.5, (hi - lo) * 0.15)  # keeps the line off the panel's edges
    d_lo, d_hi = lo - pad, hi + pad

    def rate_y(v):
        return round(rate_top + rate_h * (d_hi - v) / (d_hi - d_lo), 1)
    peak = max([w["inspections"] for w in weeks] + [1])
    bars, dots, labels = [], [], []
    every = max(1, -(-n // (8 if width >= 600 else 5)))
    for i, w in enumerate(weeks):
        x = left + i * step
        bh = (base - bar_top) * w["inspections"] / peak
        bw = min(step * 0.7, 40)
        bars.append({"x": round(x + (step - bw) / 2, 1), "y": round(base - bh, 1), "w": round(bw, 1),
                     "h": round(bh, 1), "week": w["week"], "n": w["inspections"]})
        if w["compliance_rate"] is not None:
            dots.append({"x": round(x + step / 2, 1), "y": rate_y(w["compliance_rate"]), "week": w["week"],
                         "rate": w["compliance_rate"]})
        if (n - 1 - i) % every == 0:  # counted back from the last week, so that it is always labelled
            labels.append({"x": round(x + step / 2, 1), "text": w["week"][5:] if n > 1 else w["week"]})
    if not rates:
        rate_grid = []
    elif lo == hi:
        rate_grid = [{"y": rate_y(hi), "v": hi, "kind": "only"}]
    else:
        rate_grid = [{"y": rate_y(hi), "v": hi, "kind": "max"}, {"y": rate_y(lo), "v": lo, "kind": "min"}]
    return {"width": width, "height": height, "left": left, "right": width - right,
            "rate_top": rate_top, "rate_bottom": rate_top + rate_h, "rate_grid": rate_grid,
            "bar_top": bar_top, "base": base, "peak": peak, "bars": bars, "labels": labels, "dots": dots,
            "points": " ".join(f"{d['x']},{d['y']}" for d in dots)}


@bp.app_template_global()
def rate_floor(rates) -> int:
    """Where the rate bars start: the tens below the lowest rate shown, at most 90, so that 97 % and 100 % differ."""
    vals = [r for r in rates if r is not None]
    return min(90, int(min(vals) // 10) * 10) if vals else 0


@bp.route("/dashboard")
@roles_required(*LEADS)
def overview():
    """Compliance for a week or a range of weeks, optionally one dong."""
    first, last, dong = _period()
    s = summary.compute(first, last, dong)
    return render_template("dashboard/overview.html", s=s, charts=[("wide", trend_chart(s["weeks"])),
                                                                   ("compact", trend_chart(s["weeks"], 360, 260))],
                           incidents=summary.incidents(first, last, dong), district=district.current(),
                           lowest_n=summary.LOWEST_SITES, lowest_weeks=summary.LOWEST_SITES_WEEKS,
                           filters={"from": first, "to": last, "dong": dong or ""}, this_week=clock.week_of(),
                           default_weeks=DEFAULT_WEEKS, prev_week=clock.add_weeks(last, -1),
                           next_week=clock.add_weeks(last, 1))


@bp.route("/dashboard/export/<what>.<fmt>")
@roles_required(*LEADS)
def export(what, fmt):
    """Inspections with their answers, or actions, as CSV (UTF-8 with BOM) or XLSX, with the page's filters."""
    if what not in ("inspections", "actions") or fmt not in MIME:
        abort(404)
    first, last, dong = _period()
    body = reports.dashboard_export(what, fmt, first, last, dong)
    name = f"{what}_{first}_{last}{'_' + dong if dong else ''}.{fmt}"
    return _download(body, fmt, name)


def _download(body: bytes, fmt: str, name: str) -> Response:
    from urllib.parse import quote
    return Response(body, mimetype=MIME[fmt], headers={
        "Content-Disposition": f"attachment; filename=\"{name.encode('ascii', 'ignore').decode()}\"; "
                               f"filename*=UTF-8''{quote(name)}"})


@bp.route("/reports/council")
@roles_required(*LEADS)
def council():
    """The council report's tables for a period, printable on A4."""
    first, last, _dong = _period(whole_programme=True)
    s = summary.compute(first, last)
    counts = sites.counts()
    # The period's first Monday to its last Sunday: "2020-W23" alone does not tell a reader when the week ended.
    days = (clock.week_monday(first), clock.week_monday(last) + timedelta(days=6))
    return render_template("reports/council.html", s=s, counts=counts, printed_on=clock.today(), days=days,
                           tables=reports.council_tables(s, counts, gettext), filters={"from": first, "to": last})


@bp.route("/reports/council.xlsx")
@roles_required(*LEADS)
def council_xlsx():
    """The council report's tables as XLSX."""
    first, last, _dong = _period(whole_programme=True)
    body = reports.council_xlsx(summary.compute(first, last), sites.counts())
    return _download(body, "xlsx", f"council_{first}_{last}.xlsx")


@bp.app_template_filter("pct")
def pct(value):
    """A rate in per cent, or a dash when nothing applied."""
    return "–" if value is None else f"{value:.1f}%"
