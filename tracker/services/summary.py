"""Aggregates for the dashboard, the council report and the summary API: one function, compute(), all in SQL.

Definitions (stated on the dashboard, used here exactly):
- An inspection is *compliant* when no critical item is answered "no" (Inspection.compliant, stored at submit).
- A *compliance rate* is yes / (yes + no) over the items that apply; n/a answers are left out of both.
- *compliant share* is compliant inspections / inspections.
- *monitoring rounds* is the number of ISO weeks of the period that have a weekly monitoring round: at least one
  weekly_monitoring task for a site in scope (the dong, when one is chosen). The first on-site sweep and ad-hoc
  visits are inspections, not rounds.
- *on-site sites inspected* is the number of distinct sites with at least one on-site inspection in the period.
- *confirmed cases* is the sum of Incident.cases confirmed between the period's first Monday and last Sunday.
- A *site's rate* is yes / (yes + no) over all its inspections of the period (the counts stored on each
  inspection). Rates by dong, band, mode or item pool the answers of the group: the group's yes over its yes + no,
  not the mean of its sites' rates, so a site inspected more often weighs more.

Inspection figures come from the weekly rollup table summary_week, kept in step with every new inspection in the
same transaction by services/rollup.py.
"""
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import Float, String, and_, case, cast, exists, func, literal, select, union_all

from .. import clock, district
from ..extensions import db
from ..models import MODES, ROUND, Incident, Inspection, Site, SummaryWeek, Task
from . import ServiceError, checklist, schedule
from .rollup import ALL_ITEMS

MAX_WEEKS = 160  # a longer period is refused: the page, the chart and the week EXISTS list stay bounded
LOWEST_SITES = 10  # the dashboard's "lowest rates" list
# ... over the period's last few weeks: who is falling short now is what a lead acts on, and a ranking of every site
# over a year would read every inspection of the year on every page view (the rest of the page reads the rollup).
LOWEST_SITES_WEEKS = 4
DEFINITIONS = {
    "compliant": "an inspection is compliant when no critical item is answered no (stored at submit)",
    "compliance_rate": "yes / (yes + no) over the items that apply, in per cent; n/a is left out",
    "compliant_share": "compliant inspections / inspections, in per cent",
    "monitoring_rounds": "ISO weeks of the period with at least one weekly_monitoring task for a site in scope; "
                         "the first on-site sweep and ad-hoc visits are not rounds",
    "onsite_sites_inspected": "distinct sites with at least one on-site inspection in the period",
    "confirmed_cases": "sum of incident cases confirmed from the first Monday to the last Sunday of the period",
    "sites_total": "active sites now (within the dong when one is given)",
    "sites_inspected": "distinct sites with any inspection (on site or by phone) in the period",
    "sites_active": "sites active at any time in the period: registered before its end and not closed at its "
                    "start, or reopened within it (close and reopen dates from the audit trail); a site with a "
                    "task or an inspection in the period counts too",
    "group_rates": "by_dong, by_band, by_mode and by_item pool the group's answers: its yes / (yes + no), "
                   "not the mean of its sites' rates",
    "lowest_sites": f"the {LOWEST_SITES} sites with the lowest rate (yes / (yes + no) over all their inspections) "
                    f"in the period's last {LOWEST_SITES_WEEKS} weeks (the whole period when shorter; see "
                    "lowest_sites_from), lowest first; sites whose answers were all n/a are left out",
}


# --- the period and its parameters ---------------------------------------------------------------------------

def parse_params(first: str | None, last: str | None, dong: str | None) -> tuple[str, str, str | None]:
    """Validate from/to/dong (from the page or the API); ServiceError naming the parameter when wrong."""
    errors = {}
    first = (first or "").strip() or None
    last = (last or "").strip() or None
    for name, value in (("from", first), ("to", last)):
        if value is not None:
            try:
                clock.parse_week(value)
            except ValueError:
                errors[name] = _("%(name)s은(는) 2020-W11 형식의 ISO 주여야 합니다: '%(v)s'", name=name, v=value)
    if errors:
        raise ServiceError(next(iter(errors.values())), errors=errors)
    first = first or last or clock.week_of()
    last = last or first
    if clock.week_monday(last) < clock.week_monday(first):
        raise ServiceError(_("to(%(to)s)는 from(%(fr)s)보다 앞설 수 없습니다", to=last, fr=first),
                           errors={"to": "must not be before from"})
    n = (clock.week_monday(last) - clock.week_monday(first)).days // 7 + 1
    if n > MAX_WEEKS:
        raise ServiceError(_("기간은 %(max)s주를 넘을 수 없습니다 (%(n)s주)", max=MAX_WEEKS, n=n),
                           errors={"to": f"period longer than {MAX_WEEKS} weeks"})
    canon = None
    if dong and dong.strip():
        canon = district.current().canonical_dong(dong)
        if canon is None:
            raise ServiceError(_("dong: 행정동 '%(v)s'은(는) 이 구의 행정동이 아닙니다", v=dong),
                               errors={"dong": "unknown dong"})
    return first, last, canon


def rate(yes: int, no: int) -> float | None:
    """yes / (yes + no) in per cent, one decimal; None when nothing applied."""
    return round(100.0 * yes / (yes + no), 1) if (yes + no) else None


def _figures(inspections=0, compliant=0, yes=0, no=0, na=0) -> dict:
    inspections, compliant, yes, no, na = (int(v or 0) for v in (inspections, compliant, yes, no, na))
    return {"inspections": inspections, "compliant": compliant, "yes": yes, "no": no, "na": na,
            "compliance_rate": rate(yes, no),
            "compliant_share": round(100.0 * compliant / inspections, 1) if inspections else None}


# --- the one function ------------------------------------------------------------------------------------------

def compute(first: str | None = None, last: str | None = None, dong: str | None = None,
            coverage: bool = False) -> dict:
    """Every figure of the dashboard, the council report and /api/v1/summary for a period and an optional dong.

    coverage adds sites_inspected and sites_active (the weekly e-mail's "inspected, out of active sites"): they
    look at every site of the register, so they are worked out only where they are shown (a week of them costs
    milliseconds, a year of them a tenth of a second at 10,000 sites)."""
    first, last, dong = parse_params(first, last, dong)
    weeks = clock.weeks_between(first, last)
    d = district.current()

    roll = _rollup_groups(first, last, dong)
    lowest_from = max(first, clock.add_weeks(last, -(LOWEST_SITES_WEEKS - 1)), key=clock.week_monday)
    sites_by = _site_counts(dong)
    onsite_by = _onsite_sites(first, last, dong)
    round_weeks = _round_weeks(weeks, dong)

    by_week = roll.get("week", {})
    week_rows = []
    for w in weeks:
        f = by_week.get(w, _figures())
        week_rows.append({"week": w, **f, "round": bool(round_weeks.get(w))})

    dong_keys = [k for k in d.dongs if k in sites_by.get("dong", {}) or k in roll.get("dong", {})]
    dong_keys += sorted(k for k in set(sites_by.get("dong", {})) | set(roll.get("dong", {})) if k not in dong_keys)
    band_keys = list(d.band_labels) + sorted(k for k in roll.get("band", {}) if k not in d.band_labels)

    def labelled(kind, keys):
        return [{"key": k, "sites": sites_by.get(kind, {}).get(k, 0), "onsite_sites_inspected":
                 onsite_by.get(kind, {}).get(k, 0), **roll.get(kind, {}).get(k, _figures())} for k in keys]

    total = roll.get("total", {}).get("", _figures())
    return {
        "from": first, "to": last, "dong": dong, "weeks_in_period": len(weeks),
        "sites_total": sites_by.get("total", {}).get("", 0),
        "onsite_sites_inspected": onsite_by.get("total", {}).get("", 0),
        **(_sites_in_period(first, last, dong) if coverage else {}),
        "monitoring_rounds": sum(1 for r in week_rows if r["round"]),
        **total,
        "confirmed_cases": _confirmed_cases(first, last, dong),
        "by_dong": labelled("dong", dong_keys),
        "by_band": labelled("band", band_keys),
        "by_mode": {m: roll.get("mode", {}).get(m, _figures()) for m in MODES},
        "by_item": _by_item(first, last, dong),
        "lowest_sites_from": lowest_from,
        "lowest_sites": _lowest_sites(lowest_from, last, dong),
        "weeks": week_rows,
        "progress": _progress(last, dong),
        # As the period stood at its end (now, when it runs to this week), like the lead's week page.
        "actions_as_of": schedule.week_as_of(last),
        "action_ages": schedule.action_age_buckets(dong, as_of=schedule.week_as_of(last)),
    }


def programme_period() -> tuple[str, str] | None:
    """The programme so far: its first to its last inspected week (the last MAX_WEEKS of it when longer);
    None before the first inspection."""
    first, last = db.session.execute(select(func.min(Inspection.week), func.max(Inspection.week))).one()
    if first is None:
        return None
    floor = clock.add_weeks(last, -(MAX_WEEKS - 1))
    return (floor if clock.week_monday(first) < clock.week_monday(floor) else first), last


def incidents(first: str, last: str, dong: str | None = None, limit: int = 50) -> list:
    """Incidents confirmed in the period, newest first, with their sites (one query)."""
    from sqlalchemy.orm import contains_eager
    start, end = clock.week_monday(first), clock.week_monday(last) + timedelta(days=6)
    stmt = (select(Incident).join(Site, Site.id == Incident.site_id).options(contains_eager(Incident.site))
            .where(Incident.confirmed_on.between(start, end)).order_by(Incident.confirmed_on.desc()).limit(limit))
    if dong:
        stmt = stmt.where(Site.dong == dong)
    return db.session.scalars(stmt).all()


# --- the queries (each one GROUP BY statement) ------------------------------------------------------------------

def _rollup_groups(first, last, dong) -> dict:
    """Inspection figures by dong, band, mode, week and in total: one UNION ALL of GROUP BYs on the rollup."""
    s = SummaryWeek
    conds = [s.item_key == ALL_ITEMS, s.week >= first, s.week <= last]
    if dong:
        conds.append(s.dong == dong)
    # The period's inspection-level rollup rows (a few thousand at most), read once and grouped five ways.
    r = select(s.week, s.dong, s.size_band, s.mode, s.inspections, s.compliant, s.yes, s.no, s.na) \
        .where(*conds).cte("period_rows").c
    sums = (func.sum(r.inspections), func.sum(r.compliant), func.sum(r.yes), func.sum(r.no), func.sum(r.na))
    parts = [select(literal("total"), cast(literal(""), String), *sums)]
    for kind, col in (("dong", r.dong), ("band", r.size_band), ("mode", r.mode), ("week", r.week)):
        parts.append(select(literal(kind), col, *sums).group_by(col))
    out: dict = {}
    for kind, key, *vals in db.session.execute(union_all(*parts)):
        out.setdefault(kind, {})[key] = _figures(*vals)
    return out


def _site_counts(dong) -> dict:
    """Active sites by dong, by band and in total (within the dong when chosen)."""
    active = [Site.status == "active"] + ([Site.dong == dong] if dong else [])
    n = func.count()
    stmt = union_all(select(literal("total"), cast(literal(""), String), n).select_from(Site).where(*active),
                     select(literal("dong"), Site.dong, n).where(*active).group_by(Site.dong),
                     select(literal("band"), Site.size_band, n).where(*active).group_by(Site.size_band))
    out: dict = {}
    for kind, key, count in db.session.execute(stmt):
        out.setdefault(kind, {})[key] = int(count)
    return out


def _onsite_sites(first, last, dong) -> dict:
    """Distinct sites with an on-site inspection in the period: in total, by dong and by band (one statement).

    The distinct site ids come off the (mode, week, site_id) index; each site falls in one (dong, band) cell,
    so the totals by dong, by band and overall are exact sums of the cells.
    """
    ids = (select(Inspection.site_id).where(Inspection.mode == "onsite", Inspection.week >= first,
                                            Inspection.week <= last).distinct().subquery())
    cells = (select(Site.dong.label("dong"), Site.size_band.label("band"), func.count().label("n"))
             .join(ids, ids.c.site_id == Site.id))
    if dong:
        cells = cells.where(Site.dong == dong)
    cells = cells.group_by(Site.dong, Site.size_band).cte("cells")
    n = func.sum(cells.c.n)
    stmt = union_all(select(literal("total"), cast(literal(""), String), n),
                     select(literal("dong"), cells.c.dong, n).group_by(cells.c.dong),
                     select(literal("band"), cells.c.band, n).group_by(cells.c.band))
    out: dict = {}
    for kind, key, count in db.session.execute(stmt):
        if key is not None:
            out.setdefault(kind, {})[key] = int(count or 0)
    return out


def _sites_in_period(first, last, dong) -> dict:
    """sites_inspected and sites_active of the period (see DEFINITIONS), within the dong: one statement.

    The site table has only the current status; the audit trail dates each close and reopen, and a register
    loaded after the fact is covered by the tasks and inspections the site had in the period.
    """
    from sqlalchemy import or_

    from ..models import Audit
    start, end = clock.week_start_utc(first), clock.week_end_utc(last)
    mine = (Audit.entity == "site", Audit.entity_id == Site.id)

    def change(*when, latest=True):
        order = (Audit.at.desc(), Audit.id.desc()) if latest else (Audit.at, Audit.id)
        return (select(Audit.action).where(*mine, Audit.action.in_(("close", "reopen")), *when)
                .order_by(*order).limit(1).scalar_subquery())
    # Open at the start: the last change before it says; else the opposite of the first change after it; else now.
    after = change(Audit.at >= start, latest=False)
    status_at_start = func.coalesce(change(Audit.at < start), case({"close": "reopen", "reopen": "close"}, value=after),
                                    case((Site.status == "active", "reopen"), else_="close"))
    reopened = exists().where(*mine, Audit.action == "reopen", Audit.at >= start, Audit.at < end)
    # Two counts, each a WHERE EXISTS / NOT EXISTS that the planner turns into a semi- or anti-join of its choosing
    # (a hash of the period's rows for a week, index probes per site for a year); the audit trail is read only for
    # sites neither inspected nor tasked.
    inspected = exists().where(Inspection.site_id == Site.id, Inspection.week >= first, Inspection.week <= last)
    tasked = exists().where(Task.site_id == Site.id, Task.week >= first, Task.week <= last)
    in_dong = (Site.dong == dong,) if dong else ()
    n_ins = select(func.count()).select_from(Site).where(*in_dong, inspected).scalar_subquery()
    n_other = (select(func.count()).select_from(Site).where(*in_dong, ~inspected, or_(
        tasked, and_(Site.created_at < end, or_(status_at_start == "reopen", reopened)))).scalar_subquery())
    n_inspected, n_not_inspected = (int(v or 0) for v in db.session.execute(select(n_ins, n_other)).one())
    return {"sites_inspected": n_inspected, "sites_active": n_inspected + n_not_inspected}


def _round_weeks(weeks: list[str], dong) -> dict:
    """For each week, whether it has a weekly_monitoring task: one correlated EXISTS over a VALUES list of weeks,
    planned once and probed on the (week, status) index, so the task table is never scanned."""
    # A UNION ALL of constants rather than VALUES: SQLite cannot name a VALUES list's columns.
    wk = union_all(*[select(cast(literal(w), String).label("week")) for w in weeks]).subquery("wk")
    q = select(Task.id).where(Task.week == wk.c.week, Task.kind == ROUND)
    if dong:
        q = q.join(Site, Site.id == Task.site_id).where(Site.dong == dong)
    found = set(db.session.scalars(select(wk.c.week).where(exists(q))))
    return {w: w in found for w in weeks}


def _confirmed_cases(first, last, dong) -> int:
    start, end = clock.week_monday(first), clock.week_monday(last) + timedelta(days=6)
    stmt = (select(func.coalesce(func.sum(Incident.cases), 0)).join(Site, Site.id == Incident.site_id)
            .where(Incident.confirmed_on.between(start, end)))
    if dong:
        stmt = stmt.where(Site.dong == dong)
    return int(db.session.scalar(stmt) or 0)


def _by_item(first, last, dong) -> list[dict]:
    """Each checklist item's yes/no/n-a in the period, most-failed first (by share of "no", then count)."""
    r = SummaryWeek
    conds = [r.item_key != ALL_ITEMS, r.week >= first, r.week <= last]
    if dong:
        conds.append(r.dong == dong)
    stmt = (select(r.item_key, func.sum(r.inspections), func.sum(r.yes), func.sum(r.no), func.sum(r.na))
            .where(*conds).group_by(r.item_key))
    rows = db.session.execute(stmt).all()
    tpl = checklist.current()
    meta = {i.key: i for i in tpl.items} if tpl else {}
    out = []
    for key, n, yes, no, na in rows:  # one row per item: presentation, not aggregation
        it = meta.get(key)
        f = _figures(n, 0, yes, no, na)
        f.pop("compliant"), f.pop("compliant_share")
        # An item dropped from the checklist keeps its answers, under the label its last version gave it.
        out.append({"key": key, "label": it.label_ko if it else checklist.item_label(key),
                    "category": it.category if it else "", "critical": bool(it.critical) if it else False,
                    "retired": it is None, **f,
                    "failure_rate": rate(no, yes) if (yes or no) else None})
    out.sort(key=lambda x: (-(x["failure_rate"] or 0), -x["no"], x["key"]))
    return out


def _lowest_sites(first, last, dong, limit: int = LOWEST_SITES) -> list[dict]:
    """The sites with the lowest rate in the period: one GROUP BY site_id over the counts stored on each
    inspection, cut to the lowest few before the site table is joined for names (one statement).

    Ties go to the site with more "no" answers, then the older site, so that both engines give the same list.
    """
    i = Inspection
    yes, no = func.sum(i.yes_count), func.sum(i.no_count)
    conds = [i.week >= first, i.week <= last]
    if dong:
        conds.append(i.site_id.in_(select(Site.id).where(Site.dong == dong)))
    worst = (select(i.site_id.label("site_id"), func.count().label("n"), yes.label("yes"), no.label("no"),
                    func.sum(i.na_count).label("na"), (cast(yes, Float) / (yes + no)).label("r"))
             .where(*conds).group_by(i.site_id).having(yes + no > 0)
             .order_by(cast(yes, Float) / (yes + no), no.desc(), i.site_id).limit(limit).subquery("worst"))
    w = worst.c
    stmt = (select(Site.id, Site.name, Site.dong, Site.status, w.n, w.yes, w.no, w.na)
            .join(worst, worst.c.site_id == Site.id).order_by(w.r, w.no.desc(), Site.id))
    return [{"site_id": sid, "name": name, "dong": dg, "status": status, "inspections": int(n), "yes": int(y),
             "no": int(no_), "na": int(na or 0), "compliance_rate": rate(int(y), int(no_))}
            for sid, name, dg, status, n, y, no_, na in db.session.execute(stmt)]


def _progress(week: str, dong) -> dict:
    """The week's basic monitoring round (slot 0, one task a site): done, open, overdue and missed."""
    t = Task
    stmt = (select(func.count(), func.sum(case((t.status == "done", 1), else_=0)),
                   func.sum(case((t.status == "open", 1), else_=0)),
                   func.sum(case((and_(t.status == "open", t.overdue), 1), else_=0)),
                   func.sum(case((t.status == "missed", 1), else_=0)))
            .select_from(t).join(Site, Site.id == t.site_id)
            .where(t.week == week, t.kind == ROUND, t.slot == 0, t.status != "cancelled"))
    if dong:
        stmt = stmt.where(Site.dong == dong)
    total, done, open_, overdue, missed = (int(v or 0) for v in db.session.execute(stmt).one())
    return {"week": week, "tasks": total, "done": done, "open": open_, "overdue": overdue, "missed": missed}
