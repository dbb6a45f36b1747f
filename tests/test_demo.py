"""The demo: 73 fictional call centres whose counts equal the 2020 council report exactly, and one login a role."""
import re
from datetime import date

import pytest
from sqlalchemy import func, select

from conftest import app_context, csrf_from
from tracker.models import Action, Answer, Audit, DongAssignment, Incident, Inspection, Site, SummaryWeek, Task, User
from tracker.services import demo, sites

# SEED_FACTS.md, typed in again here so that a change to the demo module cannot change the expectation.
BY_DONG = {"영등포동": 13, "여의동": 22, "당산1동": 7, "당산2동": 5, "문래동": 9, "양평1동": 8, "양평2동": 8,
           "신길6동": 1}
BY_BAND = {"50 이하": 29, "51~100": 14, "101~150": 4, "151~200": 9, "201~250": 2, "251~300": 5, "301~400": 3,
           "401~700": 3, "701이상": 4}


@pytest.fixture
def seeded(app, db):
    with app_context(app):
        made = demo.seed(out=lambda *_: None)
        db.session.commit()
    return made


def test_seed_counts_equal_the_report_exactly(app_ctx, db, seeded):
    assert seeded == {"users": 4, "sites": 73}
    counts = sites.counts()
    assert counts["total"] == 73
    assert counts["by_dong"] == BY_DONG
    assert counts["by_band"] == BY_BAND
    # and counted straight from the rows, with each band recomputed from the head count
    from tracker import district
    d = district.current()
    rows = db.session.scalars(select(Site)).all()
    assert len(rows) == 73 and all(s.status == "active" for s in rows)
    assert all(s.size_band == d.band_for(s.headcount) for s in rows)
    assert len({s.business_no for s in rows}) == 73 and len({s.name for s in rows}) == 73
    assert len({s.qr_token for s in rows}) == 73


def test_every_dong_gets_a_mix_of_sizes(app_ctx, db, seeded):
    bands_in_yeoui = db.session.scalars(select(Site.size_band).where(Site.dong == "여의동").distinct()).all()
    assert len(bands_in_yeoui) >= 4


def test_seeding_twice_changes_nothing(app_ctx, db, seeded):
    def state():
        return (
            sorted((s.business_no, s.name, s.dong, s.headcount, s.size_band, s.qr_token, s.status)
                   for s in db.session.scalars(select(Site))),
            sorted((u.email, u.role, u.password_hash) for u in db.session.scalars(select(User))),
            db.session.scalar(select(func.count()).select_from(Audit)),
            sorted((a.dong, a.inspector_id) for a in db.session.scalars(select(DongAssignment))),
            # the story's history: the sweep, the rounds, their follow-up, the case, the dashboard's rollup
            [db.session.scalar(select(func.count()).select_from(m)) for m in
             (Inspection, Answer, Task, Action, Incident, SummaryWeek)],
            db.session.scalar(select(func.sum(SummaryWeek.inspections))),
        )
    from datetime import date
    demo.seed_history(date(2020, 3, 9))
    db.session.commit()
    before = state()
    assert all(before[4]), before[4]
    again = demo.seed(out=lambda *_: None)
    assert demo.seed_history(date(2020, 3, 9)) == {"inspections": 0}
    db.session.commit()
    assert again == {"users": 0, "sites": 0}
    assert state() == before


def test_seed_keeps_edits_made_since(app_ctx, db, seeded):
    s = db.session.scalars(select(Site).order_by(Site.id)).first()
    sites.update_site(s, {**s.snapshot(), "name": "이름바꾼센터"})
    db.session.commit()
    demo.seed(out=lambda *_: None)
    db.session.commit()
    db.session.refresh(s)
    assert s.name == "이름바꾼센터"
    assert db.session.scalar(select(func.count()).select_from(Site)) == 73


@pytest.mark.parametrize("email,password,role,allowed,refused", [
    ("admin@tracker.local", "demo-admin-1234", "admin", ["/admin/users", "/sites/new"], []),
    ("lead@tracker.local", "demo-lead-1234", "lead", ["/sites/new", "/sites/qr-sheet"], ["/admin/users"]),
    ("inspector@tracker.local", "demo-inspector-1234", "inspector", ["/sites/", "/inspect"],
     ["/sites/new", "/admin/users"]),
])
def test_demo_accounts_one_per_role_can_log_in(app, client, db, seeded, email, password, role, allowed, refused):
    with app.app_context():
        assert db.session.scalar(select(User.role).where(User.email == email)) == role
    token = csrf_from(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    assert resp.status_code == 302
    assert [client.get(u).status_code for u in allowed] == [200] * len(allowed)
    assert [client.get(u).status_code for u in refused] == [403] * len(refused)


def test_the_register_page_shows_the_report_tables_after_seeding(client, db, seeded, login):
    login("lead")
    html = client.get("/sites/").get_data(as_text=True)
    assert "총 73개소" in html
    for dong in BY_DONG:
        assert dong in html


# --- the story without --start: it ends this week, which is in progress (issue 15) ------------------------------

def log_in_as(app, email, password):
    """A test client of its own, logged in as a demo user through the real form."""
    client = app.test_client()
    resp = client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": csrf_from(client.get("/login").get_data(as_text=True))})
    assert resp.status_code == 302, email
    return client


def round_tasks(db, week):
    """{status: count} of a week's basic round (one task a site), with open ones split by overdue."""
    rows = db.session.execute(select(Task.status, Task.overdue, func.count()).where(
        Task.week == week, Task.kind == "weekly_monitoring", Task.slot == 0).group_by(Task.status, Task.overdue))
    return {(s if s != "open" else "overdue" if od else "open"): n for s, od, n in rows}


@pytest.mark.parametrize("now,done", [
    ("2026-11-23T07:30", 0),    # Monday before work: nothing yet this week, but last week left work behind
    ("2026-11-25T15:00", 33),   # Wednesday afternoon: about half of the round
    ("2026-11-28T11:00", 62),   # Saturday: 85 % done by Friday 18:00, the rest overdue
])
def test_the_demo_week_is_in_progress_whatever_the_day(app, db, seeded, clock_at, now, done):
    from datetime import datetime

    from tests.test_summary import page_figures
    from tracker import clock
    from tracker.services.summary import compute
    kst = clock.ZoneInfo("Asia/Seoul")
    clock_at(datetime.fromisoformat(now).replace(tzinfo=kst))
    week, last_week = "2026-W48", "2026-W47"
    past_due = now >= "2026-11-27T18:00"
    with app.app_context():
        assert demo.seed_history()["inspections"] > 900
        assert demo.seed_history() == {"inspections": 0}   # laid once: a second run adds nothing
        db.session.commit()
        this = round_tasks(db, week)
        # (a reinspection visit made this week counts as the site's round too, so a few more may be done)
        assert done <= this.get("done", 0) <= done + 5 and this.get("missed", 0) == 0
        still_open = 73 - this.get("done", 0)
        assert still_open > 0 and this.get("overdue", 0) == (still_open if past_due else 0)
        assert round_tasks(db, last_week) == {"done": 70, "missed": 3}
        # Follow-up: one critical shortfall of last week nobody went back to check, and a few still within their time.
        (late,) = db.session.scalars(select(Action).where(Action.status == "escalated")).all()
        assert late.critical and late.item_key == "masks_mandatory"
        assert db.session.scalar(select(func.count()).select_from(Action).where(Action.status == "open")) >= 2
        reinspection = db.session.scalars(select(Task).where(Task.site_id == late.site_id,
                                                             Task.kind == "reinspection", Task.status == "open")).one()
        assert reinspection.overdue and reinspection.week == last_week

    # An inspector has sites to do this week.
    client = log_in_as(app, "inspector@tracker.local", "demo-inspector-1234")
    page = client.get("/inspect").get_data(as_text=True)
    assert int(re.search(r"미점검만 (\d+)", page).group(1)) > 0 and "미점검" in page
    # A lead sees who is late: this week's overdue sites from Friday evening, last week's missed ones any day.
    client = log_in_as(app, "lead@tracker.local", "demo-lead-1234")
    with app.app_context():
        late_names = set(db.session.scalars(select(Site.name).join(Task, Task.site_id == Site.id).where(
            Task.week == (week if past_due else last_week), Task.kind == "weekly_monitoring",
            Task.status.in_(("open", "missed")))))
    assert late_names
    late_card = client.get(f"/schedule?week={week if past_due else last_week}").get_data(as_text=True)
    late_card = late_card[late_card.index('id="late"'):late_card.index('id="late-by-dong"')]
    assert all(name in late_card for name in late_names)
    actions = client.get("/actions").get_data(as_text=True)
    assert "기한 지남" in actions and "미조치" in actions
    # ... and lands on a 12-week trend, this week's progress on top.
    html = client.get("/dashboard").get_data(as_text=True)
    fig = page_figures(html)
    weeks = sorted(k[1] for k in fig if k[0] == "weeks" and k[2] == "inspections")
    assert weeks == [clock.add_weeks(week, -n) for n in range(11, -1, -1)]
    assert all(fig[("weeks", w, "inspections")] > 0 for w in weeks[:-1])
    with app.app_context():
        rounds = compute(weeks[0], week)["monitoring_rounds"]
    assert fig[("progress", None, "done")] == this.get("done", 0) and rounds == 12


def test_the_demo_story_names_branches_after_their_dong_and_dates_the_register(app_ctx, db, seeded, clock_at):
    from tracker import clock
    clock_at(clock.at_local(date(2026, 11, 25), "15:00"))
    demo.seed_history()
    db.session.commit()
    rows = db.session.execute(select(Site.name, Site.dong, Site.created_at, func.min(Inspection.submitted_at))
                              .join(Inspection, Inspection.site_id == Site.id).group_by(Site.id)).all()
    assert len(rows) == 73
    # 한빛고객센터 여의동점: the branch is named after the dong it is in.
    assert all(name.endswith(f" {dong}점") for name, dong, _c, _f in rows)
    # A site's history starts when its first inspection did, not when the demo was loaded.
    assert all(created == first for _n, _d, created, first in rows)
    created = dict(db.session.execute(select(Audit.entity_id, Audit.at).where(Audit.entity == "site",
                                                                              Audit.action == "create")).all())
    assert created == dict(db.session.execute(select(Site.id, Site.created_at)).all())
