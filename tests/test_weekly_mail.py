"""The weekly summary e-mail against a real SMTP server (aiosmtpd): right figures, once, Korean intact."""
import threading
import uuid
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tracker import clock
from tracker.models import Outbox
from tracker.services import checklist, inspections, mail, schedule, weekly_mail

KST = clock.ZoneInfo("Asia/Seoul")
WEEK = "2020-W19"


def at(text):
    return datetime.fromisoformat(text).replace(tzinfo=KST)


@pytest.fixture
def history(app, db, make_user, site_factory):
    """Week 2020-W19 by hand: 3 active sites; A called (12 phone items, all yes); B visited (17 on-site items,
    one critical "no": masks); C never reached (missed). Rates: 여의동 12/12 = 100.0 %, 문래동 16/17 = 94.1 %,
    all 28/29 = 96.6 %."""
    checklist.ensure_default()
    app.config["TRACKER_SUMMARY_RECIPIENTS"] = ["chief@district.example", "Lead@district.example"]
    inspector = make_user("inspector", name="이점검")
    make_user("lead", email="lead@district.example", name="김팀장")
    gone = make_user("lead", email="gone@district.example")
    gone.active = False
    a = site_factory(name="가나센터", dong="여의동")
    b = site_factory(name="다라센터", dong="문래동")
    c = site_factory(name="마바센터", dong="문래동")
    clock.set_now(at("2020-05-04T00:05"))
    schedule.schedule_week(WEEK)
    tpl = checklist.current()
    for site, mode, when, no in ((a, "phone", "2020-05-05T10:00", ()), (b, "onsite", "2020-05-06T10:00", ("masks_mandatory",))):
        clock.set_now(at(when))
        answers = {i.key: {"value": "no" if i.key in no else "yes"} for i in tpl.items if i.applies_to(mode)}
        data = {"site_id": site.id, "mode": mode, "client_uuid": str(uuid.uuid4()), "answers": answers,
                "contact_name": "담당자", "qr_token": site.qr_token}
        inspections.submit(data, by=inspector)
    schedule.mark_overdue(at("2020-05-11T00:30"))
    clock.set_now(at("2020-05-11T08:00"))
    db.session.commit()
    return {"a": a, "b": b, "c": c}


def test_summary_figures_for_a_hand_checked_week(history):
    ctx = weekly_mail.context(WEEK)
    assert ctx["inspected"] == 2 and ctx["fig"]["sites_total"] == 3
    # C missed its round; B's reinspection (due 3 days after the critical "no") is overdue.
    assert sorted((t.site.name, t.kind, t.status) for t in ctx["late"]) == [
        ("다라센터", "reinspection", "open"), ("마바센터", "weekly_monitoring", "missed")]
    rates = {d["key"]: d["compliance_rate"] for d in ctx["fig"]["by_dong"] if d["inspections"]}
    assert rates == {"여의동": 100.0, "문래동": 94.1}
    assert ctx["fig"]["compliance_rate"] == 96.6
    assert [i["key"] for i in ctx["failed_items"]] == ["masks_mandatory"]
    assert weekly_mail.recipients() == ["lead@district.example", "chief@district.example"]


def test_one_message_per_recipient_then_nothing_more(app, db, history, smtp_server):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["send-weekly-summary", "--week", WEEK])
    assert result.exit_code == 0, result.output
    assert "2 queued; sent 2" in result.output
    assert sorted(m["To"] for m in smtp_server.messages) == ["chief@district.example", "lead@district.example"]
    msg = smtp_server.messages[0]
    assert msg["Subject"] == "[영등포구] 콜센터 방역 점검 주간 요약 2020-W19 (05.04~05.10)"
    assert "=?utf-8?" in msg.as_string().lower() or "utf-8" in msg.as_string().lower()  # encoded on the wire
    text = msg.get_body(("plain",)).get_content()
    assert "점검한 사업장: 2 / 3개소" in text
    assert "마바센터 (문래동) — 미실시" in text
    assert "다라센터 (문래동) — 지연 (재점검)" in text
    assert "여의동: 100.0%" in text and "문래동: 94.1%" in text
    assert "근무 중 마스크 착용 의무화 [중요]: 미흡 1건" in text
    assert "http://tracker.test/dashboard?from=2020-W19&to=2020-W19" in text
    html = msg.get_body(("html",)).get_content()
    assert "마바센터" in html and "94.1%" in html
    again = runner.invoke(args=["send-weekly-summary", "--week", WEEK])
    assert "0 queued; sent 0" in again.output
    assert len(smtp_server.messages) == 2


def test_two_runs_at_once_send_one_each(app, db, history, smtp_server):
    barrier = threading.Barrier(2)
    errors = []

    def run():
        with app.app_context():
            try:
                barrier.wait()
                mail.queue_weekly_summary(WEEK)
                from tracker.extensions import db as _db
                _db.session.commit()
                mail.deliver_due()
            except Exception as exc:
                errors.append(exc)
            finally:
                from tracker.extensions import db as _db
                _db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert sorted(m["To"] for m in smtp_server.messages) == ["chief@district.example", "lead@district.example"]
    assert db.session.scalar(select(func.count()).select_from(Outbox)) == 2


def test_server_down_then_back(app, db, history, smtp_server):
    smtp_server.stop()
    runner = app.test_cli_runner()
    assert "retrying 2" in runner.invoke(args=["send-weekly-summary", "--week", WEEK]).output
    smtp_server.start()
    clock.set_now(at("2020-05-11T09:00"))
    assert mail.deliver_due()["sent"] == 2
    assert mail.deliver_due()["sent"] == 0
    assert len(smtp_server.messages) == 2


def test_preview_page_shows_the_week(client, login, history):
    login("lead")
    page = client.get(f"/mail/preview?week={WEEK}").get_data(as_text=True)
    assert "콜센터 방역 점검 주간 요약 2020-W19" in page and "chief@district.example" in page
    body = client.get(f"/mail/preview/body?week={WEEK}")
    assert "마바센터" in body.get_data(as_text=True)
    assert "frame-ancestors 'self'" in body.headers["Content-Security-Policy"]
    assert "script-src" not in body.headers["Content-Security-Policy"]


def test_long_open_actions_and_incidents_as_of_that_week(app, db, history):
    """An action opened 20 days before the week's end and still open is listed, by its label; one opened 5 days
    before is not yet; one cleared before the week ended is not; one cleared after it still is (as of then).
    The week's incident is listed."""
    from tracker.models import Action, Incident, Inspection
    b = history["b"]
    opened_by = db.session.scalar(select(Inspection.id).where(Inspection.site_id == b.id))
    end = clock.week_end_utc(WEEK)
    for key, opened_days, cleared in (("ventilation", 20, None), ("hygiene_supplies", 5, None),
                                      ("disinfection", 30, end - timedelta(days=1)),
                                      ("office_clean", 25, end + timedelta(days=3))):
        db.session.add(Action(site_id=b.id, item_key=key, opened_inspection_id=opened_by, status="cleared" if cleared else "escalated",
                              critical=False, opened_at=end - timedelta(days=opened_days),
                              due_at=end - timedelta(days=opened_days - 7), cleared_at=cleared))
    db.session.add(Incident(site_id=history["a"].id, confirmed_on=date(2020, 5, 9), cases=1,
                            raised_until=date(2020, 5, 23), note="이태원 관련"))
    db.session.commit()
    ctx = weekly_mail.context(WEEK)
    assert sorted(a.item_key for a in ctx["long_open"]) == ["office_clean", "ventilation"]
    msg = weekly_mail.render(WEEK)
    assert "주기적 환기 (1일 2회 이상)" in msg["body_text"] and "ventilation" not in msg["body_text"]
    assert "가나센터 (여의동): 2020-05-09 확진 1명" in msg["body_text"]
    assert "가나센터 (여의동) — 2020-05-09 확진 1명" in msg["body_html"]


def test_the_scheduler_catching_up_queues_last_weeks_summary_once_after_monday_eight(app, db, history, smtp_server):
    """A scheduler (re)started on Monday before 08:00 sends nothing yet; started after, it queues and sends
    last week's summary; the 08:00 job and further restarts add nothing."""
    from tracker import jobs

    def rows():
        db.session.rollback()
        return db.session.scalars(select(Outbox.recipient).where(Outbox.period == WEEK).order_by(Outbox.recipient)).all()
    clock.set_now(at("2020-05-11T07:30"))
    jobs.catch_up(app)
    assert rows() == [] and smtp_server.messages == []
    clock.set_now(at("2020-05-11T09:10"))
    jobs.catch_up(app)
    assert rows() == ["chief@district.example", "lead@district.example"]
    assert sorted(m["To"] for m in smtp_server.messages) == ["chief@district.example", "lead@district.example"]
    jobs.weekly_summary(app)
    jobs.catch_up(app)
    assert len(rows()) == 2 and len(smtp_server.messages) == 2
