"""Demo data: 73 fictional call centres whose counts by dong and band equal the 2020 report, one user a role,
and their story (the on-site sweep, 12 weekly rounds, one confirmed case, and this week in progress)."""
import random
import uuid
from datetime import date, datetime, timedelta

from sqlalchemy import func, select, update

from .. import clock, district
from ..extensions import db
from ..models import Action, Audit, ChecklistTemplate, DongAssignment, Inspection, Site, Task, User
from . import accounts, checklist, inspections, location, schedule, sites

# The report's tables (SEED_FACTS.md): sites by dong, and sites by head-count band in band order.
SEED_BY_DONG = {"영등포동": 13, "여의동": 22, "당산1동": 7, "당산2동": 5, "문래동": 9, "양평1동": 8, "양평2동": 8,
                "신길6동": 1}
SEED_BY_BAND = [29, 14, 4, 9, 2, 5, 3, 3, 4]
DEMO_USERS = [
    ("admin@tracker.local", "관리자 (데모)", "admin", "demo-admin-1234"),
    ("lead@tracker.local", "김팀장 (데모)", "lead", "demo-lead-1234"),
    ("inspector@tracker.local", "이점검 (데모)", "inspector", "demo-inspector-1234"),
    ("inspector2@tracker.local", "박점검 (데모)", "inspector", "demo-inspector-1234"),
]
_PREFIX = ["한빛", "새솔", "누리", "다온", "가람", "하늘", "푸른", "미래", "으뜸", "온누리", "바른", "해솔", "늘봄",
           "다솜",
           "세움", "여울", "나래", "한결"]
_SUFFIX = ["고객센터", "콜센터", "컨택센터", "상담센터"]


def _headcounts() -> list[int]:
    """73 head counts spread inside each band, lowest band first."""
    edges = district.current().band_edges
    lows = [1] + [e + 1 for e in edges]
    highs = edges + [1500]
    out = []
    for n, lo, hi in zip(SEED_BY_BAND, lows, highs):
        lo = max(lo, 8)
        out += [lo + (hi - lo) * i // max(1, n) for i in range(n)]
    return out


def demo_sites() -> list[dict]:
    """The 73 fictional sites, deterministic so that seeding twice changes nothing."""
    dongs = [d for d, n in SEED_BY_DONG.items() for _ in range(n)]
    heads = _headcounts()
    # Interleave so that every dong gets a mix of sizes, as a real district would.
    heads = heads[0::3] + heads[1::3] + heads[2::3]
    out = []
    for i, (dong, hc) in enumerate(zip(dongs, heads)):
        # A branch is named after the dong it is in (여의동점); no two branches of one brand share a dong.
        name = f"{_PREFIX[i % len(_PREFIX)]}{_SUFFIX[i % len(_SUFFIX)]} {dong}점"
        out.append({"name": name, "business_no": f"107-8{i // 100}-{10000 + i * 37:05d}", "dong": dong,
                    "address": f"서울특별시 영등포구 {dong} 데모로 {10 + i}",
                    "headcount": hc, "manager_name": f"담당자{i + 1:02d}",
                    "manager_phone": f"02-2670-{3000 + i:04d}"})
    return out


def seed(out=print) -> dict:
    """Load demo users, the default checklist and the 73 sites; a second run changes nothing."""
    made = {"users": 0, "sites": 0}
    for email, name, role, pw in DEMO_USERS:
        user = accounts.find_user(email)
        if user is None:
            user = accounts.create_user(email, name, role, pw)
            made["users"] += 1
        if role == "inspector" and location.state(user).state == location.UNASKED:
            # The demo's inspectors have agreed to their position being recorded; one who withdrew stays so.
            location.decide(user, True)
    checklist.ensure_default()
    for data in demo_sites():
        if sites.find_by_business_no(data["business_no"]) is None:
            sites.create_site(data)
            made["sites"] += 1
    _assign_dongs()
    db.session.flush()
    return made


def _assign_dongs() -> None:
    inspectors = db.session.scalars(select(User).where(User.role == "inspector", User.email.like("%@tracker.local"))
                                    .order_by(User.email)).all()
    if not inspectors:
        return
    taken = set(db.session.scalars(select(DongAssignment.dong)))
    for i, dong in enumerate(SEED_BY_DONG):
        if dong not in taken:
            db.session.add(DongAssignment(dong=dong, inspector_id=inspectors[i % len(inspectors)].id))


def logins_present() -> list[tuple[str, str, str]]:
    """(email, role, password) of the demo's logins that are in the database and active, for the start screen."""
    from ..models import User
    active = set(db.session.scalars(select(User.email).where(User.active, User.email.in_([u[0] for u in DEMO_USERS]))))
    return [(email, role, pw) for email, _name, role, pw in DEMO_USERS if email in active]


def active_site_count() -> int:
    """How many active sites the register holds."""
    return db.session.scalar(select(func.count()).select_from(Site).where(Site.status == "active"))


# --- the seed's story -------------------------------------------------------------------------------------

ROUNDS = 12
INCIDENT_OFFSET = timedelta(weeks=8, days=5)  # 2020-05-09 is the Saturday of the 9th week after 2020-03-09
INCIDENT_NOTE = "동작구 거주 직원 1명 확진 (이태원 클럽 관련), 추가 확진자 없음 — 데모"
# When the story reaches this week, the week is in progress, so that an inspector has sites to do and a lead has
# something to chase: this share of the round is done by Friday evening, spread over the working hours gone by
# (from Friday's due time the rest is overdue).
DONE_BY_FRIDAY = 0.85
WORK_HOURS = (9, 18)
# ... and last week, three sites were not reached (missed), and one site's critical shortfall was never checked
# again: its action is escalated, its reinspection overdue, and it is not done this week either (indexes of
# sites in the register's order).
LAST_WEEK_MISSED = (5, 30, 50)
UNFOLLOWED, UNFOLLOWED_ITEM = 8, "masks_mandatory"
# The latest calls of this week find these shortfalls: open actions, not yet due.
STILL_OPEN_ITEMS = ("ventilation", "personal_headsets")


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return clock.at_local(day, f"{hour:02d}:{minute:02d}")


def seed_history(start: date | None = None) -> dict:
    """Lay out the seed's story once: on-site inspections of every site, 12 weekly rounds and one incident.

    With a start date (2020-03-09 for the real calendar) the story begins that Monday; otherwise it is laid
    so that its last round is this week, in progress: only what has already happened by now is recorded.
    """
    if db.session.scalar(select(func.count()).select_from(Inspection)):
        return {"inspections": 0}
    story = _Story(start)
    try:
        story.sweep()
        for n in range(1, ROUNDS + 1):
            if not story.lay_round(n):
                break
    finally:
        clock.set_now(None)
    return {"inspections": db.session.scalar(select(func.count()).select_from(Inspection))}


class _Story:
    """The story as it is laid: its calendar, the sites and who inspects each, the checklist and the dice."""

    def __init__(self, start: date | None):
        self.now = clock.now()
        self.this_week = clock.week_of(self.now)
        self.first_week = clock.week_of(start) if start else clock.add_weeks(self.this_week, -ROUNDS)
        self.template = checklist.ensure_default()
        self.items = list(self.template.items)
        self.sites = db.session.scalars(select(Site).where(Site.status == "active").order_by(Site.id)).all()
        inspectors = db.session.scalars(select(User).where(User.role == "inspector").order_by(User.id)).all()
        assignment = dict(db.session.execute(select(DongAssignment.dong, DongAssignment.inspector_id)).all())
        by_id = {u.id: u for u in inspectors}
        self.who = lambda site: by_id.get(assignment.get(site.dong)) or inspectors[0]
        self.lead = db.session.scalar(select(User).where(User.role == "lead").order_by(User.id))
        self.unfollowed: set[int] = set()
        self.rng = random.Random(2020)
        self.incident_site = next((s for s in self.sites if s.dong == "여의동"), None)
        self.incident_day = clock.week_monday(self.first_week) + INCIDENT_OFFSET

    def sweep(self) -> None:
        """Week 0: the on-site inspection of every site, spread over the working week."""
        monday = clock.week_monday(self.first_week)
        firsts = {}
        for i, site in enumerate(self.sites):
            firsts[site] = _at(monday + timedelta(days=i % 5), 9 + (i // 5) % 8, (i * 7) % 60)
            self.lay(site, "onsite", firsts[site], 0.04)
        _date_back(firsts, self.template)
        self.reinspect(monday + timedelta(days=7))

    def lay_round(self, n: int) -> bool:
        """Round n as far as now: the week's tasks, its calls and visits, follow-up, late marking. False when
        the week has not begun."""
        week = clock.add_weeks(self.first_week, n)
        monday = clock.week_monday(week)
        if _at(monday, 0, 5) > self.now:
            return False
        clock.set_now(_at(monday, 0, 5))
        schedule.schedule_week(week)
        onsite = set(db.session.scalars(select(Task.site_id).where(
            Task.week == week, Task.kind == schedule.ROUND, Task.slot == 0, Task.required_mode == "onsite")))
        for site, when, fail in self.plan(n, week, monday):
            # A high-risk site's round is an on-site visit; the rest are phone calls.
            self.lay(site, "onsite" if site.id in onsite else "phone", when, 0.015, fail)
        self.incident(monday)
        self.reinspect(monday + timedelta(days=7))
        clock.set_now(min(self.now, _at(monday + timedelta(days=7), 0, 30)))
        schedule.mark_overdue()
        return True

    def plan(self, n: int, week: str, monday: date) -> list[tuple[Site, datetime, tuple]]:
        """Who is called when in a round, Monday to Thursday, with the items a call is to find failing."""
        if week == self.this_week:
            return self.in_progress(monday)
        # One week in the middle, two sites were not reached: the dashboard shows them as missed.
        skip, fail = ({3, 40} if n == 5 else set()), {}
        if week == clock.add_weeks(self.this_week, -1):
            skip, fail = set(LAST_WEEK_MISSED), {UNFOLLOWED: (UNFOLLOWED_ITEM,)}
            self.unfollowed = {s.id for i, s in enumerate(self.sites) if i == UNFOLLOWED}
        return [(site, _at(monday + timedelta(days=i % 4), 10 + i % 7, (i * 11) % 60), fail.get(i, ()))
                for i, site in enumerate(self.sites) if i not in skip]

    def in_progress(self, monday: date) -> list[tuple[Site, datetime, tuple]]:
        """This week: the share of the round done by now, in an order that mixes the dongs (and so both
        inspectors); the unfollowed site stays undone."""
        n = len(self.sites)
        order = sorted((i for i in range(n) if i != UNFOLLOWED), key=lambda i: ((i * 29) % n, i))
        times = _working_times(monday, self.now, round(n * DONE_BY_FRIDAY))
        plan = [(self.sites[i], when, ()) for i, when in zip(order, times)]
        for k, item in zip(range(len(plan) - 1, -1, -1), STILL_OPEN_ITEMS):
            plan[k] = (plan[k][0], plan[k][1], (item,))
        return plan

    def incident(self, monday: date) -> None:
        """The confirmed case of the 9th week, and the raised cadence of the two weeks after it."""
        site, day = self.incident_site, self.incident_day
        if site is None:
            return
        if day + timedelta(days=2) <= monday <= day + timedelta(days=14):
            # The raised cadence: a second check, on site, late in the week.
            self.lay(site, "onsite", _at(monday + timedelta(days=4), 15), 0)
        if monday <= day < monday + timedelta(days=7) and _at(day, 11) <= self.now:
            clock.set_now(_at(day, 11))
            schedule.record_incident(site, day, 1, INCIDENT_NOTE, by=self.lead)
            self.lay(site, "onsite", _at(schedule.next_working_day(day), 10), 0)

    def reinspect(self, before: date) -> None:
        """Follow every reinspection task due before a date with an on-site visit, the day before it is due, that
        finds it fixed (but for the site the story leaves unfollowed)."""
        due = db.session.scalars(select(Task).where(
            Task.kind == schedule.REINSPECTION, Task.status == "open", Task.due_at < _at(before, 0),
            Task.site_id.not_in(self.unfollowed))).all()
        answers = {i.key: {"value": "yes", "note": ""} for i in self.items if i.applies_to("onsite")}
        for task in due:
            self.submit(task.site, "onsite", task.due_at - timedelta(days=1), answers)

    def lay(self, site: Site, mode: str, when: datetime, fail_rate: float, fail: tuple = ()) -> None:
        """One inspection with answers by the dice (the items in fail answered no)."""
        if when <= self.now:
            self.submit(site, mode, when, self.answers(site, mode, fail_rate, fail))

    def answers(self, site: Site, mode: str, fail_rate: float, fail: tuple) -> dict:
        # A shortfall found before is fixed by the next call or visit, so that no action escalates by chance.
        fixed = set(db.session.scalars(select(Action.item_key).where(
            Action.site_id == site.id, Action.status.in_(schedule.OPEN_ACTION))))
        out = {}
        for item in self.items:
            if not item.applies_to(mode):
                continue
            roll = self.rng.random()
            value = ("no" if item.key in fail else "yes" if item.key in fixed else "no" if roll < fail_rate
                     else "na" if roll > 0.985 and not item.critical else "yes")
            out[item.key] = {"value": value, "note": "현장 확인 필요" if value == "no" else ""}
        return out

    def submit(self, site: Site, mode: str, when: datetime, answers: dict) -> None:
        if when > self.now:  # the story is recorded only as far as now
            return
        clock.set_now(when)
        data = {"site_id": site.id, "mode": mode, "answers": answers,
                "client_uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"demo/{site.id}/{when.isoformat()}"))}
        if mode == "phone":
            data.update(contact_name=site.manager_name or "담당자", called_at=when.isoformat())
        else:
            data["qr_token"] = site.qr_token
        inspections.submit(data, by=self.who(site))


def _date_back(firsts: dict[Site, datetime], template: ChecklistTemplate) -> None:
    """Each site's register entry dates from its first inspection, and the checklist from the first of all, rather
    than from the moment the demo was loaded: no history starts after the inspections it holds."""
    for site, when in firsts.items():
        if site.created_at > when:
            site.created_at = site.updated_at = when
    if firsts and template.created_at > min(firsts.values()):
        template.created_at = min(firsts.values())
    db.session.flush()
    for entity, model, ids in (("site", Site, [s.id for s in firsts]), ("checklist", ChecklistTemplate, [template.id])):
        db.session.execute(update(Audit).where(Audit.entity == entity, Audit.action.in_(("create", "publish")),
                                               Audit.entity_id.in_(ids))
                           .values(at=select(model.created_at).where(model.id == Audit.entity_id).scalar_subquery())
                           .execution_options(synchronize_session=False))


def _working_times(monday: date, now: datetime, by_friday: int) -> list[datetime]:
    """When the rounds done so far this week were made: by_friday of them over the week's working hours
    (Monday to Friday), as many of them as the hours gone by now allow, evenly spread over those hours."""
    days = [(_at(monday + timedelta(days=d), WORK_HOURS[0]), _at(monday + timedelta(days=d), WORK_HOURS[1]))
            for d in range(5)]
    spans = [(begin, max(timedelta(0), min(now, end) - begin)) for begin, end in days]
    gone = sum((span for _begin, span in spans), timedelta(0))
    n = int(by_friday * (gone / sum((end - begin for begin, end in days), timedelta(0))))
    out = []
    for k in range(n):
        offset = gone * (k + 0.5) / n
        for begin, span in spans:
            if offset < span:
                out.append((begin + offset).replace(second=0, microsecond=0))
                break
            offset -= span
    return out
