"""Demo data: 73 fictional call centres whose counts by dong and band equal the 2020 report, and one user a role."""
import random
import uuid
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from .. import clock, district
from ..extensions import db
from ..models import DongAssignment, Inspection, Site, Task, User
from . import accounts, checklist, inspections, schedule, sites

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
_PREFIX = ["한빛", "새솔", "누리", "다온", "가람", "하늘", "푸른", "미래", "으뜸", "온누리", "바른", "해솔", "늘봄", "다솜",
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
        name = f"{_PREFIX[i % len(_PREFIX)]}{_SUFFIX[i % len(_SUFFIX)]} {dong[:2]}{i // len(_PREFIX) + 1}호점"
        out.append({"name": name, "business_no": f"107-8{i // 100}-{10000 + i * 37:05d}", "dong": dong,
                    "address": f"서울특별시 영등포구 {dong} 데모로 {10 + i}",
                    "headcount": hc, "manager_name": f"담당자{i + 1:02d}",
                    "manager_phone": f"02-2670-{3000 + i:04d}"})
    return out


def seed(out=print) -> dict:
    """Load demo users, the default checklist and the 73 sites; a second run changes nothing."""
    made = {"users": 0, "sites": 0}
    for email, name, role, pw in DEMO_USERS:
        if accounts.find_user(email) is None:
            accounts.create_user(email, name, role, pw)
            made["users"] += 1
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


def active_site_count() -> int:
    """How many active sites the register holds."""
    return db.session.scalar(select(func.count()).select_from(Site).where(Site.status == "active"))


# --- the seed's story: one on-site week, 12 weekly rounds, one incident ----------------------------------

ROUNDS = 12
INCIDENT_OFFSET = timedelta(weeks=8, days=5)  # 2020-05-09 is the Saturday of the 9th week after 2020-03-09
INCIDENT_NOTE = "동작구 거주 직원 1명 확진 (이태원 클럽 관련), 추가 확진자 없음 — 데모"


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return clock.at_local(day, f"{hour:02d}:{minute:02d}")


def _answers(items, mode: str, rng: random.Random, fail_rate: float) -> dict:
    out = {}
    for item in items:
        if not item.applies_to(mode):
            continue
        roll = rng.random()
        value = "no" if roll < fail_rate else "na" if roll > 0.985 and not item.critical else "yes"
        out[item.key] = {"value": value, "note": "현장 확인 필요" if value == "no" else ""}
    return out


def _submit(site: Site, mode: str, when: datetime, by: User, answers: dict, real_now: datetime) -> None:
    if when > real_now:  # the story is recorded only as far as today
        return
    clock.set_now(when)
    data = {"site_id": site.id, "mode": mode, "client_uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"demo/{site.id}/{when.isoformat()}")),
            "answers": answers}
    if mode == "phone":
        data.update(contact_name=site.manager_name or "담당자", called_at=when.isoformat())
    else:
        data["qr_token"] = site.qr_token
    inspections.submit(data, by=by)


def seed_history(start: date | None = None) -> dict:
    """Lay out the seed's story once: on-site inspections of every site, 12 weekly rounds and one incident.

    With a start date (2020-03-09 for the real calendar) the story begins that Monday; otherwise it is laid
    so that its last round is this week, and only what has already happened by now is recorded.
    """
    if db.session.scalar(select(func.count()).select_from(Inspection)):
        return {"inspections": 0}
    real_now = clock.now()
    first_week = clock.week_of(start) if start else clock.add_weeks(clock.week_of(real_now), -ROUNDS)
    monday = clock.week_monday(first_week)
    tpl = checklist.ensure_default()
    items = list(tpl.items)
    all_sites = db.session.scalars(select(Site).where(Site.status == "active").order_by(Site.id)).all()
    inspectors = db.session.scalars(select(User).where(User.role == "inspector").order_by(User.id)).all()
    lead = db.session.scalar(select(User).where(User.role == "lead").order_by(User.id))
    assignment = dict(db.session.execute(select(DongAssignment.dong, DongAssignment.inspector_id)).all())
    by_id = {u.id: u for u in inspectors}
    who = lambda site: by_id.get(assignment.get(site.dong)) or inspectors[0]  # noqa: E731
    rng = random.Random(2020)
    try:
        # Week 0: the on-site inspection of every site, spread over the working week.
        for i, site in enumerate(all_sites):
            day = monday + timedelta(days=i % 5)
            _submit(site, "onsite", _at(day, 9 + (i // 5) % 8, (i * 7) % 60), who(site),
                    _answers(items, "onsite", rng, 0.04), real_now)
        _reinspect(monday + timedelta(days=7), who, real_now)
        incident_site = next(s for s in all_sites if s.dong == "여의동")
        incident_day = monday + INCIDENT_OFFSET
        raised_from = incident_day + timedelta(days=2)  # the Monday after the Saturday it was confirmed
        for n in range(1, ROUNDS + 1):
            week = clock.add_weeks(first_week, n)
            wk_monday = clock.week_monday(week)
            if _at(wk_monday, 0, 5) > real_now:
                break
            clock.set_now(_at(wk_monday, 0, 5))
            schedule.schedule_week(week)
            modes = dict(db.session.execute(select(Task.site_id, Task.required_mode).where(
                Task.week == week, Task.kind == schedule.ROUND, Task.slot == 0)).all())
            for i, site in enumerate(all_sites):
                # One week in the middle, two sites were not reached: the dashboard shows them as missed.
                if n == 5 and i in (3, 40):
                    continue
                day = wk_monday + timedelta(days=i % 4)
                # A high-risk site's round is an on-site visit; the rest are phone calls.
                mode = "onsite" if modes.get(site.id) == "onsite" else "phone"
                _submit(site, mode, _at(day, 10 + i % 7, (i * 11) % 60), who(site),
                        _answers(items, mode, rng, 0.015), real_now)
                if site.id == incident_site.id and raised_from <= wk_monday <= incident_day + timedelta(days=14):
                    # The raised cadence: a second check, on site, late in the week.
                    _submit(site, "onsite", _at(wk_monday + timedelta(days=4), 15), who(site),
                            _answers(items, "onsite", rng, 0), real_now)
            if wk_monday <= incident_day < wk_monday + timedelta(days=7) and _at(incident_day, 11) <= real_now:
                clock.set_now(_at(incident_day, 11))
                schedule.record_incident(incident_site, incident_day, 1, INCIDENT_NOTE, by=lead)
                _submit(incident_site, "onsite", _at(schedule.next_working_day(incident_day), 10), who(incident_site),
                        _answers(items, "onsite", rng, 0), real_now)
            _reinspect(wk_monday + timedelta(days=7), who, real_now)
            clock.set_now(min(real_now, _at(wk_monday + timedelta(days=7), 0, 30)))
            schedule.mark_overdue()
    finally:
        clock.set_now(None)
    return {"inspections": db.session.scalar(select(func.count()).select_from(Inspection))}


def _reinspect(before: date, who, real_now: datetime) -> None:
    """Follow every reinspection task due before a date with an on-site visit that finds it fixed."""
    tpl = checklist.current()
    due = db.session.scalars(select(Task).where(Task.kind == schedule.REINSPECTION, Task.status == "open",
                                                Task.due_at < _at(before, 0))).all()
    for task in due:
        answers = {i.key: {"value": "yes", "note": ""} for i in tpl.items if i.applies_to("onsite")}
        _submit(task.site, "onsite", task.due_at - timedelta(days=1), who(task.site), answers, real_now)
