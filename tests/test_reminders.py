"""Reminders to the office (issue 16 §7) against a real SMTP server: the inspectors' reminder the day before the
weekly due day and the leads' digest after the due time, each once per person per day, never to a person who
switched it off; and the 내 정보 › 알림 page where they do."""
import uuid
from datetime import datetime

import pytest
from sqlalchemy import func, select

from conftest import app_context, csrf_from, loaded
from tracker import clock, jobs
from tracker.models import Action, Audit, Outbox, User
from tracker.services import checklist, inspections, reminders, schedule

KST = clock.ZoneInfo("Asia/Seoul")
# 2020-W19: Monday 05-04; the round is due Friday 05-08 18:00 (the defaults), so the reminder goes on Thursday.


def at(text):
    return datetime.fromisoformat(text).replace(tzinfo=KST)


def _inspect(site, mode, inspector, no=()):
    tpl = checklist.current()
    answers = {i.key: {"value": "no" if i.key in no else "yes"} for i in tpl.items if i.applies_to(mode)}
    inspections.submit({"site_id": site.id, "mode": mode, "client_uuid": str(uuid.uuid4()), "answers": answers,
                        "contact_name": "담당자", "qr_token": site.qr_token}, by=inspector)


@pytest.fixture
def office(app, db, make_user, site_factory, clock_at):
    """Week 2020-W19 by hand.

    - 이점검 covers 여의동 and 문래동: 가나센터 (여의동) not yet checked; 나다센터 (여의동) called on Monday, done;
      다라센터 (문래동) visited on Monday with partitions (critical, on site only) "no": its round is done, an action
      is due Thursday 10:00 and a reinspection on site, due then too, is open.
    - 박점검 covers 당산1동: 마바센터 called, nothing left.
    - 최점검 covers 도림동: 사아센터 left, but 최점검 has switched the reminder off.
    - 자차센터 (신길1동): no one covers that dong.
    - Leads: 김팀장 (digest on), 정팀장 (digest off); an admin, who gets no digest.
    """
    with app_context(app):
        checklist.ensure_default()
        people = {name: make_user("inspector", name=name, email=f"{mail}@district.example")
                  for name, mail in (("이점검", "lee"), ("박점검", "park"), ("최점검", "choi"))}
        people["김팀장"] = make_user("lead", name="김팀장", email="kim@district.example")
        people["정팀장"] = make_user("lead", name="정팀장", email="jung@district.example")
        people["관리자"] = make_user("admin", name="관리자", email="admin@district.example")
        for dong, name in (("여의동", "이점검"), ("문래동", "이점검"), ("당산1동", "박점검"), ("도림동", "최점검")):
            schedule.assign_dong(dong, people[name].id)
        s = {name: site_factory(name=name, dong=dong) for name, dong in (
            ("가나센터", "여의동"), ("나다센터", "여의동"), ("다라센터", "문래동"), ("마바센터", "당산1동"),
            ("사아센터", "도림동"), ("자차센터", "신길1동"))}
        db.session.get(User, people["최점검"].id).mail_task_reminder = False
        db.session.get(User, people["정팀장"].id).mail_lead_digest = False
        clock_at(at("2020-05-04T00:05"))
        schedule.schedule_week("2020-W19")
        clock_at(at("2020-05-04T10:00"))
        lee = db.session.get(User, people["이점검"].id)
        _inspect(s["나다센터"], "phone", lee)
        _inspect(s["다라센터"], "onsite", lee, no=("partitions_installed",))
        _inspect(s["마바센터"], "phone", db.session.get(User, people["박점검"].id))
        db.session.commit()
        return {"people": {k: loaded(v) for k, v in people.items()}, "sites": {k: loaded(v) for k, v in s.items()}}


def _rows(db, kind):
    db.session.expire_all()
    return db.session.execute(select(Outbox.recipient, Outbox.period).where(Outbox.kind == kind)
                              .order_by(Outbox.id)).all()


def _sent(smtp_server, to):
    return [m for m in smtp_server.messages if m["To"] == to]


# --- the inspectors' reminder -------------------------------------------------------------------------------------

def test_reminder_once_a_day_the_day_before_only_to_inspectors_with_open_tasks(app, db, office, clock_at,
                                                                               smtp_server):
    clock_at(at("2020-05-07T08:30"))  # Thursday, before TRACKER_REMINDER_TIME (09:00)
    assert jobs.task_reminders(app) == 0
    clock_at(at("2020-05-07T09:10"))
    assert jobs.task_reminders(app) == 1  # 이점검 only: 박점검 has nothing left, 최점검 switched it off
    assert jobs.task_reminders(app) == 0  # the same day again: the outbox's key makes it a no-op
    clock_at(at("2020-05-07T15:10"))
    assert jobs.task_reminders(app) == 0
    with app.app_context():
        assert jobs.send_due_mail()["sent"] == 1
        assert _rows(db, "task_reminder") == [("lee@district.example", "2020-05-07")]
    assert [m["To"] for m in smtp_server.messages] == ["lee@district.example"]
    clock_at(at("2020-05-08T09:10"))  # the due day itself: no reminder
    assert jobs.task_reminders(app) == 0
    clock_at(at("2020-05-11T00:05"))
    jobs.weekly_round(app)
    clock_at(at("2020-05-14T09:10"))  # next week's Thursday: one more each, 박점검 too (마바센터's new round)
    assert jobs.task_reminders(app) == 2
    assert jobs.task_reminders(app) == 0
    with app.app_context():
        assert jobs.send_due_mail()["sent"] == 2
        assert _rows(db, "task_reminder")[1:] == [("lee@district.example", "2020-05-14"),
                                                  ("park@district.example", "2020-05-14")]
    assert sorted(m["To"] for m in smtp_server.messages) == ["lee@district.example"] * 2 + ["park@district.example"]


def test_reminder_lists_the_sites_left_by_dong_with_their_forms(app, db, office, clock_at, smtp_server):
    sites = office["sites"]
    clock_at(at("2020-05-07T09:10"))
    jobs.task_reminders(app)
    with app.app_context():
        jobs.send_due_mail()
    (msg,) = _sent(smtp_server, "lee@district.example")
    assert msg["Subject"] == "[영등포구] 내일(05.08) 마감: 남은 점검 2곳"
    text = msg.get_body(("plain",)).get_content()
    assert "이점검님, 내일(2020-05-08 18:00)이 이번 주 점검 마감입니다." in text
    # In the district's order of dongs (여의동 before 문래동), each site with its form: by phone for the round,
    # on site for the reinspection after an on-site-only "no". 나다센터 is done and not listed.
    ga, da = sites["가나센터"].id, sites["다라센터"].id
    assert (f"■ 여의동 (1)\n- 가나센터 — 전화 모니터링\n  http://tracker.test/inspect/sites/{ga}?mode=phone\n\n"
            f"■ 문래동 (1)\n- 다라센터 — 현장점검\n  http://tracker.test/inspect/sites/{da}?mode=onsite\n") in text
    assert "나다센터" not in text and "마바센터" not in text
    assert "http://tracker.test/me/reminders" in text
    html = msg.get_body(("html",)).get_content()
    assert f'<a href="http://tracker.test/inspect/sites/{ga}?mode=phone" style="color:#0b5cad;">가나센터</a>' in html
    assert html.index("여의동") < html.index("문래동") and "word-break:keep-all" in html
    assert 'href="http://tracker.test/me/reminders"' in html


def test_reminder_follows_the_configured_due_day(app, db, office, clock_at):
    app.config["TRACKER_DUE_WEEKDAY"] = 3  # Wednesday: the reminder goes on Tuesday
    with app.app_context():
        assert not reminders.reminder_due(at("2020-05-07T10:00"))
        assert reminders.reminder_due(at("2020-05-05T09:00"))
        assert not reminders.reminder_due(at("2020-05-05T08:59"))


# --- the leads' digest --------------------------------------------------------------------------------------------

def test_digest_once_a_day_after_the_due_time_to_leads_who_keep_it_on(app, db, office, clock_at, smtp_server):
    clock_at(at("2020-05-08T17:10"))  # Friday, before the due time
    assert jobs.lead_digest(app) == 0
    clock_at(at("2020-05-08T18:10"))
    assert jobs.lead_digest(app) == 1  # 김팀장 only: 정팀장 switched it off, and an admin is not a lead
    assert jobs.lead_digest(app) == 0
    clock_at(at("2020-05-09T10:10"))  # Saturday morning: today's due time of day has not come
    assert jobs.lead_digest(app) == 0
    clock_at(at("2020-05-09T18:10"))  # Saturday evening: one more
    assert jobs.lead_digest(app) == 1
    assert jobs.lead_digest(app) == 0
    with app.app_context():
        assert jobs.send_due_mail()["sent"] == 2
        assert _rows(db, "lead_digest") == [("kim@district.example", "2020-05-08"),
                                            ("kim@district.example", "2020-05-09")]
    assert [m["To"] for m in smtp_server.messages] == ["kim@district.example"] * 2
    clock_at(at("2020-05-12T18:10"))  # next Tuesday: this week's round is not due yet (Monday's summary went)
    assert jobs.lead_digest(app) == 0


def test_digest_lists_overdue_sites_by_inspector_and_escalated_actions(app, db, office, clock_at, smtp_server):
    sites = office["sites"]
    clock_at(at("2020-05-08T18:10"))
    jobs.lead_digest(app)
    with app.app_context():
        jobs.send_due_mail()
    (msg,) = _sent(smtp_server, "kim@district.example")
    assert msg["Subject"] == "[영등포구] 지연 점검 4곳 · 기한 지난 행정지도 1건 (05.08)"
    text = msg.get_body(("plain",)).get_content()
    # By inspector in name order, the unassigned last; done sites (나다센터, 마바센터) are not there.
    assert ("■ 기한이 지난 점검 (4곳)\n"
            "[이점검]\n"
            "- 다라센터 (문래동) — 재점검, 마감 05-07 10:00\n"
            "- 가나센터 (여의동) — 주간 모니터링, 마감 05-08 18:00\n"
            "[최점검]\n"
            "- 사아센터 (도림동) — 주간 모니터링, 마감 05-08 18:00\n"
            "[미배정]\n"
            "- 자차센터 (신길1동) — 주간 모니터링, 마감 05-08 18:00\n") in text
    assert ("■ 기한이 지난 행정지도 (1건)\n"
            "- 다라센터 (문래동): 칸막이·가림막 설치 (책상 면에서 90cm 이상) [중요] — 기한 2020-05-07\n") in text
    assert "나다센터" not in text and "마바센터" not in text
    assert "조치 보고" not in text  # no site has replied: the section is left out
    assert "http://tracker.test/schedule" in text and "http://tracker.test/actions?status=open" in text
    html = msg.get_body(("html",)).get_content()
    assert html.index("이점검") < html.index("최점검") < html.index("미배정")
    assert "자차센터" in html and "칸막이·가림막 설치" in html
    assert sites["자차센터"].name == "자차센터"


def test_digest_shows_replies_waiting_and_they_are_not_escalated(app, db, office, clock_at):
    """Where a site's reply (issue 16 §4) leaves an action: 'reported', waiting for review."""
    with app.app_context():
        db.session.execute(Action.__table__.update().values(status=reminders.REPORTED))
        db.session.commit()
        msg = reminders.render_digest(at("2020-05-08T18:10"))
    text = msg["body_text"]
    assert "■ 검토를 기다리는 조치 보고 (1건)\n- 다라센터 (문래동): 칸막이·가림막 설치" in text
    assert "■ 기한이 지난 행정지도 (0건)\n- 없음" in text


def test_no_digest_when_nothing_is_late(app, db, office, clock_at):
    with app.app_context():
        db.session.execute(Action.__table__.update().values(status="cleared"))
        db.session.execute(schedule.Task.__table__.update().values(status="done"))
        db.session.commit()
        assert reminders.queue_lead_digests(at("2020-05-08T18:10")) == 0


def test_catch_up_sends_the_days_reminders_once(app, db, office, clock_at, smtp_server):
    clock_at(at("2020-05-07T13:00"))  # a scheduler that starts on the day, after the reminder's time
    done = jobs.catch_up(app)
    assert done["task_reminders"] == 1 and done["lead_digest"] == 0
    assert jobs.catch_up(app)["task_reminders"] == 0
    with app.app_context():
        assert _rows(db, "task_reminder") == [("lee@district.example", "2020-05-07")]
    # (the leads also get last week's summary, which catch-up queues after Monday 08:00)
    assert [m["To"] for m in smtp_server.messages if "남은 점검" in m["Subject"]] == ["lee@district.example"]


# --- 내 정보 › 알림 -------------------------------------------------------------------------------------------------

def test_the_page_shows_two_switches_on_and_saves_them(app, db, client, login, office, clock_at, smtp_server):
    lee = office["people"]["이점검"]
    login(user=lee)
    page = client.get("/me/reminders").get_data(as_text=True)
    assert page.count('role="switch"') == 2 and page.count(" checked") == 2
    resp = client.post("/me/reminders", data={"csrf_token": csrf_from(page), "lead_digest": "y"})
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/me/reminders")
    again = client.get("/me/reminders").get_data(as_text=True)
    assert "알림 설정을 저장했습니다." in again and again.count(" checked") == 1
    with app.app_context():
        user = db.session.get(User, lee.id)
        assert (user.mail_task_reminder, user.mail_lead_digest) == (False, True)
        change = db.session.scalar(select(Audit).where(Audit.entity == "user", Audit.entity_id == lee.id,
                                                       Audit.action == "update"))
        assert change.after == {"mail_task_reminder": False, "mail_lead_digest": True}
    clock_at(at("2020-05-07T09:10"))
    assert jobs.task_reminders(app) == 0  # switched off: nothing for anyone now
    assert smtp_server.messages == []


def test_the_page_refuses_a_post_without_its_token(app, db, client, login, office):
    lee = office["people"]["이점검"]
    login(user=lee)
    assert client.post("/me/reminders", data={}).status_code == 400
    with app.app_context():
        assert db.session.get(User, lee.id).mail_task_reminder is True
        assert db.session.scalar(select(func.count()).select_from(Audit).where(Audit.entity == "user",
                                                                               Audit.action == "update")) == 0


def test_the_page_needs_a_login(client):
    resp = client.get("/me/reminders")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_a_new_user_has_both_reminders_on(make_user):
    user = make_user("inspector")
    assert (user.mail_task_reminder, user.mail_lead_digest) == (True, True)


def test_the_page_in_english(client, login):
    login("lead")
    page = client.get("/me/reminders?lang=en").get_data(as_text=True)
    assert "Reminder of the inspections left, the day before they are due" in page
    assert "Digest of overdue inspections and corrective actions" in page
    assert "Not sent to your current role" in page  # a lead gets no inspector's reminder


def _statements(app, fn):
    """How many SQL statements fn runs."""
    from sqlalchemy import event

    from tracker.extensions import db as _db
    seen = []

    def count(*_args):
        seen.append(1)
    with app.app_context():
        event.listen(_db.engine, "before_cursor_execute", count)
        try:
            fn()
        finally:
            event.remove(_db.engine, "before_cursor_execute", count)
    return len(seen)


def test_a_bounded_number_of_queries_whatever_the_data(app, db, office, site_factory, make_user, clock_at):
    """The same number of statements with one late site and one action past due as with many more of each."""
    def digest():
        assert reminders.render_digest(at("2020-05-08T18:10"))

    def reminder():
        assert len(reminders._by_inspector(reminders.open_sites())) == 1

    before = (_statements(app, digest), _statements(app, reminder))
    lee = office["people"]["이점검"]
    more = [site_factory(name=f"추가센터{i}", dong=dong) for i, dong in enumerate(["여의동", "문래동"] * 3)]
    with app.app_context():
        schedule.schedule_week("2020-W19")  # their rounds, for 이점검
        for site in more:
            clock_at(at("2020-05-05T10:00"))
            _inspect(site, "onsite", db.session.get(User, lee.id), no=("partitions_installed", "office_clean"))
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(Action)) == 1 + 2 * len(more)
    assert (_statements(app, digest), _statements(app, reminder)) == before


def test_a_phone_switches_a_reminder_off(app, db, browse):
    """At 390×844: the two switches fit the screen, a tap turns one off, and saving keeps it off."""
    from conftest import overflows_sideways
    page, base = browse("inspector")
    page.goto(f"{base}/me/reminders")
    switches = page.get_by_role("switch")
    assert switches.count() == 2 and not overflows_sideways(page)
    page.get_by_role("switch", name="마감 전날 남은 점검 알림").uncheck()
    page.get_by_role("button", name="저장").click()
    page.wait_for_load_state()
    assert page.get_by_text("알림 설정을 저장했습니다.").is_visible()
    assert not page.get_by_role("switch", name="마감 전날 남은 점검 알림").is_checked()
    assert page.get_by_role("switch", name="기한 지난 점검·행정지도 요약").is_checked()
    with app.app_context():
        user = db.session.scalar(select(User).where(User.role == "inspector"))
        assert (user.mail_task_reminder, user.mail_lead_digest) == (False, True)


def test_the_me_section_shows_where_the_switches_stand_and_links_the_page(app, db, make_user):
    """The card 내 정보 includes (templates/account/_reminders.html), rendered as that page renders it."""
    from flask import render_template_string
    from flask_login import login_user
    user = make_user("lead")
    with app.test_request_context("/me"):
        db.session.get(User, user.id).mail_lead_digest = False
        login_user(db.session.get(User, user.id))
        html = render_template_string('{% include "account/_reminders.html" %}')
    assert "마감 전날 남은 점검 알림: 받음" in html and "기한 지난 점검·행정지도 요약: 받지 않음" in html
    assert 'href="/me/reminders"' in html
