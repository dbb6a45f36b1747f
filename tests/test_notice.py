"""The result notice to a site (issue 16 §3): queued when the inspection is saved, held for
TRACKER_NOTICE_HOLD_MINUTES, holdable, replaced by a later inspection, delivered once through the outbox to a real
SMTP server (aiosmtpd) with the 점검 결과서 PDF attached, retried like every mail."""
import io
from datetime import datetime, timedelta, timezone

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from conftest import client_as, csrf_from
from tests.test_report_pdf import inspect
from tracker import jobs
from tracker.extensions import db as _db
from tracker.models import Audit, Outbox
from tracker.services import notices, settings

T0 = datetime(2020, 5, 11, 1, 30, tzinfo=timezone.utc)  # Monday 10:30 in Seoul
OFFICER = "officer@hanbit.example"


@pytest.fixture
def tpl(default_checklist):
    return default_checklist


def _no_keys(tpl, n=1):
    return [i.key for i in tpl.items if i.applies_to("onsite") and i.critical][:n]


def _rows(app):
    with app.app_context():
        return [(r.period, r.status, r.recipient) for r in _db.session.scalars(select(Outbox).order_by(Outbox.id))]


def _deliver(app):
    with app.app_context():
        return jobs.send_due_mail()


def test_notice_waits_the_hold_then_goes_once_with_the_pdf(app, tpl, site_factory, make_user, smtp_server,
                                                           clock_at):
    clock_at(T0)
    site = site_factory(name="한빛고객센터", manager_email=OFFICER)
    inspector = make_user("inspector")
    no = _no_keys(tpl)
    iid = inspect(app, tpl, site, inspector, no=no)
    assert _rows(app) == [(f"inspection-{iid}", "pending", OFFICER)]
    with app.app_context():
        row = notices.of(iid)
        assert row.not_before == T0 + timedelta(minutes=60) and row.attachment == "report"
        label = next(i.label_ko for i in tpl.items if i.key == no[0])
    clock_at(T0 + timedelta(minutes=59))
    assert _deliver(app)["sent"] == 0 and smtp_server.messages == []
    clock_at(T0 + timedelta(minutes=60))
    assert _deliver(app) == {"sent": 1, "retry": 0, "failed": 0}
    assert _deliver(app)["sent"] == 0
    [msg] = smtp_server.messages
    assert msg["To"] == OFFICER
    assert "점검 결과 통보" in msg["Subject"] and "한빛고객센터" in msg["Subject"]
    text = msg.get_body(("plain",)).get_content()
    assert label in text and f"{no[0]} 미흡: 현장에서 확인" in text
    assert "2020-05-14 10:30까지" in text  # a critical item: three days (TRACKER_ACTION_DAYS_CRITICAL)
    [pdf] = [p for p in msg.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert pdf.get_filename().endswith(f"_{iid}.pdf")
    pdf_text = PdfReader(io.BytesIO(pdf.get_content())).pages[0].extract_text()
    assert "점검 결과서" in pdf_text and "한빛고객센터" in pdf_text


def test_the_hold_is_a_setting(app, tpl, site_factory, make_user, clock_at):
    clock_at(T0)
    app.config["TRACKER_NOTICE_HOLD_MINUTES"] = 5
    site = site_factory(manager_email=OFFICER)
    iid = inspect(app, tpl, site, make_user("inspector"), no=_no_keys(tpl))
    with app.app_context():
        assert notices.of(iid).not_before == T0 + timedelta(minutes=5)


def test_sent_once_after_the_server_comes_back(app, tpl, site_factory, make_user, smtp_server, clock_at):
    clock_at(T0)
    site = site_factory(manager_email=OFFICER)
    inspect(app, tpl, site, make_user("inspector"), no=_no_keys(tpl))
    smtp_server.stop()
    clock_at(T0 + timedelta(minutes=60))
    assert _deliver(app) == {"sent": 0, "retry": 1, "failed": 0}
    smtp_server.start()
    clock_at(T0 + timedelta(minutes=61))
    assert _deliver(app)["sent"] == 0  # the backoff is respected too
    clock_at(T0 + timedelta(minutes=62))
    assert _deliver(app) == {"sent": 1, "retry": 0, "failed": 0}
    assert _deliver(app)["sent"] == 0
    assert len(smtp_server.messages) == 1
    assert any(p.get_content_type() == "application/pdf" for p in smtp_server.messages[0].iter_attachments())


def test_inspector_holds_it_from_the_result_page_and_releases_it(app, tpl, site_factory, make_user, smtp_server,
                                                                 clock_at):
    clock_at(T0)
    site = site_factory(manager_email=OFFICER)
    inspector, other, lead = make_user("inspector"), make_user("inspector"), make_user("lead")
    iid = inspect(app, tpl, site, inspector, no=_no_keys(tpl))
    mine = client_as(app, inspector)
    page = mine.get(f"/inspections/{iid}").get_data(as_text=True)
    assert "of***@hanbit.example" in page and "통보 보류" in page
    token = csrf_from(page)
    stranger = client_as(app, other)
    theirs = csrf_from(stranger.get("/inspect").get_data(as_text=True))
    assert stranger.post(f"/inspections/{iid}/notice/hold", data={"csrf_token": theirs}).status_code == 403
    assert mine.post(f"/inspections/{iid}/notice/hold", data={}).status_code == 400  # no token: nothing changes
    assert _rows(app)[0][1] == "pending"
    resp = mine.post(f"/inspections/{iid}/notice/hold", data={"csrf_token": token})
    assert resp.status_code == 303
    assert _rows(app)[0][1] == "held"
    clock_at(T0 + timedelta(hours=5))
    assert _deliver(app)["sent"] == 0 and smtp_server.messages == []
    # A lead lets it go after all: it leaves at the next run.
    lead_client = client_as(app, lead)
    token = csrf_from(lead_client.get(f"/inspections/{iid}").get_data(as_text=True))
    lead_client.post(f"/inspections/{iid}/notice/release", data={"csrf_token": token})
    assert _deliver(app)["sent"] == 1
    with app.app_context():
        assert [a.action for a in _db.session.scalars(select(Audit).where(Audit.entity == "inspection"))] == \
            ["hold_notice", "release_notice"]
    # Once sent, it can no longer be held.
    resp = lead_client.post(f"/inspections/{iid}/notice/hold", data={"csrf_token": token}, follow_redirects=True)
    assert "이미 보냈거나" in resp.get_data(as_text=True)


def test_a_later_inspection_replaces_a_waiting_notice(app, tpl, site_factory, make_user, smtp_server, clock_at):
    clock_at(T0)
    site = site_factory(manager_email=OFFICER)
    inspector = make_user("inspector")
    first = inspect(app, tpl, site, inspector, no=_no_keys(tpl))
    clock_at(T0 + timedelta(minutes=20))
    # The second check answers the same item "no" again: it opens no new action, yet its notice replaces the
    # first and still lists what must be done.
    second = inspect(app, tpl, site, inspector, no=_no_keys(tpl))
    assert _rows(app) == [(f"inspection-{first}", "replaced", OFFICER), (f"inspection-{second}", "pending", OFFICER)]
    clock_at(T0 + timedelta(hours=3))
    assert _deliver(app)["sent"] == 1
    [msg] = smtp_server.messages
    assert f"_{second}.pdf" in next(msg.iter_attachments()).get_filename()
    assert "까지" in msg.get_body(("plain",)).get_content()


def test_a_sent_notice_is_not_replaced(app, tpl, site_factory, make_user, smtp_server, clock_at):
    clock_at(T0)
    site = site_factory(manager_email=OFFICER)
    inspector = make_user("inspector")
    first = inspect(app, tpl, site, inspector, no=_no_keys(tpl))
    clock_at(T0 + timedelta(hours=2))
    assert _deliver(app)["sent"] == 1
    inspect(app, tpl, site, inspector)  # all "yes": clears the action, and no 적합 notice by default
    assert _rows(app) == [(f"inspection-{first}", "sent", OFFICER)]


def test_no_email_no_notice_and_leads_see_who_lacks_one(app, client, login, tpl, site_factory, make_user,
                                                         clock_at):
    clock_at(T0)
    site = site_factory(name="이메일없는센터")
    site_factory(name="이메일있는센터", manager_email=OFFICER)
    inspector = make_user("inspector")
    iid = inspect(app, tpl, site, inspector, no=_no_keys(tpl))
    assert _rows(app) == []
    page = client_as(app, inspector).get(f"/inspections/{iid}").get_data(as_text=True)
    assert "이메일이 없어 결과 통보를 보내지 않았습니다" in page
    login("lead")
    page = client.get("/sites/").get_data(as_text=True)
    assert "방역담당자 이메일이 없는 사업장이 1곳 있습니다" in page
    listed = client.get("/sites/?no_email=1&status=active").get_data(as_text=True)
    assert "이메일없는센터" in listed and "이메일있는센터" not in listed


def test_compliant_notice_only_when_an_admin_switches_it_on(app, client, login, tpl, site_factory, make_user,
                                                             smtp_server, clock_at):
    clock_at(T0)
    site = site_factory(manager_email=OFFICER)
    inspector = make_user("inspector")
    inspect(app, tpl, site, inspector)
    assert _rows(app) == []
    login("admin")
    page = client.get("/admin/settings").get_data(as_text=True)
    resp = client.post("/admin/settings", data={"csrf_token": csrf_from(page), "notice_compliant": "y"})
    assert resp.status_code == 302
    with app.app_context():
        assert settings.enabled("notice_compliant")
    iid = inspect(app, tpl, site, inspector)
    assert _rows(app) == [(f"inspection-{iid}", "pending", OFFICER)]
    clock_at(T0 + timedelta(hours=2))
    assert _deliver(app)["sent"] == 1
    msg = smtp_server.messages[0]
    assert "(적합)" in msg["Subject"]
    assert "모두 적합했습니다" in msg.get_body(("plain",)).get_content()


def test_settings_page_is_for_admins_only(app, client, login):
    login("lead")
    assert client.get("/admin/settings").status_code == 403
