"""The weekly summary e-mail against a real SMTP server (aiosmtpd): right figures, once, Korean intact."""
import threading
import uuid
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from conftest import app_context, close_context, loaded
from tracker import clock, jobs
from tracker.models import Outbox, User
from tracker.services import checklist, inspections, mail, schedule, sites, summary, weekly_mail

KST = clock.ZoneInfo("Asia/Seoul")
WEEK = "2020-W19"


def at(text):
    return datetime.fromisoformat(text).replace(tzinfo=KST)


@pytest.fixture
def history(app, db, make_user, site_factory, clock_at):
    """Week 2020-W19 by hand: 3 active sites; A called (12 phone items, all yes); B visited (17 on-site items,
    one critical "no": masks); C never reached (missed). Rates: 여의동 12/12 = 100.0 %, 문래동 16/17 = 94.1 %,
    all 28/29 = 96.6 %."""
    with app_context(app):
        return _history(app, db, make_user, site_factory, clock_at)


def _history(app, db, make_user, site_factory, clock_at):
    checklist.ensure_default()
    app.config["TRACKER_SUMMARY_RECIPIENTS"] = ["chief@district.example", "Lead@district.example"]
    inspector = make_user("inspector", name="이점검")
    make_user("lead", email="lead@district.example", name="김팀장")
    gone = make_user("lead", email="gone@district.example")
    gone.active = False
    a = site_factory(name="가나센터", dong="여의동")
    b = site_factory(name="다라센터", dong="문래동")
    c = site_factory(name="마바센터", dong="문래동")
    clock_at(at("2020-05-04T00:05"))
    schedule.schedule_week(WEEK)
    tpl = checklist.current()
    for site, mode, when, no in ((a, "phone", "2020-05-05T10:00", ()),
                                 (b, "onsite", "2020-05-06T10:00", ("masks_mandatory",))):
        clock_at(at(when))
        answers = {i.key: {"value": "no" if i.key in no else "yes"} for i in tpl.items if i.applies_to(mode)}
        data = {"site_id": site.id, "mode": mode, "client_uuid": str(uuid.uuid4()), "answers": answers,
                "contact_name": "담당자", "qr_token": site.qr_token}
        inspections.submit(data, by=inspector)
    schedule.mark_overdue(at("2020-05-11T00:30"))
    clock_at(at("2020-05-11T08:00"))
    db.session.commit()
    return dict(zip("abc", loaded(a, b, c)))


def test_summary_figures_for_a_hand_checked_week(app_ctx, history):
    ctx = weekly_mail.context(WEEK)
    assert (ctx["inspected"], ctx["active"]) == (2, 3)
    # The dashboard's function gives the same figures: the e-mail does not count on its own.
    fig = summary.compute(WEEK, WEEK, coverage=True)
    assert (fig["sites_inspected"], fig["sites_active"]) == (2, 3)
    mullae = summary.compute(WEEK, WEEK, "문래동", coverage=True)  # B inspected; B and C active
    assert (mullae["sites_inspected"], mullae["sites_active"]) == (1, 2)
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
                jobs.send_due_mail()
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
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Outbox)) == 2


def test_server_down_then_back(clock_at, app, db, history, smtp_server):
    smtp_server.stop()
    runner = app.test_cli_runner()
    assert "retrying 2" in runner.invoke(args=["send-weekly-summary", "--week", WEEK]).output
    smtp_server.start()
    clock_at(at("2020-05-11T09:00"))
    with app.app_context():
        assert jobs.send_due_mail()["sent"] == 2
        assert jobs.send_due_mail()["sent"] == 0
    assert len(smtp_server.messages) == 2


def test_preview_page_shows_the_message_as_sent_in_a_frame_of_its_own(app, client, login, history):
    """The preview frames the very HTML that is sent. The page keeps the app's 'self'-only policy; the message,
    which needs inline styles as e-mail does, is a document of its own that may run nothing and fetch nothing."""
    login("lead")
    resp = client.get(f"/mail/preview?week={WEEK}")
    page = resp.get_data(as_text=True)
    assert "콜센터 방역 점검 주간 요약 2020-W19" in page and "chief@district.example" in page
    assert f'src="/mail/preview/body?week={WEEK}&amp;framed=1"' in page
    csp = dict(d.strip().split(" ", 1) for d in resp.headers["Content-Security-Policy"].split(";"))
    assert csp["style-src"] == "'self'" and csp["script-src"] == "'self'" and csp["default-src"] == "'self'"
    with app.app_context():
        sent = weekly_mail.render(WEEK)["body_html"]
    body = client.get(f"/mail/preview/body?week={WEEK}")
    assert body.get_data(as_text=True) == sent and "마바센터" in sent
    assert body.headers["Content-Security-Policy"] == (
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'; base-uri 'none'")
    framed = client.get(f"/mail/preview/body?week={WEEK}&framed=1").get_data(as_text=True)
    assert framed == sent.replace("<head>", '<head><base target="_top">', 1)


def test_preview_needs_a_lead_or_admin(client, login, history):
    assert client.get(f"/mail/preview?week={WEEK}").status_code == 302  # to the login page
    login("inspector")
    assert client.get(f"/mail/preview?week={WEEK}").status_code == 403
    assert client.get(f"/mail/preview/body?week={WEEK}").status_code == 403


def test_korean_words_do_not_split_and_dates_do_not_wrap(app_ctx, history):
    html = weekly_mail.render(WEEK)["body_html"]
    assert "word-break:keep-all" in html
    assert ('<span style="font-weight:normal;font-size:14px;white-space:nowrap;">(2020-05-04 ~ 2020-05-10)</span>'
            in html)


def test_the_korean_subject_and_bodies_on_the_wire(app_ctx, app, db, history, smtp_server):
    """The raw message: 7-bit only; the Subject an RFC 2047 encoded word that decodes to the Korean subject; the
    Date the clock's time; both bodies base64 that decode to the Korean text."""
    from email import message_from_bytes, policy
    from email.header import decode_header, make_header
    from email.utils import parsedate_to_datetime
    mail.queue_weekly_summary(WEEK)
    db.session.commit()
    assert jobs.send_due_mail()["sent"] == 2
    raw = smtp_server.handler.raw[0]
    assert max(raw) < 128
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii").replace("\r\n ", " ")
    subject_line = next(line for line in head.split("\r\n") if line.startswith("Subject: "))[len("Subject: "):]
    assert subject_line.lower().startswith("=?utf-8?")
    assert str(make_header(decode_header(subject_line))) == \
        "[영등포구] 콜센터 방역 점검 주간 요약 2020-W19 (05.04~05.10)"
    msg = message_from_bytes(raw, policy=policy.default)
    assert parsedate_to_datetime(msg["Date"]) == at("2020-05-11T08:00")
    for kind in ("plain", "html"):
        part = msg.get_body((kind,))
        assert part["Content-Transfer-Encoding"] == "base64"
    assert "점검한 사업장: 2 / 3개소" in msg.get_body(("plain",)).get_content()
    assert "마바센터" in msg.get_body(("html",)).get_content()


def test_sites_active_as_of_the_week_by_hand(clock_at, app_ctx, app, db, make_user, site_factory):
    """Sites inspected, out of the sites active at any time in the week, from the register's history (the audit
    trail's close and reopen dates), for two weeks checked by hand. W19 is 05-04..05-10, W21 is 05-18..05-24.

    | site | registered | closed / reopened     | W19 | W21 |
    | A    | 04-01      | -                     | yes | yes |  (inspected in W19)
    | B    | 04-01      | closed 04-30          | no  | no  |
    | C    | 04-01      | closed 05-07          | yes | no  |
    | D    | 04-01      | closed 04-20, reopened 05-08 | yes | yes |
    | E    | 05-12      | -                     | no  | yes |
    | F    | 04-01      | closed 04-20, reopened 05-20 | no  | yes |  (active now, but not in W19)
    | G    | 04-01      | closed 05-20          | yes | yes |  (closed now, but open all of W19)
    | H    | 05-06      | -                     | yes | yes |
    """
    checklist.ensure_default()
    inspector = make_user("inspector")

    def on(day, fn):
        clock_at(at(f"2020-{day}T10:00"))
        out = fn()
        db.session.commit()
        return out
    made = {k: on(day, lambda k=k: site_factory(name=f"사업장{k}", dong="문래동" if k in "AB" else "여의동"))
            for k, day in (("A", "04-01"), ("B", "04-01"), ("C", "04-01"), ("D", "04-01"), ("E", "05-12"),
                           ("F", "04-01"), ("G", "04-01"), ("H", "05-06"))}
    for k, day, status in (("B", "04-30", "closed"), ("C", "05-07", "closed"), ("D", "04-20", "closed"),
                           ("D", "05-08", "active"), ("F", "04-20", "closed"), ("F", "05-20", "active"),
                           ("G", "05-20", "closed")):
        on(day, lambda k=k, status=status: sites.set_status(made[k], status))
    tpl = checklist.current()
    answers = {i.key: {"value": "yes"} for i in tpl.items if i.applies_to("phone")}
    on("05-05", lambda: inspections.submit({"site_id": made["A"].id, "mode": "phone", "answers": answers,
                                            "client_uuid": str(uuid.uuid4()), "contact_name": "담당자"}, by=inspector))
    clock_at(at("2020-06-01T08:00"))
    assert (weekly_mail.context(WEEK)["inspected"], weekly_mail.context(WEEK)["active"]) == (1, 5)  # A; A C D G H
    assert "점검한 사업장: 1 / 5개소" in weekly_mail.render(WEEK)["body_text"]
    assert weekly_mail.context("2020-W21")["active"] == 6  # A D E F G H
    assert summary.compute(WEEK, WEEK, "문래동", coverage=True)["sites_active"] == 1  # A (B closed before)
    # The dashboard's "sites now" is a different figure, and stays so: A D E F H are active today.
    assert summary.compute(WEEK, WEEK)["sites_total"] == 5
    # Over both weeks: every site active at some time from 05-04 to 05-24, i.e. all but B.
    assert summary.compute(WEEK, "2020-W21", coverage=True)["sites_active"] == 7


def test_long_open_actions_and_incidents_as_of_that_week(app_ctx, app, db, history):
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
        db.session.add(Action(site_id=b.id, item_key=key, opened_inspection_id=opened_by,
                              status="cleared" if cleared else "escalated", critical=False,
                              opened_at=end - timedelta(days=opened_days),
                              due_at=end - timedelta(days=opened_days - 7), cleared_at=cleared))
    db.session.add(Incident(site_id=history["a"].id, confirmed_on=date(2020, 5, 9), cases=1,
                            raised_until=date(2020, 5, 23), note="이태원 관련"))
    db.session.commit()
    ctx = weekly_mail.context(WEEK)
    assert sorted(a.item_key for a in ctx["long_open"]) == ["office_clean", "ventilation"]
    msg = weekly_mail.render(WEEK)
    assert "주기적 환기 (1일 2회 이상)" in msg["body_text"] and "ventilation" not in msg["body_text"]
    assert "가나센터 (여의동): 2020-05-09 확진 1명" in msg["body_text"]
    assert '가나센터 (여의동) — <span style="white-space:nowrap;">2020-05-09</span> 확진 1명' in msg["body_html"]
    # A later week's e-mail, like the dashboard for that week, lists no incident: the case was confirmed in W19.
    later = clock.add_weeks(WEEK, 1)
    assert weekly_mail.context(later)["incidents"] == [] == summary.incidents(later, later)
    assert "■ 확진자 발생\n- 없음" in weekly_mail.render(later)["body_text"]
    assert "가나센터 (여의동) —" not in weekly_mail.render(later)["body_html"]


def test_the_scheduler_catching_up_queues_last_weeks_summary_once_after_monday_eight(clock_at, app, db, history,
                                                                                      smtp_server):
    """A scheduler (re)started on Monday before 08:00 sends nothing yet; started after, it queues and sends
    last week's summary; the 08:00 job and further restarts add nothing."""
    from tracker import jobs

    def rows():
        with app.app_context():
            return db.session.scalars(select(Outbox.recipient).where(Outbox.period == WEEK)
                                      .order_by(Outbox.recipient)).all()
    clock_at(at("2020-05-11T07:30"))
    jobs.catch_up(app)
    assert rows() == [] and smtp_server.messages == []
    clock_at(at("2020-05-11T09:10"))
    jobs.catch_up(app)
    assert rows() == ["chief@district.example", "lead@district.example"]
    assert sorted(m["To"] for m in smtp_server.messages) == ["chief@district.example", "lead@district.example"]
    jobs.weekly_summary(app)
    jobs.catch_up(app)
    assert len(rows()) == 2 and len(smtp_server.messages) == 2


def test_preview_in_chromium_shows_the_whole_message_without_an_inner_scroll(app_ctx, app, db, history, live_server,
                                                                                 browser):
    """At 390 px and 1280 px: the message's own inline styles applied, no sideways scroll, and its frame as tall as
    the message, so that its last line is reached by scrolling the page."""
    import os

    from tests.test_outbox import open_as
    lead = db.session.scalar(select(User).where(User.email == "lead@district.example"))
    shots = os.environ.get("TRACKER_SHOTS_DIR")
    for name, viewport, phone in (("phone", {"width": 390, "height": 844}, True),
                                  ("desk", {"width": 1280, "height": 800}, False)):
        ctx, page = open_as(browser, live_server, lead, viewport, phone)
        page.goto(f"{live_server}/mail/preview?week={WEEK}")
        frame = page.locator("iframe.mail-frame")
        page.wait_for_function("() => { const f = document.querySelector('iframe.mail-frame');"
                               " return f.contentDocument && f.contentDocument.readyState === 'complete'"
                               " && f.clientHeight !== 1800; }")
        assert frame.evaluate("f => f.contentDocument.documentElement.scrollHeight <= f.clientHeight + 1")
        assert frame.evaluate("f => f.clientHeight > 600")
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        box = page.frame_locator("iframe.mail-frame")
        header = box.locator("td > div").filter(has_text="콜센터 방역 점검").first.locator("xpath=..")
        assert header.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(15, 42, 68)"
        link = box.get_by_role("link", name="대시보드에서 보기")
        assert link.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(11, 92, 173)"
        link.scroll_into_view_if_needed()
        assert link.is_visible()
        if shots:
            page.screenshot(path=f"{shots}/mail-preview-{name}.png", full_page=True)
        close_context(ctx)
