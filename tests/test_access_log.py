"""The access log of personal data (issue 13): each view, export or download that shows it writes one record, which
admins review by month on a page and read through the API; lists, the API and the default exports show it masked."""
import csv
import io
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from conftest import app_context, csrf_from, loaded
from tracker.extensions import db as store
from tracker.masking import mask_email, mask_name, mask_phone
from tracker.models import AccessLog, AccessReview, Site
from tracker.services import access_log, checklist, inspections, location, retention, site_import
from tracker.services import sites as site_service

OFFICER = {"manager_name": "김민용", "manager_phone": "010-1234-5678"}


def records(app) -> list[dict]:
    """The committed access records, oldest first, as plain values."""
    with app.app_context():
        return [{"user_email": r.user_email, "ip": r.ip, "action": r.action, "subject": r.subject,
                 "reason": r.reason, "at": r.at}
                for r in store.session.scalars(select(AccessLog).order_by(AccessLog.id))]


def csv_rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


@pytest.fixture
def placed(app, db, site_factory, make_user):
    """An on-site inspection with the inspector's position, and one without."""
    with app_context(app):
        tpl = checklist.ensure_default()
        site = site_factory(**OFFICER)
        inspector = make_user("inspector")
        location.decide(inspector, True)   # positions are kept only with consent
        answers = {i.key: {"value": "yes", "note": ""} for i in tpl.items if i.applies_to("onsite")}
        made = []
        for where in ({"lat": 37.5219, "lng": 126.9245}, {}):
            insp, _new = inspections.submit({"site_id": site.id, "mode": "onsite", "client_uuid": str(uuid.uuid4()),
                                             "answers": answers, **where}, by=inspector)
            made.append(insp.id)
        db.session.commit()
        return {"with": made[0], "without": made[1], "site": site.id, "inspector": loaded(inspector)}


# --- masking ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw,masked", [("010-1234-5678", "010-****-5678"), ("02-2670-0001", "02-****-0001"),
                                        ("01012345678", "010****5678"), ("", "")])
def test_phones_keep_their_prefix_and_last_four_digits(raw, masked):
    assert mask_phone(raw) == masked


@pytest.mark.parametrize("raw,masked", [("김민용", "김*용"), ("김용", "김*"), ("남궁민수", "남**수"), ("", "")])
def test_names_keep_their_first_and_last_letter(raw, masked):
    assert mask_name(raw) == masked


def test_emails_keep_the_start_of_the_mailbox_and_the_domain():
    assert mask_email("abcdef@example.com") == "ab***@example.com"
    assert mask_email("a@example.com") == "a***@example.com"


# --- what writes a record, and what does not ---------------------------------------------------------------------

def test_a_leads_site_page_shows_the_officer_in_full_and_writes_one_record(app, client, login, site_factory):
    site = site_factory(**OFFICER)
    lead = login("lead")
    html = client.get(f"/sites/{site.id}").get_data(as_text=True)
    assert "김민용" in html and 'href="tel:010-1234-5678"' in html
    [rec] = records(app)
    assert rec["user_email"] == lead.email and rec["ip"] == "127.0.0.1"
    assert (rec["action"], rec["subject"], rec["reason"]) == ("view", {"site": site.id}, "")


def test_an_inspectors_site_page_is_masked_and_writes_none(app, client, login, site_factory):
    site = site_factory(**OFFICER)
    login("inspector")
    html = client.get(f"/sites/{site.id}").get_data(as_text=True)
    assert "김*용" in html and "010-****-5678" in html and "1234" not in html
    assert records(app) == []


def test_the_phone_monitoring_form_gives_the_inspector_the_number_and_logs_it(app, client, login, site_factory):
    site = site_factory(**OFFICER)
    login("inspector")
    assert client.get(f"/inspect/sites/{site.id}/contact").get_json() == {"name": "김민용", "phone": "010-1234-5678"}
    assert [(r["action"], r["subject"]) for r in records(app)] == [("view", {"site": site.id, "page": "phone"})]


def test_the_user_list_is_logged_with_whose_accounts(app, client, login, make_user):
    other = make_user("inspector")
    admin = login("admin")
    assert client.get("/admin/users").status_code == 200
    [rec] = records(app)
    assert rec["action"] == "view" and sorted(rec["subject"]["users"]) == sorted([admin.id, other.id])


def test_an_inspections_position_is_logged_where_it_is_shown(app, client, login, placed):
    login("lead")
    assert "37.52190" in client.get(f"/inspections/{placed['with']}").get_data(as_text=True)
    assert client.get(f"/inspections/{placed['without']}").status_code == 200   # no position: no record
    assert [r["subject"] for r in records(app)] == [{"inspection": placed["with"], "site": placed["site"]}]
    items = client.get(f"/api/v1/inspections?site_id={placed['site']}").get_json()["items"]
    assert len(items) == 2
    assert [r["subject"] for r in records(app)][1:] == [{"inspections": [placed["with"]]}]


@pytest.mark.parametrize("role", ["inspector", "lead", "admin"])
def test_pages_without_personal_data_write_nothing(app, client, login, site_factory, role):
    site = site_factory()   # no officer on record
    login(role)
    urls = ["/sites/", f"/sites/{site.id}", "/api/v1/sites", "/inspect", "/dashboard/export/actions.csv"]
    statuses = [client.get(url).status_code for url in urls]
    assert statuses.count(200) >= 4 and records(app) == []


# --- exports: a reason first, masked by default, full on request -----------------------------------------------

def test_an_export_asks_for_its_reason_first_and_keeps_the_filters(app, client, login, site_factory):
    site_factory(**OFFICER)
    login("inspector")
    resp = client.get("/sites/export.csv?dong=여의동")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    assert 'name="reason"' in html and 'name="dong" value="여의동"' in html and 'name="full"' not in html
    blank = client.get("/sites/export.csv?dong=여의동&reason=+")
    assert blank.status_code == 422 and "내려받는 사유를 적으세요" in blank.get_data(as_text=True)
    assert records(app) == []


def test_the_default_register_export_is_masked_and_logged_with_filters_rows_and_reason(app, client, login,
                                                                                         site_factory):
    site_factory(name="A", dong="여의동", **OFFICER)
    site_factory(name="B", dong="여의동")
    site_factory(name="C", dong="문래동")
    inspector = login("inspector")
    rows = csv_rows(client.get("/sites/export.csv?dong=여의동&reason=주간 보고").data)
    a = next(r for r in rows if r[0] == "A")
    assert a[6:8] == ["김*용", "010-****-5678"] and len(rows) == 3
    [rec] = records(app)
    assert rec["user_email"] == inspector.email and rec["action"] == "export" and rec["reason"] == "주간 보고"
    assert rec["subject"] == {"export": "register", "format": "csv", "filters": {"dong": "여의동"}, "rows": 2,
                              "full": False}


def test_a_full_export_is_for_leads_with_a_reason_and_is_logged_as_a_download(app, client, login, site_factory):
    site_factory(name="A", **OFFICER)
    login("inspector")
    assert client.get("/sites/export.csv?full=1&reason=x").status_code == 403
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/inspect").get_data(as_text=True))})
    login("lead")
    asked = client.get("/sites/export.xlsx?full=1").get_data(as_text=True)
    assert 'name="full" value="1" checked' in asked          # the form keeps the choice
    rows = csv_rows(client.get("/sites/export.csv?full=1&reason=다시 가져오기").data)
    assert rows[1][6:8] == ["김민용", "010-1234-5678"]
    [rec] = records(app)
    assert (rec["action"], rec["reason"], rec["subject"]["full"], rec["subject"]["rows"]) == \
        ("download", "다시 가져오기", True, 1)


def test_the_inspections_export_asks_for_a_reason_and_logs_its_period_and_rows(app, client, login, placed):
    login("lead")
    with app.app_context():
        week = store.session.scalar(select(func.min(inspections.Inspection.week)))
    url = f"/dashboard/export/inspections.csv?from={week}&to={week}"
    assert 'name="reason"' in client.get(url).get_data(as_text=True) and records(app) == []
    assert len(csv_rows(client.get(url + "&reason=월간 보고").data)) == 3
    [rec] = records(app)
    assert rec["subject"] == {"export": "inspections", "format": "csv", "filters": {"from": week, "to": week},
                              "rows": 2}
    assert rec["reason"] == "월간 보고"


def test_the_apis_site_listing_is_masked(client, login, site_factory):
    site_factory(**OFFICER)
    login("lead")
    [item] = client.get("/api/v1/sites").get_json()["items"]
    assert (item["manager_name"], item["manager_phone"]) == ("김*용", "010-****-5678")


# --- re-importing a masked export ----------------------------------------------------------------------------------

def test_reimporting_a_masked_export_keeps_the_stored_officers(app, client, db, login, site_factory):
    site = site_factory(name="A", **OFFICER)
    login("lead")
    body = client.get("/sites/export.xlsx?reason=다시 가져오기").data
    with app.app_context():
        report = site_import.import_sites(body, "sites.xlsx")
        db.session.commit()
        assert report.ok and report.unchanged == 1 and not report.updated
        stored = db.session.get(Site, site.id)
        assert (stored.manager_name, stored.manager_phone) == ("김민용", "010-1234-5678")


def test_an_import_preview_that_shows_stored_officers_is_logged(app, client, db, login, site_factory):
    """The preview lists each change as stored → uploaded: a changed officer field shows the stored value, in full."""
    from tests.test_import import post_file
    site = site_factory(name="A", business_no="107-81-00001", dong="여의동", headcount=30, **OFFICER)
    site_factory(name="B", business_no="107-81-00002", dong="여의동", headcount=30, **OFFICER)
    login("lead")
    rows = "사업장명,사업자등록번호,행정동,종사자수,방역담당자,연락처\n" \
           "A,107-81-00001,여의동,30,박새담,010-9999-0000\nB,107-81-00002,여의동,31,,\n"
    body = post_file(client, rows.encode(), "r.csv", dry_run=True).get_data(as_text=True)
    assert "방역담당자 김민용 → 박새담" in body and "종사자수 30 → 31" in body  # labelled, not column names
    logged = [r for r in records(app) if r["subject"].get("page") == "import"]
    assert [r["subject"]["sites"] for r in logged] == [[site.id]]  # B's officer was not shown: only its head count
    assert logged[0]["action"] == "view"
    with app.app_context():
        assert "가져오기 미리보기의 방역담당자 (사업장 1곳" in access_log.describe(logged[0]["subject"])


def test_a_new_site_with_a_masked_cell_is_refused_by_row(app_ctx, db, count_rows):
    wb = Workbook()
    ws = wb.active
    ws.append(["사업장명", "사업자등록번호", "행정동", "종사자수", "방역담당자", "연락처"])
    ws.append(["새센터", "107-81-99999", "여의동", 30, "김*용", "010-****-5678"])
    buf = io.BytesIO()
    wb.save(buf)
    report = site_import.import_sites(buf.getvalue(), "new.xlsx")
    assert not report.ok and count_rows(Site) == 0
    messages = [str(e) for e in report.errors]
    assert len(messages) == 2 and messages[0].startswith("2행 E열: 방역담당자이(가) 가려진 값입니다")


# --- the admin page, its month review, and the API -----------------------------------------------------------------

def _add(app, email, action, at, subject=None):
    with app.app_context():
        access_log.add(None, email, "10.0.0.1", action, subject or {"site": 1})
        store.session.flush()
        rec = store.session.scalar(select(AccessLog).order_by(AccessLog.id.desc()))
        rec_id = rec.id
        store.session.commit()
    with app.app_context():  # the stored time is set by the test, below the ORM's append-only guard
        store.session.execute(AccessLog.__table__.update().where(AccessLog.id == rec_id).values(at=at))
        store.session.commit()


NOW = datetime(2020, 4, 10, 3, 0, tzinfo=timezone.utc)


@pytest.fixture
def history(app, clock_at):
    clock_at(NOW)
    _add(app, "kim@gu.test", "view", datetime(2020, 3, 2, 1, 0, tzinfo=timezone.utc))
    _add(app, "kim@gu.test", "export", datetime(2020, 4, 1, 1, 0, tzinfo=timezone.utc),
         {"export": "register", "format": "csv", "filters": {}, "rows": 7, "full": False})
    _add(app, "lee@gu.test", "download", datetime(2020, 4, 9, 1, 0, tzinfo=timezone.utc),
         {"export": "register", "format": "xlsx", "filters": {}, "rows": 7, "full": True})


def test_the_admin_page_filters_by_account_period_and_action(client, login, history):
    login("admin")

    def rows(url):
        html = client.get(url).get_data(as_text=True)
        return html, [e for e in ("kim@gu.test", "lee@gu.test") for _n in range(html.count(f">{e}</td>"))]
    assert rows("/admin/access-log")[1] == ["kim@gu.test", "kim@gu.test", "lee@gu.test"]
    only, shown = rows("/admin/access-log?action=download")
    assert shown == ["lee@gu.test"] and "7행" in only
    april, shown = rows("/admin/access-log?from=2020-04-01&to=2020-04-30&user=kim@gu.test")
    assert shown == ["kim@gu.test"] and "2020-04-01 10:00" in april   # Seoul's time
    bad = client.get("/admin/access-log?from=2020-13-01").get_data(as_text=True)
    assert "시작일: 날짜 &#39;2020-13-01&#39;을(를) 읽을 수 없습니다" in bad


def test_a_month_is_marked_reviewed_once_with_who_and_when(app, client, login, history, count_rows):
    admin = login("admin")
    page = client.get("/admin/access-log").get_data(as_text=True)
    assert "2020-04" in page and "2020-03" in page and "점검 완료로 표시" in page
    token = csrf_from(page)
    resp = client.post("/admin/access-log/review", data={"csrf_token": token, "month": "2020-03"},
                       follow_redirects=True)
    assert "2020-03 접속기록을 점검 완료로 표시했습니다" in resp.get_data(as_text=True)
    with app.app_context():
        review = store.session.scalar(select(AccessReview))
        assert (review.month, review.reviewed_by_id, review.reviewed_at) == ("2020-03", admin.id, NOW)
    again = client.post("/admin/access-log/review", data={"csrf_token": token, "month": "2020-03"},
                        follow_redirects=True)
    assert "이미 점검 완료로 표시되었습니다" in again.get_data(as_text=True)
    later = client.post("/admin/access-log/review", data={"csrf_token": token, "month": "2020-05"},
                        follow_redirects=True)
    assert "올바르지 않습니다" in later.get_data(as_text=True) and count_rows(AccessReview) == 1


@pytest.mark.parametrize("role", ["inspector", "lead"])
def test_only_admins_read_the_access_log(client, login, form_token, role):
    login(role)
    assert client.get("/admin/access-log").status_code == 403
    assert client.post("/admin/access-log/review", data={"csrf_token": form_token("/inspect"),
                                                         "month": "2020-03"}).status_code == 403
    resp = client.get("/api/v1/access-log")
    assert resp.status_code == 403 and resp.get_json()["error"] == "forbidden"


def test_the_api_filters_by_user_period_and_action(client, login, history):
    login("admin")

    def emails(query=""):
        resp = client.get(f"/api/v1/access-log{query}")
        assert resp.status_code == 200, resp.get_json()
        return [(i["user_email"], i["action"]) for i in resp.get_json()["items"]]
    assert emails() == [("lee@gu.test", "download"), ("kim@gu.test", "export"), ("kim@gu.test", "view")]
    assert emails("?user=KIM@gu.test") == [("kim@gu.test", "export"), ("kim@gu.test", "view")]
    assert emails("?from=2020-03-01&to=2020-03-31") == [("kim@gu.test", "view")]
    assert emails("?action=export") == [("kim@gu.test", "export")]
    item = client.get("/api/v1/access-log?action=export").get_json()["items"][0]
    assert set(item) >= {"at", "user_email", "ip", "action", "subject"}
    assert item["at"] == "2020-04-01T01:00:00+00:00" and item["subject"]["rows"] == 7 and item["ip"] == "10.0.0.1"
    bad = client.get("/api/v1/access-log?action=delete&from=yesterday")
    assert bad.status_code == 422 and set(bad.get_json()["errors"]) == {"action", "from"}


def test_a_lead_opens_a_site_and_an_admin_finds_that_view(client, login, site_factory):
    """The issue's walk-through: a lead opens a site's page; an admin finds the view on the page and in the API."""
    site = site_factory(name="한빛고객센터", **OFFICER)
    lead = login("lead")
    page = client.get("/sites/")
    client.get(f"/sites/{site.id}")
    client.post("/logout", data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    login("admin")
    html = client.get(f"/admin/access-log?action=view&user={lead.id}").get_data(as_text=True)
    assert lead.email in html and f'href="/sites/{site.id}"' in html and "사업장 화면" in html
    items = client.get(f"/api/v1/access-log?user={lead.email}").get_json()["items"]
    assert [(i["action"], i["subject"]) for i in items] == [("view", {"site": site.id})]


# --- append-only, and the retention purge's statement --------------------------------------------------------------

def test_records_are_never_edited_and_only_the_purge_removes_old_ones(app, db, clock_at):
    clock_at(NOW)
    _add(app, "old@gu.test", "view", NOW - timedelta(days=731))
    _add(app, "new@gu.test", "view", NOW - timedelta(days=729))
    with app.app_context():
        rec = db.session.scalar(select(AccessLog).where(AccessLog.user_email == "new@gu.test"))
        rec.reason = "고침"
        with pytest.raises(PermissionError):
            db.session.flush()
        db.session.rollback()
        assert retention.purge().counts["access_log"] == 1
        db.session.commit()
        assert db.session.scalars(select(AccessLog.user_email)).all() == ["new@gu.test"]


def test_a_closed_sites_officer_is_not_given_to_an_inspector_in_full(app, client, login, site_factory):
    """A closed site has no phone-monitoring form (410), so the number the form fetches is not given either: until
    retention blanks it, it stays masked for inspectors, as everywhere else."""
    site = site_factory(**OFFICER)
    with app.app_context():
        site_service.set_status(store.session.get(Site, site.id), "closed")
        store.session.commit()
    login("inspector")
    resp = client.get(f"/inspect/sites/{site.id}/contact")
    assert resp.status_code == 410 and "1234" not in resp.get_data(as_text=True)
    assert records(app) == []
