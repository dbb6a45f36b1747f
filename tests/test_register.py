"""The register pages: list, filters, council tables, site page, create/edit/close, roles, CSRF and audit."""
import re

import pytest
from sqlalchemy import select

from tests.conftest import csrf_from, loaded, reloaded
from tracker.models import Audit, Site


def names_on(html: str) -> list[str]:
    return re.findall(r'<strong class="name">([^<]+)</strong>', html)


@pytest.fixture
def register(app, site_factory):
    """A small register across dongs, bands and statuses."""
    from tracker.extensions import db
    from tracker.services import sites
    with app.app_context():
        s = {
            "a": site_factory(name="한빛고객센터", business_no="107-81-11111", dong="여의동", headcount=40),
            "b": site_factory(name="새솔콜센터", business_no="107-81-22222", dong="여의동", headcount=120),
            "c": site_factory(name="누리상담센터", business_no="204-55-33333", dong="당산1동", headcount=40),
            "d": site_factory(name="다온컨택센터", business_no="204-55-44444", dong="문래동", headcount=800),
        }
        sites.set_status(s["d"], "closed")
        db.session.commit()
        loaded(*s.values())
    return s


def test_register_lists_sites_and_the_two_council_tables(client, login, register):
    login("inspector")
    html = client.get("/sites/").get_data(as_text=True)
    assert set(names_on(html)) == {"한빛고객센터", "새솔콜센터", "누리상담센터", "다온컨택센터"}
    assert "총 3개소" in html  # active sites, as the report counts them
    by_dong = re.search(r"<caption>동별</caption>(.*?)</table>", html, re.S).group(1)
    cells = re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", by_dong)
    assert cells == ["동", "여의동", "당산1동", "계", "개소", "2", "1", "3"]
    by_band = re.search(r"<caption>직원수별</caption>(.*?)</table>", html, re.S).group(1)
    cells = re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", by_band)
    assert cells[:11] == ["직원수", "50 이하", "51~100", "101~150", "151~200", "201~250", "251~300", "301~400",
                          "401~700", "701이상", "계"]
    assert cells[11:] == ["개소", "2", "0", "1", "0", "0", "0", "0", "0", "0", "3"]


@pytest.mark.parametrize("query,expected", [
    ("dong=여의동", {"한빛고객센터", "새솔콜센터"}),
    ("band=50 이하", {"한빛고객센터", "누리상담센터"}),
    ("band=701이상", {"다온컨택센터"}),
    ("status=closed", {"다온컨택센터"}),
    ("status=active&band=50 이하&dong=당산1동", {"누리상담센터"}),
    ("q=새솔", {"새솔콜센터"}),
    ("q=센터", {"한빛고객센터", "새솔콜센터", "누리상담센터", "다온컨택센터"}),
    ("q=2045533333", {"누리상담센터"}),
    ("q=204-55", {"누리상담센터", "다온컨택센터"}),
    ("q=%", set()),            # a LIKE wildcard is searched for literally
    ("q=없는이름", set()),
])
def test_register_filters_and_search(client, login, register, query, expected):
    login("lead")
    html = client.get(f"/sites/?{query}").get_data(as_text=True)
    assert set(names_on(html)) == expected
    if not expected:
        assert "조건에 맞는 사업장이 없습니다" in html


def test_register_pages(client, login, site_factory):
    for i in range(30):
        site_factory(name=f"센터{i:02d}", dong="여의동")
    login("lead")
    first = client.get("/sites/").get_data(as_text=True)
    second = client.get("/sites/?page=2").get_data(as_text=True)
    assert len(names_on(first)) == 25 and len(names_on(second)) == 5
    assert not set(names_on(first)) & set(names_on(second))
    assert "1 / 2" in first and "page=2" in first
    # the pager keeps the filters
    html = client.get("/sites/?dong=여의동").get_data(as_text=True)
    assert re.search(r'href="/sites/\?page=2&amp;dong=', html)


def test_site_page_shows_details_and_qr(client, login, site_factory):
    from tracker.services import sites
    s = site_factory(name="한빛고객센터", business_no="107-81-11111", dong="당산2동", headcount=1204,
                     address="당산로 1", manager_name="김방역", manager_phone="02-2670-0001")
    login("lead")
    html = client.get(f"/sites/{s.id}").get_data(as_text=True)
    for text in ("한빛고객센터", "107-81-11111", "당산2동", "당산로 1", "1,204명", "701이상", "김방역",
                 'href="tel:02-2670-0001"', f"/sites/{s.id}/qr.svg", f"http://tracker.test/s/{s.qr_token}",
                 sites.short_code(s)):
        assert text in html, text
    client.post("/logout", data={"csrf_token": csrf_from(html)})
    login("inspector")
    html = client.get(f"/sites/{s.id}").get_data(as_text=True)
    # the officer masked (issue 13): inspectors get the number in full on the phone-monitoring form, logged there
    assert "한빛고객센터" in html and "김*역" in html and "02-****-0001" in html
    assert "김방역" not in html and "02-2670-0001" not in html
    # inspectors see no edit controls, and never the code: it is what proves they stood at the site
    assert f"/sites/{s.id}/edit" not in html and "rotate-qr" not in html
    assert s.qr_token not in html and sites.short_code(s) not in html
    assert client.get(f"/sites/{s.id}/qr.png").status_code == 403
    assert client.get("/sites/999999").status_code == 404


def site_form(token, **kw):
    data = {"csrf_token": token, "name": "여울콜센터", "business_no": "1234567890", "dong": "양평2동",
            "address": "양평로 5", "headcount": "151", "manager_name": "최담당", "manager_phone": "02-000-0000"}
    data.update(kw)
    return data


def test_lead_creates_a_site_with_derived_band_and_audit(app, client, db, login, form_token):
    lead = login("lead")
    resp = client.post("/sites/new", data=site_form(form_token("/sites/new"), size_band="50 이하"))
    assert resp.status_code == 302
    with app.app_context():
        site = db.session.scalar(select(Site))
        assert resp.headers["Location"].endswith(f"/sites/{site.id}")
        assert (site.business_no, site.dong, site.headcount, site.size_band) == ("123-45-67890", "양평2동", 151,
                                                                                "151~200")
        row = db.session.scalar(select(Audit).where(Audit.entity == "site", Audit.entity_id == site.id))
        assert (row.action, row.user_id, row.before) == ("create", lead.id, None)
        assert row.after["name"] == "여울콜센터" and row.after["size_band"] == "151~200"


def test_site_with_no_staff_can_be_registered(app, client, db, login, form_token):
    login("lead")
    resp = client.post("/sites/new", data=site_form(form_token("/sites/new"), headcount="0"))
    assert resp.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Site.size_band)) == "50 이하"


@pytest.mark.parametrize("field,value,message", [
    ("business_no", "12345", "10자리 숫자가 아닙니다"),
    ("business_no", "107-81-11111", "이미 등록되어 있습니다"),
    ("dong", "강남동", ""),
    ("headcount", "-1", ""),
    ("name", "", ""),
])
def test_create_form_refuses_bad_input(app, client, db, login, form_token, site_factory, field, value, message):
    site_factory(business_no="107-81-11111")
    login("admin")
    resp = client.post("/sites/new", data=site_form(form_token("/sites/new"), **{field: value}))
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert 'class="error"' in html and message in html
    with app.app_context():
        assert db.session.scalar(select(Site).where(Site.business_no == "123-45-67890")) is None


def test_lead_edits_a_site_and_the_audit_keeps_before_and_after(app, client, db, login, form_token, site_factory):
    s = site_factory(name="옛센터", business_no="107-81-11111", dong="여의동", headcount=40)
    lead = login("lead")
    token = form_token(f"/sites/{s.id}/edit")
    resp = client.post(f"/sites/{s.id}/edit", data=site_form(token, name="새센터", business_no="107-81-11111",
                                                               dong="여의동", headcount="260"))
    assert resp.status_code == 302
    s = reloaded(app, s)
    assert (s.name, s.headcount, s.size_band) == ("새센터", 260, "251~300")
    with app.app_context():
        row = db.session.scalars(select(Audit).where(Audit.entity_id == s.id, Audit.action == "update")).one()
        assert row.user_id == lead.id and row.at is not None
        assert (row.before["name"], row.after["name"]) == ("옛센터", "새센터")
        assert (row.before["size_band"], row.after["size_band"]) == ("50 이하", "251~300")
    html = client.get(f"/sites/{s.id}").get_data(as_text=True)
    assert "종사자수: 40 → 260" in html and "규모: 50 이하 → 251~300" in html and lead.name in html
    assert "<b>수정</b>" in html and "사업장명: 옛센터 → 새센터" in html
    assert "사업자등록번호:" not in html and "행정동:" not in html  # untouched fields are not listed
    # saving the same values again writes no audit row
    client.post(f"/sites/{s.id}/edit", data=site_form(token, name="새센터", business_no="107-81-11111",
                                                        dong="여의동", headcount="260"))
    with app.app_context():
        assert len(db.session.scalars(select(Audit).where(Audit.entity_id == s.id, Audit.action == "update"))
                   .all()) == 1


def test_lead_closes_and_reopens_a_site(app, client, db, login, form_token, site_factory):
    s = site_factory()
    lead = login("lead")
    token = form_token(f"/sites/{s.id}")
    resp = client.post(f"/sites/{s.id}/status", data={"csrf_token": token, "status": "closed"})
    assert resp.status_code == 302
    assert reloaded(app, s).status == "closed"
    with app.app_context():
        row = db.session.scalars(select(Audit).where(Audit.entity_id == s.id, Audit.action == "close")).one()
        assert row.user_id == lead.id and (row.before["status"], row.after["status"]) == ("active", "closed")
    html = client.get(f"/sites/{s.id}").get_data(as_text=True)
    assert "폐업" in html and "다시 운영" in html
    assert "총 0개소" in client.get("/sites/").get_data(as_text=True)
    # a bad status is refused with a message, not a server error
    resp = client.post(f"/sites/{s.id}/status", data={"csrf_token": token, "status": "deleted"}, follow_redirects=True)
    assert resp.status_code == 200 and "active 또는 closed" in resp.get_data(as_text=True)
    client.post(f"/sites/{s.id}/status", data={"csrf_token": token, "status": "active"})
    assert reloaded(app, s).status == "active"


@pytest.mark.parametrize("method,url", [
    ("get", "/sites/new"), ("post", "/sites/new"), ("get", "/sites/{id}/edit"), ("post", "/sites/{id}/edit"),
    ("post", "/sites/{id}/status"), ("post", "/sites/{id}/rotate-qr"), ("get", "/sites/import"),
    ("post", "/sites/import"), ("get", "/sites/qr-sheet"), ("get", "/admin/users"), ("post", "/admin/users"),
    ("post", "/admin/users/1"),
])
def test_inspector_gets_403_on_changes(app, client, db, login, form_token, site_factory, method, url):
    s = site_factory(name="그대로센터")
    login("inspector")
    token = form_token("/sites/")
    resp = getattr(client, method)(url.format(id=s.id), data={"csrf_token": token, "status": "closed",
                                                               "name": "바뀐센터", "business_no": s.business_no,
                                                               "dong": "여의동", "headcount": "5"})
    assert resp.status_code == 403
    assert "권한" in resp.get_data(as_text=True)
    s = reloaded(app, s)
    assert (s.name, s.status) == ("그대로센터", "active")


@pytest.mark.parametrize("method,url", [("get", "/admin/users"), ("post", "/admin/users"), ("post", "/admin/users/1")])
def test_lead_gets_403_on_admin_pages(client, login, form_token, method, url):
    login("lead")
    resp = getattr(client, method)(url, data={"csrf_token": form_token("/sites/")})
    assert resp.status_code == 403


@pytest.mark.parametrize("url", ["/sites/", "/sites/{id}", "/sites/new", "/sites/{id}/edit", "/sites/import",
                                 "/sites/qr-sheet", "/sites/export.csv", "/sites/{id}/qr.png", "/admin/users", "/"])
def test_anonymous_users_are_sent_to_login(client, site_factory, url):
    s = site_factory()
    resp = client.get(url.format(id=s.id))
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/login")


@pytest.mark.parametrize("url,data", [
    ("/sites/new", {"name": "몰래센터", "business_no": "9999999999", "dong": "여의동", "headcount": "3"}),
    ("/sites/{id}/edit", {"name": "몰래센터", "business_no": "9999999999", "dong": "여의동", "headcount": "3"}),
    ("/sites/{id}/status", {"status": "closed"}),
    ("/sites/{id}/rotate-qr", {}),
])
def test_posts_without_csrf_token_are_refused(app, client, db, login, site_factory, url, data):
    s = site_factory(name="그대로센터")
    token = s.qr_token
    login("admin")
    resp = client.post(url.format(id=s.id), data=data)
    assert resp.status_code == 400
    assert "보안 토큰" in resp.get_data(as_text=True)
    s = reloaded(app, s)
    assert (s.name, s.status, s.qr_token) == ("그대로센터", "active", token)
    with app.app_context():
        assert db.session.scalar(select(Site).where(Site.business_no == "999-99-99999")) is None
    # and a wrong token too
    resp = client.post(url.format(id=s.id), data={**data, "csrf_token": "forged"})
    assert resp.status_code == 400


def test_security_headers(client, login):
    resp = client.get("/login")
    h = resp.headers
    assert "default-src 'self'" in h["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in h["Content-Security-Policy"]
    assert h["X-Frame-Options"] == "DENY"
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["Referrer-Policy"] == "same-origin"
    assert "HttpOnly" in client.post("/login", data={}).headers.get("Set-Cookie", "HttpOnly")


def test_changed_band_edges_reach_the_tables_at_once_and_the_sites_on_refresh(app, client, db, login,
                                                                              site_factory):
    """Another district (or a new ministry rule) sets TRACKER_BAND_EDGES: the register's tables use the new bands
    straight away, and `refresh-bands` (run by the scheduler on start) moves every site's stored band."""
    from tracker.services import sites
    for n, headcount in enumerate((40, 100, 101, 300, 301, 900)):
        site_factory(name=f"센터{n}", headcount=headcount)
    app.config["TRACKER_BAND_EDGES"] = [100, 300]
    app.extensions.pop("tracker_district")
    with app.app_context():
        assert sites.counts()["by_band"] == {"100 이하": 2, "101~300": 2, "301이상": 2}
    login("lead")
    assert set(names_on(client.get("/sites/?band=301이상").get_data(as_text=True))) == {"센터4", "센터5"}
    with app.app_context():
        assert db.session.scalar(select(Site.size_band).where(Site.name == "센터4")) == "301~400"  # not yet moved
    result = app.test_cli_runner().invoke(args=["refresh-bands"])
    assert "6 sites moved" in result.output, result.output  # every one of the six lands in a new band
    with app.app_context():
        assert dict(db.session.execute(select(Site.name, Site.size_band)).all()) == {
            "센터0": "100 이하", "센터1": "100 이하", "센터2": "101~300", "센터3": "101~300", "센터4": "301이상",
            "센터5": "301이상"}
        rows = db.session.scalars(select(Audit).where(Audit.action == "update")).all()
        assert {(r.before["size_band"], r.after["size_band"]) for r in rows} >= {("301~400", "301이상")}
    assert app.test_cli_runner().invoke(args=["refresh-bands"]).output.strip() == "size bands refreshed: 0 sites moved"
