"""Self-check (자체점검, issue 16 §5): a site checks itself through its signed link; the check is kept apart from
inspections, so no figure, action rule or task rule counts it; it pre-fills an inspector's phone check of the same
week; sites switched on get a weekly request through the outbox; the weekly e-mail's lines (§6)."""
import re
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from conftest import client_as, csrf_from
from tests.test_report_pdf import inspect
from tracker import clock, jobs
from tracker.extensions import db as _db
from tracker.models import Action, Outbox, SelfCheck, Site, Task
from tracker.services import replies, schedule, summary, weekly_mail

T0 = datetime(2020, 5, 11, 1, 30, tzinfo=timezone.utc)  # Monday 10:30 in Seoul, 2020-W20


@pytest.fixture
def tpl(default_checklist):
    return default_checklist


def _phone_keys(tpl):
    return [i.key for i in tpl.items if i.applies_to("phone")]


def _link(app, site):
    with app.app_context():
        return "/r/" + replies.make_token(site)


def _send(client, path, tpl, name="이자율", answers=None, client_uuid=None, json=False):
    """Post a self-check as the page's form does; every phone item "yes" unless given."""
    page = client.get(path + "/self-check")
    assert page.status_code == 200
    data = {"csrf_token": csrf_from(page.get_data(as_text=True)), "officer_name": name,
            "client_uuid": client_uuid or str(uuid.uuid4())}
    answers = answers if answers is not None else {k: "yes" for k in _phone_keys(tpl)}
    data.update({f"a-{k}": v for k, v in answers.items()})
    headers = {"Accept": "application/json"} if json else {}
    return client.post(path + "/self-check", data=data, headers=headers)


def test_the_officer_sends_the_phone_items_and_it_is_kept_once(app, client, tpl, site_factory, clock_at):
    clock_at(T0)
    site = site_factory(manager_email="officer@x.example")
    path = _link(app, site)
    page = client.get(path + "/self-check")
    assert page.headers["Cache-Control"] == "no-store"
    text = page.get_data(as_text=True)
    # The published checklist's phone items, and none judged only on site.
    for it in tpl.items:
        assert (f'name="a-{it.key}"' in text) == it.applies_to("phone")
    assert 'href="%s/self-check"' % path in client.get(path).get_data(as_text=True)  # reached from the reply page
    key = str(uuid.uuid4())
    resp = _send(client, path, tpl, client_uuid=key)
    assert resp.status_code == 303 and resp.headers["Location"].startswith(path)
    # Sent again (a retry from a phone whose answer was lost): the same self-check, kept once.
    again = _send(client, path, tpl, client_uuid=key, json=True)
    assert again.status_code == 200 and again.get_json()["ok"] is True
    with app.app_context():
        rows = _db.session.scalars(select(SelfCheck)).all()
        assert len(rows) == 1
        row = rows[0]
        assert (row.site_id, row.officer_name, row.week) == (site.id, "이자율", "2020-W20")
        assert row.submitted_at == T0
        assert sorted(a.item_key for a in row.answers) == sorted(_phone_keys(tpl))


def test_self_checks_are_limited_per_site_an_hour(app, client, tpl, site_factory, clock_at):
    """A leaked link cannot fill the table: past the hourly allowance a new self-check is refused, and an hour
    later it is taken again."""
    app.config["TRACKER_SITE_REPLIES_PER_HOUR"] = 2
    clock_at(T0)
    path = _link(app, site_factory(manager_email="officer@x.example"))
    codes = [_send(client, path, tpl, json=True).status_code for _ in range(3)]
    assert all(c < 300 for c in codes[:2]) and codes[2] == 429
    with app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(SelfCheck)) == 2
    clock_at(T0 + timedelta(hours=1, minutes=1))
    assert _send(client, path, tpl).status_code == 303
    with app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(SelfCheck)) == 3


def test_a_missing_answer_or_name_is_named(app, client, tpl, site_factory, clock_at):
    clock_at(T0)
    site = site_factory()
    path = _link(app, site)
    keys = _phone_keys(tpl)
    resp = _send(client, path, tpl, name="", answers={k: "yes" for k in keys[1:]})
    assert resp.status_code == 422
    text = resp.get_data(as_text=True)
    assert f'id="e-{keys[0]}"' in text and 'id="officer_name-error"' in text
    assert f'id="e-{keys[1]}"' not in text
    with app.app_context():
        assert _db.session.scalar(select(SelfCheck.id)) is None


def test_a_broken_or_expired_link_opens_no_self_check(app, client, tpl, site_factory, clock_at):
    clock_at(T0)
    site = site_factory()
    path = _link(app, site)
    assert client.get(path + "x/self-check").status_code == 404
    clock_at(T0 + timedelta(days=app.config["TRACKER_SITE_LINK_DAYS"] + 1))
    assert client.get(path + "/self-check").status_code == 410


def _figures(app, week):
    with app.app_context():
        s = summary.compute(week, week, coverage=True)
        mail = weekly_mail.context(week)
        return s, {k: mail[k] for k in ("inspected", "active")} | {"late": len(mail["late"])}


def test_a_self_check_counts_in_no_figure_clears_no_action_and_closes_no_task(app, client, tpl, site_factory,
                                                                              make_user, clock_at):
    clock_at(T0)
    site = site_factory(manager_email="officer@x.example")
    other = site_factory()
    inspector = make_user("inspector")
    crit = [i.key for i in tpl.items if i.applies_to("phone") and i.critical][0]
    inspect(app, tpl, other, inspector)  # one real inspection, so the figures are not all zero
    inspect(app, tpl, site, inspector, no=[crit])  # opens an action on the item
    with app.app_context():
        schedule.schedule_week("2020-W20")
        # The week's task of the site: a fresh one (its inspection was before the tasks were made).
        _db.session.execute(Task.__table__.update().where(Task.site_id == site.id).values(status="open"))
        _db.session.commit()
    before = _figures(app, "2020-W20")
    lead = client_as(app, make_user("lead"))
    dash_before = lead.get("/dashboard?from=2020-W20&to=2020-W20").get_data(as_text=True)
    # The site says "예" to everything, the failed item included.
    assert _send(client, _link(app, site), tpl).status_code == 303
    assert _figures(app, "2020-W20") == before
    # The dashboard's figures are the same; the self-check shows apart, counted as no inspection.
    dash = lead.get("/dashboard?from=2020-W20&to=2020-W20").get_data(as_text=True)
    with app.app_context():
        action = _db.session.scalar(select(Action).where(Action.site_id == site.id))
        assert action.status == "open" and action.cleared_at is None
        task = _db.session.scalar(select(Task).where(Task.site_id == site.id, Task.week == "2020-W20"))
        assert task.status == "open" and task.done_inspection_id is None
        schedule.mark_overdue(T0 + timedelta(days=10))  # the hourly rules run: still nothing cleared or closed
        _db.session.commit()
        assert _db.session.get(Action, action.id).status == "escalated"

    def figures(html):
        return re.findall(r'data-figure="([a-z_]+)"[^>]*>([^<]*)', html)
    assert figures(dash) == figures(dash_before)
    assert "자체점검 0건 (점검 실적에 포함하지 않음)" in dash_before
    assert "자체점검 1건 (점검 실적에 포함하지 않음)" in dash
    assert 'data-figure="self_checks"' not in dash  # shown apart, never among the summary's figures
    council = lead.get("/reports/council?from=2020-W20&to=2020-W20").get_data(as_text=True)
    assert "자체점검 1건 (점검 실적에 포함하지 않음)" in council
    assert "점검 건수: 2건 (현장 2, 전화 0)" in council


def _tick(html, key, value):
    m = re.search(rf'<input type="radio" id="a-{key}-{value}"[^>]*>', html)
    return m.group(0)


def test_the_phone_check_of_the_week_starts_from_the_sites_answers(app, client, tpl, site_factory, make_user,
                                                                   clock_at):
    clock_at(T0)
    site = site_factory()
    keys = _phone_keys(tpl)
    answers = {k: "yes" for k in keys} | {keys[0]: "no", keys[1]: "na"}
    assert _send(client, _link(app, site), tpl, answers=answers).status_code == 303
    clock_at(T0 + timedelta(days=2))  # the same ISO week
    inspector = make_user("inspector")
    mine = client_as(app, inspector)
    html = mine.get(f"/inspect/sites/{site.id}?mode=phone").get_data(as_text=True)
    assert html.count("사업장 자체점검 답변") == len(keys)
    assert "사업장 자체점검 답변: 아니오" in html and "사업장 자체점검 답변: 해당없음" in html
    for key, value in answers.items():
        tick = _tick(html, key, value)
        assert " checked" in tick and "data-site-answer" in tick
    assert " checked" not in _tick(html, keys[0], "yes")
    assert "이 사업장이 이번 주 자체점검을 보냈습니다" in html
    assert "이자율" not in html  # the officer's name is not on a page the phone keeps offline
    # On site, or in the next week, the form starts empty.
    onsite = mine.get(f"/inspect/sites/{site.id}?mode=onsite").get_data(as_text=True)
    assert "사업장 자체점검 답변" not in onsite and " checked" not in _tick(onsite, keys[0], "no")
    clock_at(T0 + timedelta(days=7))
    later = client_as(app, inspector).get(f"/inspect/sites/{site.id}?mode=phone").get_data(as_text=True)
    assert "사업장 자체점검 답변" not in later and " checked" not in _tick(later, keys[0], "no")


def _requests(app):
    with app.app_context():
        return _db.session.execute(select(Outbox.recipient, Outbox.period, Outbox.body_text)
                                   .where(Outbox.kind == "self_check_request")).all()


def test_the_weekly_round_asks_switched_on_sites_once_a_week(app, client, tpl, site_factory, clock_at):
    clock_at(T0 - timedelta(hours=1))  # Monday 09:30 in Seoul
    site_factory(manager_email="small@x.example", self_check=True, headcount=8)
    site_factory(manager_email="", self_check=True)  # switched on, but no address to write to
    site_factory(manager_email="big@x.example")  # off, the default
    closed = site_factory(manager_email="closed@x.example", self_check=True)
    with app.app_context():
        _db.session.get(Site, closed.id).status = "closed"
        _db.session.commit()
    jobs.weekly_round(app)
    jobs.weekly_round(app)  # a catch-up run the same week: nothing twice
    rows = _requests(app)
    assert [(r.recipient, r.period) for r in rows] == [("small@x.example", "2020-W20")]
    link = re.search(r"https?://[^/\s]+(/r/\S+/self-check)", rows[0].body_text).group(1)
    assert client.get(link).status_code == 200
    clock_at(T0 + timedelta(days=7))
    jobs.weekly_round(app)
    assert sorted(r.period for r in _requests(app)) == ["2020-W20", "2020-W21"]


def test_a_lead_switches_requests_on_in_the_site_form(app, client, login, site_factory):
    site = site_factory(manager_email="officer@x.example")
    login("lead")
    page = client.get(f"/sites/{site.id}/edit").get_data(as_text=True)
    assert 'name="self_check"' in page
    data = {"csrf_token": csrf_from(page), "name": site.name, "business_no": site.business_no, "dong": site.dong,
            "headcount": "8", "manager_email": "officer@x.example", "self_check": "y"}
    assert client.post(f"/sites/{site.id}/edit", data=data).status_code in (302, 303)
    with app.app_context():
        assert _db.session.get(Site, site.id).self_check is True
    data.pop("self_check")
    client.post(f"/sites/{site.id}/edit", data=data)
    with app.app_context():
        assert _db.session.get(Site, site.id).self_check is False


def test_the_weekly_mail_has_a_line_for_replies_waiting_and_self_checks(app, client, tpl, site_factory, make_user,
                                                                        clock_at):
    clock_at(T0)
    site = site_factory(manager_email="officer@x.example")
    crit = [i.key for i in tpl.items if i.applies_to("onsite") and i.critical][:2]
    inspect(app, tpl, site, make_user("inspector"), no=crit)
    with app.app_context():
        ids = _db.session.scalars(select(Action.id).where(Action.site_id == site.id)).all()
        for aid in ids:
            replies.reply(_db.session.get(Site, site.id), aid, "고쳤습니다", [])
        _db.session.commit()
    path = _link(app, site)
    _send(client, path, tpl)
    _send(client, path, tpl)
    assert clock.week_of(T0) == "2020-W20"
    with app.app_context():
        msg = weekly_mail.render("2020-W20")
        previous = weekly_mail.render("2020-W19")
    assert "- 검토를 기다리는 조치 보고: 2건" in msg["body_text"] and "/replies" in msg["body_text"]
    assert "- 받은 자체점검: 2건 (점검 실적에 포함하지 않음)" in msg["body_text"]
    assert "받은 자체점검 2건 (점검 실적에 포함하지 않음)" in msg["body_html"]
    assert "- 받은 자체점검: 0건" in previous["body_text"]  # counted in the week they came in
