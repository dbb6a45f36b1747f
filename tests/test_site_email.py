"""The prevention officer's e-mail on a site (issue 16): the register form, the import, the exports and the API,
checked where it enters and masked in the API's list."""
import csv
import io

import pytest
from sqlalchemy import select

from conftest import app_context, csrf_from
from tracker.models import Site
from tracker.services import ServiceError, accounts, reports, site_import, sites

BASE = {"name": "한빛고객센터", "business_no": "107-81-00001", "dong": "여의동", "headcount": 30}


def test_create_keeps_a_clean_address(app_ctx, db):
    site = sites.create_site({**BASE, "manager_email": "  Kim.Bang@Example.COM "})
    assert site.manager_email == "kim.bang@example.com"
    assert site.snapshot()["manager_email"] == "kim.bang@example.com"


@pytest.mark.parametrize("bad", ["kim", "kim@", "김방역@example.com", "a@b.com\r\nBcc: x@y.com",
                                 "Kim <kim@example.com>", "a@example.com, b@example.com", "x" * 250 + "@a.com"])
def test_a_bad_address_is_refused_by_name(app_ctx, db, bad):
    with pytest.raises(ServiceError) as exc:
        sites.create_site({**BASE, "manager_email": bad})
    assert "방역담당자 이메일" in exc.value.errors["manager_email"]
    assert db.session.scalar(select(Site)) is None


def test_register_form_saves_and_shows_it(client, login):
    login("lead")
    page = client.get("/sites/new").get_data(as_text=True)
    assert 'name="manager_email"' in page
    form = {**BASE, "csrf_token": csrf_from(page), "manager_email": "not-an-address"}
    resp = client.post("/sites/new", data=form)
    assert resp.status_code == 422
    assert "올바른 이메일 주소가 아닙니다" in resp.get_data(as_text=True)
    resp = client.post("/sites/new", data={**form, "manager_email": "officer@hanbit.example"})
    assert resp.status_code == 302
    detail = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "officer@hanbit.example" in detail


@pytest.mark.parametrize("header", ["방역담당자 이메일", "이메일", "email"])
def test_import_reads_the_column(app_ctx, db, header):
    data = "\r\n".join([f"사업장명,사업자등록번호,행정동,종사자수,{header}",
                        "한빛고객센터,107-81-00001,여의동,30,officer@hanbit.example"]).encode()
    report = site_import.import_sites(data, "sites.csv")
    assert report.ok, report.errors
    db.session.commit()
    assert db.session.scalar(select(Site.manager_email)) == "officer@hanbit.example"


def test_import_names_a_bad_address_with_its_row_and_column(app_ctx, db):
    data = "\r\n".join(["사업장명,사업자등록번호,행정동,종사자수,이메일",
                        "한빛고객센터,107-81-00001,여의동,30,officer at hanbit"]).encode()
    report = site_import.import_sites(data, "sites.csv")
    assert not report.ok
    assert [(e.row, e.column, e.cell) for e in report.errors] == [(2, "방역담당자 이메일", "E열(이메일)")]
    assert db.session.scalar(select(Site)) is None


def test_import_blank_cell_keeps_the_stored_address(app_ctx, db):
    sites.create_site({**BASE, "manager_email": "officer@hanbit.example"})
    db.session.commit()
    data = "\r\n".join(["사업장명,사업자등록번호,행정동,종사자수,이메일",
                        "한빛고객센터,107-81-00001,여의동,30,"]).encode()
    report = site_import.import_sites(data, "sites.csv")
    assert report.ok and report.unchanged == 1
    assert db.session.scalar(select(Site.manager_email)) == "officer@hanbit.example"


@pytest.mark.parametrize("full, shown", [(True, "officer@hanbit.example"), (False, "of***@hanbit.example")])
def test_export_carries_it_and_round_trips(app_ctx, db, full, shown):
    sites.create_site({**BASE, "manager_email": "officer@hanbit.example"})
    db.session.commit()
    text = reports.to_csv(reports.REGISTER_HEADERS, reports.register_rows(full=full)).decode("utf-8-sig")
    head, row = list(csv.reader(io.StringIO(text)))
    assert row[head.index("방역담당자 이메일")] == shown
    # The export read back in changes nothing, masked or not: a masked cell keeps what is stored.
    report = site_import.import_sites(text.encode("utf-8"), "sites.csv")
    assert report.ok and report.unchanged == 1
    db.session.commit()
    assert db.session.scalar(select(Site.manager_email)) == "officer@hanbit.example"


def test_api_list_masks_it(app, client, db, make_user):
    with app_context(app):
        sites.create_site({**BASE, "manager_email": "officer@hanbit.example"})
        sites.create_site({**BASE, "name": "새솔", "business_no": "107-81-00002"})
        token = accounts.create_token(make_user("inspector"))
        db.session.commit()
    items = client.get("/api/v1/sites", headers={"Authorization": f"Bearer {token}"}).get_json()["items"]
    by_name = {i["name"]: i["manager_email"] for i in items}
    assert by_name == {"한빛고객센터": "of***@hanbit.example", "새솔": ""}
    assert "officer@" not in str(items)

