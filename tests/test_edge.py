"""The edge: a request commits once at its end or rolls back whole, and a GET writes nothing.

What was committed is read on a connection of its own: a row the request only flushed is not there.
"""
import re
import uuid
from contextlib import contextmanager

import pytest
from flask import url_for
from sqlalchemy import event, func, select

from tests.conftest import PASSWORD, app_context, csrf_from, loaded
from tracker import clock, district
from tracker.models import AccessLog, Audit, ChecklistTemplate, DongAssignment, Incident, LoginThrottle, Task
from tracker.services import ServiceError, checklist, inspections, mail, replies, schedule

WRITE = re.compile(r"^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(\w+)", re.IGNORECASE)
# Tables a GET may write: the access log of personal data (edge.record), and a login's last use (at most once a
# minute) or its end when it went idle (edge.keep).
BOOKKEEPING: set[str] = {AccessLog.__tablename__, "user_session"}


def committed(app, db, stmt) -> int:
    """A count as another connection sees it: only what the edge committed."""
    with app.app_context(), db.engine.connect() as conn:
        return conn.scalar(stmt)


def n_committed(app, db, model, *where) -> int:
    return committed(app, db, select(func.count()).select_from(model).where(*where))


@contextmanager
def writes(app, db):
    """The tables written (INSERT, UPDATE, DELETE) while the block runs, with the statements that wrote them."""
    seen: list[tuple[str, str]] = []

    def record(_conn, _cursor, statement, *_args):
        m = WRITE.match(statement)
        if m:
            seen.append((m.group(2).lower(), statement.split("\n")[0][:120]))
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def incident_form(client, site):
    token = csrf_from(client.get(f"/sites/{site.id}").get_data(as_text=True))
    with client.application.app_context():
        today = clock.today()
    return {"csrf_token": token, "confirmed_on": today.isoformat(), "cases": "1", "note": ""}


# --- a write commits once, or not at all ---------------------------------------------------------------------

def test_a_successful_post_is_committed(app, client, db, login, site_factory):
    site = site_factory()
    login("lead")
    resp = client.post(f"/sites/{site.id}/incidents", data=incident_form(client, site))
    assert resp.status_code == 302
    assert n_committed(app, db, Incident, Incident.site_id == site.id) == 1
    assert n_committed(app, db, Task, Task.site_id == site.id, Task.kind == schedule.INCIDENT) == 1


def test_a_refused_form_leaves_nothing_half_written(app, client, db, login, make_user):
    """The dongs are saved together: the first one's assignment, already flushed, goes when a later one is refused,
    and the page shown again reads what is stored."""
    login("lead")
    inspector, not_an_inspector = make_user("inspector"), make_user("lead")
    with app.app_context():
        dongs = district.current().dongs
    page = client.get("/schedule/assignments").get_data(as_text=True)
    with writes(app, db) as seen:
        resp = client.post("/schedule/assignments", data={
            "csrf_token": csrf_from(page), f"dong-{dongs[0]}": str(inspector.id),
            f"dong-{dongs[-1]}": str(not_an_inspector.id)})
    assert "dong_assignment" in {table for table, _stmt in seen}  # the first dong really was written, then undone
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "점검원을 찾을 수 없습니다" in html
    assert f'value="{inspector.id}" selected' not in html
    assert n_committed(app, db, DongAssignment) == 0
    assert n_committed(app, db, Audit, Audit.entity == "assignment") == 0


def _flush_then(exc: Exception):
    """schedule.record_incident that writes the incident and its task, then fails."""
    real = schedule.record_incident

    def record_incident(*args, **kwargs):
        real(*args, **kwargs)
        raise exc
    return record_incident


def test_a_service_error_after_a_flush_rolls_back_though_the_page_redirects(app, client, db, login, site_factory,
                                                                            monkeypatch):
    site = site_factory()
    login("lead")
    monkeypatch.setattr(schedule, "record_incident", _flush_then(ServiceError("확진자 수는 1 이상이어야 합니다")))
    resp = client.post(f"/sites/{site.id}/incidents", data=incident_form(client, site))
    assert resp.status_code == 302  # back to the site page, with the message
    assert "확진자 수는 1 이상이어야 합니다" in client.get(resp.headers["Location"]).get_data(as_text=True)
    assert n_committed(app, db, Incident) == 0 and n_committed(app, db, Task) == 0


@pytest.mark.parametrize("propagate", [False, True], ids=["500 page", "exception raised to the caller"])
def test_a_crash_after_a_flush_rolls_the_whole_request_back(app, client, db, login, site_factory, monkeypatch,
                                                           propagate):
    site = site_factory()
    login("lead")
    form = incident_form(client, site)
    monkeypatch.setattr(schedule, "record_incident", _flush_then(RuntimeError("disk full")))
    app.config["PROPAGATE_EXCEPTIONS"] = propagate  # False: as in production, a 500 page
    if propagate:
        with pytest.raises(RuntimeError):
            client.post(f"/sites/{site.id}/incidents", data=form)
    else:
        assert client.post(f"/sites/{site.id}/incidents", data=form).status_code == 500
    assert n_committed(app, db, Incident) == 0 and n_committed(app, db, Task) == 0
    with app.app_context():  # and a session of the app's own holds none of it either
        db.session.expire_all()
        assert db.session.scalar(select(func.count()).select_from(Incident)) == 0


def test_an_api_refusal_rolls_back_what_its_handler_wrote(app, client, db, make_user, site_factory, monkeypatch):
    """The API calls no undo(): its 4xx answer is enough for the edge to roll back."""
    from tracker.services import accounts
    site, user = site_factory(), make_user("inspector")
    with app.app_context():
        token = accounts.create_token(user)
        db.session.commit()

    def submit(data, by=None, **_kw):
        schedule.record_incident(site, clock.today(), 1, "")
        raise ServiceError("입력을 확인하세요", errors={"answers": "missing"})
    monkeypatch.setattr(inspections, "submit", submit)
    resp = client.post("/api/v1/inspections", json={"site_id": site.id, "client_uuid": str(uuid.uuid4())},
                       headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 422 and resp.get_json()["errors"] == {"answers": "missing"}
    assert n_committed(app, db, Incident) == 0 and n_committed(app, db, Task) == 0


# --- bookkeeping the edge keeps ------------------------------------------------------------------------------

def test_a_failed_login_is_counted_though_the_login_is_refused(app, client, db, make_user):
    """The login POST answers 401 and is rolled back; its throttle counter is committed all the same."""
    user = make_user("lead")

    def post(password):
        token = csrf_from(client.get("/login").get_data(as_text=True))
        return client.post("/login", data={"email": user.email, "password": password, "csrf_token": token})

    failures = select(LoginThrottle.failures).where(LoginThrottle.key.startswith(user.email))  # not the address's
    assert post("wrong-password").status_code == 401
    assert committed(app, db, failures) == 1
    assert post("wrong-password").status_code == 401
    assert committed(app, db, failures) == 2
    assert post(PASSWORD).status_code == 302  # a good login clears the count, in its own commit
    assert committed(app, db, failures) is None


# --- a GET writes nothing ------------------------------------------------------------------------------------

@pytest.fixture
def everything(app, db, site_factory, make_user):
    """One of each thing the pages show: a checklist, a site with an inspection, its action and tasks, an incident,
    a queued e-mail."""
    with app_context(app):
        tpl = checklist.ensure_default()
        site = site_factory()
        inspector = make_user("inspector")
        answers = {i.key: {"value": "yes", "note": ""} for i in tpl.items if i.applies_to("onsite")}
        answers[tpl.items[0].key] = {"value": "no", "note": "없음"}
        insp, _created = inspections.submit({"site_id": site.id, "mode": "onsite", "client_uuid": str(uuid.uuid4()),
                                             "qr_token": site.qr_token, "answers": answers}, by=inspector)
        schedule.schedule_week(clock.week_of())
        schedule.record_incident(site, clock.today(), 1, "")
        mail.queue("weekly_summary", clock.week_of(), [{"recipient": "a@x.test", "subject": "s", "body_text": "t",
                                                          "body_html": "<p>t</p>"}])
        db.session.commit()
        return {"site_id": site.id, "inspection_id": insp.id, "token": site.qr_token,
                "link": replies.make_token(site),  # the site's reply page (issue 16)
                "inspector": loaded(inspector), "user_id": inspector.id}


def _get_urls(app, values: dict) -> list[str]:
    """A URL for every GET rule of the app, its arguments filled from values."""
    defaults = {"fmt": "csv", "what": "inspections", "sha": "0" * 64, "filename": "css/app.css"}
    urls = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if "GET" in rule.methods:
                urls.append(url_for(rule.endpoint, **{a: values.get(a, defaults.get(a)) for a in rule.arguments}))
    return urls


@pytest.mark.parametrize("role", ["admin", "inspector"])
def test_no_get_writes_anything(app, client, db, login, everything, role):
    login(role, user=everything["inspector"] if role == "inspector" else None)
    urls = _get_urls(app, everything)
    with writes(app, db) as seen:
        statuses = [client.get(url).status_code for url in urls]
    assert {table for table, _stmt in seen} <= BOOKKEEPING, seen
    assert statuses.count(200) >= (30 if role == "admin" else 8), list(zip(urls, statuses))


def test_without_a_published_checklist_the_pages_say_so_and_make_none(app, client, db, login, site_factory):
    """`db upgrade` and `seed-demo` publish the default checklist; a database without one gets a message, not a 500,
    and no page view publishes one."""
    site = site_factory()
    login("inspector")
    home = client.get("/inspect")
    assert home.status_code == 200 and "게시된 점검표가 없습니다" in home.get_data(as_text=True)
    for url in (f"/inspect/sites/{site.id}", f"/s/{site.qr_token}"):
        resp = client.get(url, follow_redirects=True)  # /s/ answers with the form's own URL
        assert resp.status_code == 503 and "관리자에게 점검표 게시를 요청하세요" in resp.get_data(as_text=True)
    resp = client.get(f"/inspect/sites/{site.id}?lang=en")
    assert "Ask an administrator to publish one" in resp.get_data(as_text=True)
    assert n_committed(app, db, ChecklistTemplate) == 0
