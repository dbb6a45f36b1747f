"""Weekly rounds, due/overdue/missed, follow-up actions (행정지도), incidents and risk.

Every function here is safe to run twice or in two processes at once: rows are made with
INSERT … ON CONFLICT DO NOTHING against unique keys, and state moves with conditional UPDATEs.
"""
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import Integer, String, and_, bindparam, case, func, insert, or_, select, text, union_all, update
from sqlalchemy.orm import contains_eager, selectinload

from .. import clock
from ..dbutil import insert_ignore
from ..extensions import db
from ..models import (
    INCIDENT,
    REINSPECTION,
    ROUND,
    Action,
    ActionReply,
    DongAssignment,
    Incident,
    Inspection,
    Site,
    Task,
    User,
    UTCDateTime,
)
from . import ServiceError, audit

OPEN_ACTION = ("open", "escalated")
# Not yet cleared: a reported action (the site replied, issue 16) waits for its review, and a reinspection's "예"
# still clears it. Lists of open actions leave it out (it has its own filter); the rules that clear include it.
NOT_CLEARED = OPEN_ACTION + ("reported",)
AGE_BUCKETS = [(0, 7), (8, 14), (15, 30), (31, None)]

# The risk rule, shown on the site page as it is applied here.
RISK_POINTS = {"large_site": 2, "medium_site": 1, "open_critical_action": 2, "recent_incident": 3, "missed_week": 1}
RISK_HIGH, RISK_MEDIUM = 4, 2
RISK_LOOKBACK_WEEKS = 4
RECENT_INCIDENT_DAYS = 28
NOTE_MAX = 500  # an incident's note, as the site page's form allows


def _size_thresholds() -> tuple[int, int]:
    """Head counts above which a site is medium or large, from config: independent of the district's bands."""
    cfg = current_app.config
    return cfg["TRACKER_RISK_MEDIUM_HEADCOUNT"], cfg["TRACKER_RISK_LARGE_HEADCOUNT"]


def risk_rule() -> list[str]:
    """The risk rule in words, for the site page."""
    medium, large = _size_thresholds()
    return [
        _("종사자 %(n)s명 초과: +%(p)s점", n=large, p=RISK_POINTS["large_site"]),
        _("종사자 %(a)s명 초과 %(b)s명 이하: +%(p)s점", a=medium, b=large, p=RISK_POINTS["medium_site"]),
        _("미조치 중요 항목 행정지도 1건당: +%(p)s점", p=RISK_POINTS["open_critical_action"]),
        _("최근 %(d)s일 안의 확진자 발생: +%(p)s점", d=RECENT_INCIDENT_DAYS, p=RISK_POINTS["recent_incident"]),
        _("최근 %(w)s주 동안 놓친 주간 점검 1회당: +%(p)s점", w=RISK_LOOKBACK_WEEKS, p=RISK_POINTS["missed_week"]),
        _("%(h)s점 이상 높음(현장점검 배정), %(m)s점 이상 보통, 그 밖에는 낮음", h=RISK_HIGH, m=RISK_MEDIUM),
    ]


def _level(score: int) -> str:
    return "high" if score >= RISK_HIGH else "medium" if score >= RISK_MEDIUM else "low"


def risk_scores(site_ids: list[int] | None = None, at: datetime | None = None) -> dict[int, dict]:
    """Risk of each active site (or the given ones): {site_id: {"score", "level", "parts"}}, counted in SQL."""
    at = at or clock.now()
    medium, large = _size_thresholds()
    week = clock.week_of(at)
    since_week = clock.add_weeks(week, -RISK_LOOKBACK_WEEKS)
    since_day = clock.local(at).date() - timedelta(days=RECENT_INCIDENT_DAYS)
    crit = (select(Action.site_id, func.count().label("n")).where(Action.status.in_(OPEN_ACTION), Action.critical)
            .group_by(Action.site_id).subquery())
    inc = (select(Incident.site_id, func.count().label("n")).where(Incident.confirmed_on >= since_day)
           .group_by(Incident.site_id).subquery())
    missed = (select(Task.site_id, func.count().label("n"))
              .where(Task.kind == ROUND, Task.status == "missed", Task.week >= since_week, Task.week < week)
              .group_by(Task.site_id).subquery())
    stmt = (select(Site.id, Site.headcount, func.coalesce(crit.c.n, 0), func.coalesce(inc.c.n, 0),
                   func.coalesce(missed.c.n, 0))
            .outerjoin(crit, crit.c.site_id == Site.id).outerjoin(inc, inc.c.site_id == Site.id)
            .outerjoin(missed, missed.c.site_id == Site.id))
    stmt = stmt.where(Site.id.in_(site_ids)) if site_ids is not None else stmt.where(Site.status == "active")
    out = {}
    for sid, headcount, n_crit, n_inc, n_missed in db.session.execute(stmt):
        parts = {}
        if headcount > large:
            parts["large_site"] = RISK_POINTS["large_site"]
        elif headcount > medium:
            parts["medium_site"] = RISK_POINTS["medium_site"]
        if n_crit:
            parts["open_critical_action"] = n_crit * RISK_POINTS["open_critical_action"]
        if n_inc:
            parts["recent_incident"] = RISK_POINTS["recent_incident"]
        if n_missed:
            parts["missed_week"] = n_missed * RISK_POINTS["missed_week"]
        score = sum(parts.values())
        out[sid] = {"score": score, "level": _level(score), "parts": parts}
    return out


# --- due times -------------------------------------------------------------------------------

def due_at(week: str, weekday: int | None = None) -> datetime:
    """When a round of the week is due: the configured weekday and time (default Friday 18:00), as UTC."""
    cfg = current_app.config
    weekday = weekday or cfg["TRACKER_DUE_WEEKDAY"]
    return clock.at_local(clock.week_monday(week) + timedelta(days=weekday - 1), cfg["TRACKER_DUE_TIME"])


def next_working_day(day: date) -> date:
    """The next weekday after a date (public holidays are not known to the app)."""
    day += timedelta(days=1)
    while day.isoweekday() > 5:
        day += timedelta(days=1)
    return day


def _assignees() -> dict[str, int]:
    return dict(db.session.execute(select(DongAssignment.dong, DongAssignment.inspector_id)
                                   .join(User, User.id == DongAssignment.inspector_id).where(User.active)).all())


def _raised_sites(week: str) -> set[int]:
    """Sites whose monitoring is raised to twice a week during this week, after an incident."""
    monday = clock.week_monday(week)
    return set(db.session.scalars(select(Incident.site_id).where(
        Incident.confirmed_on <= monday + timedelta(days=6), Incident.raised_until >= monday)))


# --- the weekly round --------------------------------------------------------------------------

def schedule_week(week: str | None = None) -> int:
    """Make the week's monitoring tasks for every active site; returns how many were new. Idempotent."""
    week = week or clock.week_of()
    clock.parse_week(week)
    assign = _assignees()
    raised = _raised_sites(week)
    # Risk as it stood when the week began (or now, for a week ahead), so a late catch-up decides the same way.
    risks = risk_scores(at=min(clock.now(), clock.week_start_utc(week)))
    normal_due = due_at(week)
    # A raised cadence asks for a first check early in the week and a second by the usual due time.
    early_due = due_at(week, max(1, current_app.config["TRACKER_DUE_WEEKDAY"] - 3))
    rows = []
    # In id order, so that two schedulers inserting at once take the same keys in the same order (no deadlock).
    for sid, dong in db.session.execute(select(Site.id, Site.dong).where(Site.status == "active").order_by(Site.id)):
        onsite = sid in raised or risks.get(sid, {}).get("level") == "high"
        base = {"site_id": sid, "week": week, "kind": ROUND, "assignee_id": assign.get(dong), "status": "open",
                "required_mode": "onsite" if onsite else "any", "created_at": clock.now(), "overdue": False}
        if sid in raised:
            rows.append({**base, "slot": 0, "due_at": early_due})
            rows.append({**base, "slot": 1, "due_at": normal_due, "required_mode": "any"})
        else:
            rows.append({**base, "slot": 0, "due_at": normal_due})
    new = insert_ignore(Task, rows)
    reconcile_week(week)
    return new


def reconcile_week(week: str) -> None:
    """Mark round tasks done where the site already has enough fitting inspections that week (n close n slots)."""
    # Only inspections of the mode a task asks for count, as when an inspection closes a task on arrival.
    fits = (Inspection.site_id == Task.site_id, Inspection.week == week,
            or_(Task.required_mode == "any", Inspection.mode == Task.required_mode))
    n_insp = select(func.count()).select_from(Inspection).where(*fits).scalar_subquery()
    first = select(func.min(Inspection.id)).where(*fits).scalar_subquery()
    db.session.execute(update(Task).where(Task.week == week, Task.kind == ROUND, Task.status == "open",
                                          Task.slot < n_insp)
                       .values(status="done", closed_at=clock.now(), done_inspection_id=first)
                       .execution_options(synchronize_session=False))


def mark_overdue(at: datetime | None = None) -> dict:
    """Flag open tasks past due, mark rounds of ended weeks missed, escalate actions past due. Idempotent."""
    at = at or clock.now()
    current = clock.week_of(at)
    overdue = db.session.execute(update(Task).where(Task.status == "open", Task.due_at < at, Task.overdue.is_(False))
                                 .values(overdue=True).execution_options(synchronize_session=False)).rowcount
    missed = db.session.execute(update(Task).where(Task.status == "open", Task.kind == ROUND, Task.week < current)
                                .values(status="missed", closed_at=at)
                                .execution_options(synchronize_session=False)).rowcount
    escalated = db.session.execute(update(Action).where(Action.status == "open", Action.due_at < at)
                                   .values(status="escalated").execution_options(synchronize_session=False)).rowcount
    return {"overdue": overdue, "missed": missed, "escalated": escalated}


# --- after an inspection -------------------------------------------------------------------------
# Core statements on the tables, built once: an inspection runs them all, and an ORM-enabled statement costs
# several times the Python per execution, paid on SQLite while the submit holds the one write lock.

_TASK = Task.__table__.c
_ACTION = Action.__table__.c


def _first_open(kind: str, this_week_only: bool):
    """The id of a site's lowest open task of a kind that an inspection of the given mode satisfies."""
    t = _TASK
    q = select(t.id).where(t.site_id == bindparam("b_site_id"), t.kind == kind, t.status == "open",
                           or_(t.required_mode == "any", t.required_mode == bindparam("b_mode")))
    # A round belongs to its week; a follow-up is satisfied by any inspection made after it was set.
    q = q.where(t.week == bindparam("b_week")) if this_week_only else q.where(t.created_at <= bindparam("b_at"))
    return select(q.order_by(t.week, t.slot).limit(1).subquery().c.id)


# One conditional UPDATE closes the week's round, the oldest reinspection and, for a visit on site, the incident
# task: two inspections arriving together cannot both close the same task.
_CLOSE_TASKS = update(Task.__table__).where(_TASK.status == "open", _TASK.id.in_(union_all(
    _first_open(ROUND, True), _first_open(REINSPECTION, False),
    _first_open(INCIDENT, False).where(bindparam("b_mode") == "onsite")))).values(
    status="done", closed_at=bindparam("b_at"), done_inspection_id=bindparam("b_inspection_id"))
_OPEN_ACTION_KEYS = select(_ACTION.item_key, _ACTION.status).where(_ACTION.site_id == bindparam("b_site_id"),
                                                                   _ACTION.status.in_(NOT_CLEARED))
_CLEAR_ACTIONS = update(Action.__table__).where(
    _ACTION.site_id == bindparam("b_site_id"), _ACTION.item_key.in_(bindparam("b_keys", expanding=True)),
    _ACTION.status.in_(NOT_CLEARED)).values(status="cleared", cleared_at=bindparam("b_at"),
                                            cleared_inspection_id=bindparam("b_inspection_id"))
_INSERT_ACTIONS = insert(Action.__table__)
# The next free slot of the week and the dong's active inspector, worked out inside the INSERT itself; a twin that
# took the slot first makes it a no-op (the week has its task). Plain SQL, the same on SQLite and PostgreSQL:
# SQLAlchemy 2.0 compiles its dialects' ON CONFLICT constructs afresh at every execution.
_ADD_TASK = text(
    "INSERT INTO task (site_id, week, kind, slot, required_mode, due_at, assignee_id, status, overdue, created_at) "
    "SELECT :site_id, :week, :kind, COALESCE(MAX(t.slot) + 1, 0), :mode, :due_at, "
    "(SELECT da.inspector_id FROM dong_assignment da JOIN \"user\" u ON u.id = da.inspector_id "
    "WHERE da.dong = :dong AND u.active), 'open', false, :created_at "
    "FROM task t WHERE t.site_id = :site_id AND t.week = :week AND t.kind = :kind "
    "ON CONFLICT (site_id, week, kind, slot) DO NOTHING").bindparams(
    bindparam("site_id", type_=Integer), bindparam("week", type_=String), bindparam("kind", type_=String),
    bindparam("due_at", type_=UTCDateTime()), bindparam("created_at", type_=UTCDateTime()))


def after_inspection(insp: Inspection, items: dict, answers: list[dict], dong: str) -> None:
    """What a new inspection does to its site's tasks and follow-up actions: close the tasks it satisfies, clear the
    actions of items now "yes", open one for each "no" item that has none (and a reinspection to check them).

    items: the template's items by key; answers: the inspection's {item_key, value, note}; dong: the site's dong.
    """
    ids = {"b_site_id": insp.site_id, "b_mode": insp.mode, "b_week": insp.week, "b_at": insp.submitted_at,
           "b_inspection_id": insp.id}
    db.session.execute(_CLOSE_TASKS, ids)
    yes = [a["item_key"] for a in answers if a["value"] == "yes"]
    failed = [a for a in answers if a["value"] == "no"]
    if not yes and not failed:
        return
    # Read after the inspection is written: on SQLite the submit then holds the one write lock, on PostgreSQL the
    # site's row lock, so a simultaneous inspection of the site cannot slip an action in between.
    already = dict(db.session.execute(_OPEN_ACTION_KEYS, ids).all())  # item_key: status
    cleared = [k for k in yes if k in already]
    if cleared:
        db.session.execute(_CLEAR_ACTIONS, {**ids, "b_keys": cleared})
    not_fixed = [a["item_key"] for a in failed if already.get(a["item_key"]) == "reported"]
    if not_fixed:
        _reopen_reported(insp, not_fixed)
    new = [(items[a["item_key"]], a["note"]) for a in failed if a["item_key"] not in already]
    if new:
        _open_actions(insp, new, dong)


def _reopen_reported(insp: Inspection, keys: list[str]) -> None:
    """A reinspection that still finds "아니오" where the site reported a fix: the site's reply is answered (asked
    again, by the inspector), and the action is open again, escalating as any open action does."""
    reported = select(Action.id).where(Action.site_id == insp.site_id, Action.item_key.in_(keys),
                                       Action.status == "reported")
    db.session.execute(update(ActionReply).where(ActionReply.action_id.in_(reported), ActionReply.outcome.is_(None))
                       .values(outcome="again", reviewed_at=insp.submitted_at, reviewed_by_id=insp.inspector_id)
                       .execution_options(synchronize_session=False))
    db.session.execute(update(Action).where(Action.site_id == insp.site_id, Action.item_key.in_(keys),
                                            Action.status == "reported").values(status="open")
                       .execution_options(synchronize_session=False))


def _open_actions(insp: Inspection, failed: list[tuple], dong: str) -> None:
    """An action for each failed (item, note), and a reinspection to check their fixes: on site when any of the
    items can only be judged there."""
    cfg = current_app.config
    at = insp.submitted_at
    rows = [{"site_id": insp.site_id, "item_key": item.key, "opened_inspection_id": insp.id, "status": "open",
             "critical": item.critical, "note": note or "", "opened_at": at, "due_at": at + timedelta(
                 days=cfg["TRACKER_ACTION_DAYS_CRITICAL"] if item.critical else cfg["TRACKER_ACTION_DAYS"])}
            for item, note in failed]
    db.session.execute(_INSERT_ACTIONS, rows)
    mode = "any" if all(item.applies_to("phone") for item, _note in failed) else "onsite"
    _add_task(insp.site_id, REINSPECTION, min(r["due_at"] for r in rows), mode, dong)


def _add_task(site_id: int, kind: str, due: datetime, mode: str, dong: str) -> None:
    """A task in the week it is due, in the next free slot of that week and kind, for the dong's active inspector."""
    db.session.execute(_ADD_TASK, {"site_id": site_id, "week": clock.week_of(due), "kind": kind, "mode": mode,
                                   "due_at": due, "dong": dong, "created_at": clock.now()})


# --- incidents ------------------------------------------------------------------------------------

def record_incident(site: Site, confirmed_on: date, cases: int, note: str = "", by=None) -> Incident:
    """A confirmed case at a site: an on-site task due the next working day, and closer monitoring for a period."""
    if cases is None or int(cases) < 1:
        raise ServiceError(_("확진자 수는 1 이상이어야 합니다"), errors={"cases": "must be at least 1"})
    if confirmed_on > clock.today():
        raise ServiceError(_("확진일은 미래일 수 없습니다"), errors={"confirmed_on": "in the future"})
    if len(note or "") > NOTE_MAX:
        raise ServiceError(_("메모는 %(n)s자 이하여야 합니다", n=NOTE_MAX), errors={"note": f"at most {NOTE_MAX}"})
    days = current_app.config["TRACKER_INCIDENT_DAYS"]
    inc = Incident(site_id=site.id, confirmed_on=confirmed_on, cases=int(cases), note=note or "",
                   raised_until=confirmed_on + timedelta(days=days), created_by_id=getattr(by, "id", None))
    db.session.add(inc)
    db.session.flush()
    due_day = next_working_day(max(confirmed_on, clock.today()))
    _add_task(site.id, INCIDENT, clock.at_local(due_day, current_app.config["TRACKER_DUE_TIME"]), "onsite", site.dong)
    # The raised cadence starts now: add this week's second check if the round already exists and a working
    # day is left before it is due; otherwise it starts with next week's round.
    week = clock.week_of()
    if due_at(week) - clock.now() > timedelta(days=1) and db.session.scalar(
            select(func.count()).select_from(Task).where(Task.week == week, Task.kind == ROUND)):
        schedule_week(week)
        db.session.execute(update(Task).where(Task.site_id == site.id, Task.week == week, Task.kind == ROUND,
                                              Task.slot == 0, Task.status == "open")
                           .values(required_mode="onsite").execution_options(synchronize_session=False))
    audit.record(by, "incident", inc.id, "create", None,
                 {"site_id": site.id, "confirmed_on": confirmed_on.isoformat(), "cases": inc.cases})
    return inc


# --- assignment -----------------------------------------------------------------------------------

def assign_dong(dong: str, inspector_id: int | None, by=None) -> None:
    """Set (or with None, clear) which inspector covers a dong; its open tasks follow. Unchanged: nothing written."""
    row = db.session.get(DongAssignment, dong)
    before = row.inspector_id if row else None
    if inspector_id == before:
        return
    if inspector_id is not None:
        user = db.session.get(User, inspector_id)
        if user is None or user.role != "inspector" or not user.active:
            raise ServiceError(_("점검원을 찾을 수 없습니다"), errors={"inspector_id": "not an active inspector"})
    if inspector_id is None:
        db.session.delete(row)
    elif row:
        row.inspector_id = inspector_id
    else:
        db.session.add(DongAssignment(dong=dong, inspector_id=inspector_id))
    db.session.execute(update(Task).where(Task.status == "open", Task.site_id.in_(
        select(Site.id).where(Site.dong == dong))).values(assignee_id=inspector_id)
        .execution_options(synchronize_session=False))
    audit.record(by, "assignment", None, "update", {"dong": dong, "inspector_id": before},
                 {"dong": dong, "inspector_id": inspector_id})


def reassign_task(task: Task, inspector_id: int, by=None) -> None:
    """Give one task to another inspector."""
    user = db.session.get(User, inspector_id)
    if user is None or user.role != "inspector" or not user.active:
        raise ServiceError(_("점검원을 찾을 수 없습니다"), errors={"inspector_id": "not an active inspector"})
    before = task.assignee_id
    task.assignee_id = inspector_id
    audit.record(by, "task", task.id, "reassign", {"assignee_id": before}, {"assignee_id": inspector_id})


# --- views of the work ----------------------------------------------------------------------------

def tasks_stmt(week: str | None = None, status: str | None = None, kind: str | None = None,
               assignee_id: int | None = None, dong: str | None = None, overdue: bool | None = None):
    """Tasks filtered, with their sites and assignees loaded (no query per row)."""
    stmt = (select(Task).join(Site, Site.id == Task.site_id)
            .options(contains_eager(Task.site), selectinload(Task.assignee)))
    if week:
        stmt = stmt.where(Task.week == week)
    if status:
        stmt = stmt.where(Task.status == status)
    if kind:
        stmt = stmt.where(Task.kind == kind)
    if assignee_id:
        stmt = stmt.where(Task.assignee_id == assignee_id)
    if dong:
        stmt = stmt.where(Site.dong == dong)
    if overdue is not None:
        stmt = stmt.where(Task.overdue.is_(overdue))
    return stmt.order_by(Site.dong, Site.name, Task.kind, Task.slot)


def actions_stmt(status: str | None = None, dong: str | None = None, item: str | None = None,
                 min_age: int | None = None, site_id: int | None = None):
    """Follow-up actions filtered by status ('open' means open or escalated), dong, item, age and site."""
    stmt = select(Action).join(Site, Site.id == Action.site_id).options(contains_eager(Action.site))
    if status == "open":
        stmt = stmt.where(Action.status.in_(OPEN_ACTION))
    elif status:
        stmt = stmt.where(Action.status == status)
    if dong:
        stmt = stmt.where(Site.dong == dong)
    if item:
        stmt = stmt.where(Action.item_key == item)
    if min_age:
        stmt = stmt.where(Action.opened_at <= clock.now() - timedelta(days=min_age))
    if site_id:
        stmt = stmt.where(Action.site_id == site_id)
    return stmt.order_by(Action.opened_at, Action.id)


def action_age_buckets(dong: str | None = None, as_of: datetime | None = None) -> list[dict]:
    """Open actions counted by age in days, in SQL: those open now, or with as_of those open at that instant."""
    at = as_of or clock.now()
    cols = []
    for lo, hi in AGE_BUCKETS:
        cond = Action.opened_at <= at - timedelta(days=lo)
        if hi is not None:
            cond = and_(cond, Action.opened_at > at - timedelta(days=hi + 1))
        cols.append(func.sum(case((cond, 1), else_=0)))
    stmt = select(*cols).select_from(Action).join(Site, Site.id == Action.site_id)
    if as_of is None:
        stmt = stmt.where(Action.status.in_(OPEN_ACTION))
    else:
        # Open then: opened by that instant and not yet cleared, whatever has happened to it since.
        stmt = stmt.where(Action.opened_at <= as_of, or_(Action.cleared_at.is_(None), Action.cleared_at > as_of))
    if dong:
        stmt = stmt.where(Site.dong == dong)
    row = db.session.execute(stmt).one()
    return [{"from": lo, "to": hi, "count": int(n or 0)} for (lo, hi), n in zip(AGE_BUCKETS, row)]


def week_as_of(week: str) -> datetime | None:
    """The instant a week's figures stand at: the end of a week that is over, None (now) for this week or later."""
    end = clock.week_end_utc(week)
    return end if end <= clock.now() else None


def week_view(week: str, dong: str | None = None) -> dict:
    """The lead's week: overdue and missed sites by inspector and dong, actions by age, incidents, workloads."""
    late = db.session.scalars(tasks_stmt(week=week, dong=dong).where(
        or_(Task.status == "missed", and_(Task.status == "open", Task.overdue)))).all()
    by_inspector, by_dong = {}, {}
    for t in late:  # grouping an already bounded list for display, not aggregating
        # Keyed by id, so that two inspectors of the same name stay apart.
        by_inspector.setdefault(t.assignee_id, {"id": t.assignee_id, "name": t.assignee.name if t.assignee
                                                else _("미배정"), "tasks": []})["tasks"].append(t)
        by_dong.setdefault(t.site.dong, []).append(t)
    # Inspectors in name order, the unassigned last, so that a lead finds a person where expected.
    by_inspector = sorted(by_inspector.values(), key=lambda g: (g["id"] is None, g["name"]))
    load = (select(User.id, User.name,
                   func.sum(case((Task.status == "open", 1), else_=0)),
                   func.sum(case((Task.status == "done", 1), else_=0)),
                   func.sum(case((Task.status == "missed", 1), else_=0)),
                   func.sum(case((and_(Task.status == "open", Task.overdue), 1), else_=0)))
            .join(Task, Task.assignee_id == User.id).join(Site, Site.id == Task.site_id)
            .where(Task.week == week).group_by(User.id, User.name).order_by(User.name))
    if dong:
        load = load.where(Site.dong == dong)
    monday = clock.week_monday(week)
    incidents = db.session.scalars(select(Incident).join(Site).options(contains_eager(Incident.site)).where(
        Incident.confirmed_on <= monday + timedelta(days=6), Incident.raised_until >= monday - timedelta(days=14))
        .where(Site.dong == dong if dong else True).order_by(Incident.confirmed_on.desc())).all()
    as_of = week_as_of(week)
    return {
        "week": week, "late": late, "late_by_inspector": by_inspector, "late_by_dong": by_dong,
        "workload": [{"id": i, "name": n, "open": int(o or 0), "done": int(d or 0), "missed": int(m or 0),
                      "overdue": int(od or 0)} for i, n, o, d, m, od in db.session.execute(load)],
        # A past week's actions as they stood when it ended, not as they stand today.
        "action_ages": action_age_buckets(dong, as_of=as_of),
        "actions_as_of": as_of,
        "incidents": incidents,
    }


def site_panel(site: Site) -> dict:
    """What the site page shows of the schedule: open actions, open tasks, incidents and the risk with its rule."""
    return {
        "open_actions": db.session.scalars(actions_stmt(status="open", site_id=site.id)).all(),
        "open_tasks": db.session.scalars(select(Task).where(Task.site_id == site.id, Task.status == "open")
                                         .order_by(Task.due_at)).all(),
        "incidents": db.session.scalars(select(Incident).where(Incident.site_id == site.id)
                                        .order_by(Incident.confirmed_on.desc())).all(),
        "risk": risk_scores([site.id]).get(site.id, {"score": 0, "level": "low", "parts": {}}),
        "risk_rule": risk_rule(),
        "note_max": NOTE_MAX,
        "panels_template": "schedule/site_panel.html",
    }
