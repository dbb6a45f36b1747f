"""The demo: 73 fictional call centres whose counts equal the 2020 council report exactly, and one login a role."""
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
