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

Inspection figures come from the weekly rollup table summary_week, which an after_flush hook keeps in step with
every new Inspection and Answer in the same transaction; rebuild_rollup() recomputes it from the raw tables.
"""
from datetime import timedelta

from flask_babel import gettext as _
from sqlalchemy import String, and_, case, cast, delete, event, exists, func, insert, literal, select, union_all
from sqlalchemy.orm import Session

from .. import clock, district
from ..extensions import db
from ..models import Answer, Incident, Inspection, Site, SummaryWeek, Task
from . import ServiceError, checklist, schedule

ROUND = "weekly_monitoring"
ALL_ITEMS = ""  # item_key of the inspection-level rollup rows
MAX_WEEKS = 160  # a longer period is refused: the page, the chart and the week EXISTS list stay bounded
MODES = ("onsite", "phone")
DEFINITIONS = {
    "compliant": "an inspection is compliant when no critical item is answered no (stored at submit)",
    "compliance_rate": "yes / (yes + no) over the items that apply, in per cent; n/a is left out",
    "compliant_share": "compliant inspections / inspections, in per cent",
    "monitoring_rounds": "ISO weeks of the period with at least one weekly_monitoring task for a site in scope; "
                         "the first on-site sweep and ad-hoc visits are not rounds",
    "onsite_sites_inspected": "distinct sites with at least one on-site inspection in the period",
    "confirmed_cases": "sum of incident cases confirmed from the first Monday to the last Sunday of the period",
    "sites_total": "active sites now (within the dong when one is given)",
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

def compute(first: str | None = None, last: str | None = None, dong: str | None = None) -> dict:
    """Every figure of the dashboard, the council report and /api/v1/summary for a period and an optional dong."""
    first, last, dong = parse_params(first, last, dong)
    weeks = clock.weeks_between(first, last)
    d = district.current()

    roll = _rollup_groups(first, last, dong)
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
        "monitoring_rounds": sum(1 for r in week_rows if r["round"]),
        **total,
        "confirmed_cases": _confirmed_cases(first, last, dong),
        "by_dong": labelled("dong", dong_keys),
        "by_band": labelled("band", band_keys),
        "by_mode": {m: roll.get("mode", {}).get(m, _figures()) for m in MODES},
        "by_item": _by_item(first, last, dong),
        "weeks": week_rows,
        "progress": _progress(last, dong),
        "action_ages": schedule.action_age_buckets(dong),
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
        out.append({"key": key, "label": it.label_ko if it else key, "category": it.category if it else "",
                    "critical": bool(it.critical) if it else False, **f,
                    "failure_rate": rate(no, yes) if (yes or no) else None})
    out.sort(key=lambda x: (-(x["failure_rate"] or 0), -x["no"], x["key"]))
    return out


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


# --- the rollup: kept at flush time, rebuilt on demand ---------------------------------------------------------

_UPSERTS: dict = {}


def _upsert_stmt(dialect: str):
    """One ON CONFLICT statement per dialect, built once: executed with a list of rows it is compiled once and
    sent as an executemany, where a multi-row VALUES would be a new statement (and a new compile) per submit."""
    if dialect not in _UPSERTS:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        stmt = dialect_insert(SummaryWeek)
        t = SummaryWeek.__table__.c
        _UPSERTS[dialect] = stmt.on_conflict_do_update(
            index_elements=["week", "dong", "size_band", "mode", "item_key"],
            set_={c: t[c] + stmt.excluded[c] for c in ("inspections", "compliant", "yes", "no", "na")})
    return _UPSERTS[dialect]


def _upsert(conn, rows: list[dict]) -> None:
    if rows:
        # Rows in key order: two submits touching the same rows lock them in the same order (no deadlock).
        rows.sort(key=lambda r: (r["week"], r["dong"], r["size_band"], r["mode"], r["item_key"]))
        conn.execute(_upsert_stmt(conn.dialect.name), rows)


@event.listens_for(Session, "after_flush")
def _rollup_after_flush(session, _ctx):
    """Add the flush's new inspections and answers to summary_week, inside the same transaction."""
    new_insp = [o for o in session.new if isinstance(o, Inspection)]
    new_ans = [o for o in session.new if isinstance(o, Answer)]
    if not new_insp and not new_ans:
        return
    conn = session.connection()
    # The submit path hands over the site it already loaded; anything else is looked up in one query.
    where = {o.site_id: (o.__dict__["site"].dong, o.__dict__["site"].size_band) for o in new_insp
             if o.__dict__.get("site") is not None}
    site_ids = {o.site_id for o in new_insp} - set(where)
    if site_ids:
        where.update({sid: (dong, band) for sid, dong, band in conn.execute(
            select(Site.id, Site.dong, Site.size_band).where(Site.id.in_(site_ids)))})
    ctx = {o.id: (o.week, o.mode) + where[o.site_id] for o in new_insp}
    missing = {a.inspection_id for a in new_ans} - set(ctx)
    if missing:
        q = (select(Inspection.id, Inspection.week, Inspection.mode, Site.dong, Site.size_band)
             .join(Site, Site.id == Inspection.site_id).where(Inspection.id.in_(missing)))
        ctx.update({i: (w, m, dg, b) for i, w, m, dg, b in conn.execute(q)})
    acc: dict = {}

    def bump(key, n, c, y, no, na):
        v = acc.setdefault(key, [0, 0, 0, 0, 0])
        for i, x in enumerate((n, c, y, no, na)):
            v[i] += x
    for o in new_insp:
        bump(ctx[o.id] + (ALL_ITEMS,), 1, 1 if o.compliant else 0, o.yes_count or 0, o.no_count or 0,
             o.na_count or 0)
    for a in new_ans:
        week, _mode, dong, _band = ctx[a.inspection_id]
        bump((week, "", dong, "", a.item_key), 1, 0, a.value == "yes", a.value == "no", a.value == "na")
    _upsert(conn, [dict(week=k[0], mode=k[1], dong=k[2], size_band=k[3], item_key=k[4], inspections=v[0],
                        compliant=v[1], yes=int(v[2]), no=int(v[3]), na=int(v[4])) for k, v in acc.items()])


def rebuild_rollup() -> int:
    """Recompute summary_week from inspections and answers (after bulk loads or a migration); returns rows."""
    db.session.execute(delete(SummaryWeek))
    cols = ["week", "dong", "size_band", "mode", "item_key", "inspections", "compliant", "yes", "no", "na"]
    i = Inspection
    one = case((i.compliant, 1), else_=0)
    db.session.execute(insert(SummaryWeek).from_select(cols, select(
        i.week, Site.dong, Site.size_band, i.mode, literal(ALL_ITEMS), func.count(), func.sum(one),
        func.sum(i.yes_count), func.sum(i.no_count), func.sum(i.na_count))
        .join(Site, Site.id == i.site_id).group_by(i.week, Site.dong, Site.size_band, i.mode)))
    a = Answer
    db.session.execute(insert(SummaryWeek).from_select(cols, select(
        i.week, Site.dong, literal(""), literal(""), a.item_key, func.count(), literal(0),
        func.sum(case((a.value == "yes", 1), else_=0)), func.sum(case((a.value == "no", 1), else_=0)),
        func.sum(case((a.value == "na", 1), else_=0)))
        .select_from(a).join(i, i.id == a.inspection_id).join(Site, Site.id == i.site_id)
        .group_by(i.week, Site.dong, a.item_key)))
    db.session.flush()
    return db.session.scalar(select(func.count()).select_from(SummaryWeek))
