"""Export of the register (XLSX, CSV with BOM) that round-trips through the importer; QR codes and the sheet."""
import csv
import io
import re

import qrcode
import qrcode.image.svg
from openpyxl import load_workbook
from sqlalchemy import select

from conftest import loaded
from tracker.models import Audit, Site
from tracker.services import site_import, sites


def make_register(site_factory):
    a = site_factory(name="한빛고객센터", business_no="107-81-11111", dong="여의동", headcount=1204,
                     address="여의대로 1, 3층", manager_name="김방역", manager_phone="02-2670-0001")
    b = site_factory(name='새솔 "콜" 센터', business_no="107-81-22222", dong="당산1동", headcount=51)
    c = site_factory(name="=HYPERLINK(\"http://evil\")", business_no="107-81-33333", dong="문래동", headcount=7,
                     self_check=True)  # a small site asked to check itself weekly
    return a, b, c


def test_csv_export_is_utf8_with_bom_and_lists_the_register(client, login, site_factory):
    make_register(site_factory)
    login("inspector")
    resp = client.get("/sites/export.csv?reason=주간 보고")
    assert resp.status_code == 200
    assert resp.mimetype == "text/csv"
    assert 'attachment; filename="sites.csv"' in resp.headers["Content-Disposition"]
    body = resp.data
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == ["사업장명", "사업자등록번호", "행정동", "소재지", "종사자수", "규모", "방역담당자", "연락처",
                       "방역담당자 이메일", "상태", "자체점검 요청"]
    by_no = {r[1]: r for r in rows[1:]}
    assert by_no["107-81-11111"] == ["한빛고객센터", "107-81-11111", "여의동", "여의대로 1, 3층", "1204", "701이상",
                                     "김*역", "02-****-0001", "", "운영", "아니오"]  # masked; no e-mail on file
    # text Excel would run as a formula is written as text
    assert by_no["107-81-33333"][0] == "'=HYPERLINK(\"http://evil\")"


def test_xlsx_export_has_the_register_and_no_formulas(client, login, site_factory):
    make_register(site_factory)
    login("lead")
    resp = client.get("/sites/export.xlsx?reason=주간 보고")
    assert resp.status_code == 200
    assert resp.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    ws = load_workbook(io.BytesIO(resp.data)).active
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    assert rows[0][:5] == ["사업장명", "사업자등록번호", "행정동", "소재지", "종사자수"]
    assert len(rows) == 4
    evil = next(r for r in ws.iter_rows() if r[1].value == "107-81-33333")[0]
    assert evil.data_type == "s" and evil.value.startswith("=HYPERLINK")


def test_export_keeps_the_list_filters(client, login, site_factory):
    make_register(site_factory)
    login("lead")
    body = client.get("/sites/export.csv?dong=여의동&reason=주간 보고").data.decode("utf-8-sig")
    assert "한빛고객센터" in body and "107-81-22222" not in body
    html = client.get("/sites/?dong=여의동").get_data(as_text=True)
    assert re.search(r'href="/sites/export\.csv\?dong=', html)
    assert client.get("/sites/export.pdf").status_code == 404


def test_exports_round_trip_through_the_importer(app, client, db, login, site_factory):
    make_register(site_factory)
    login("lead")
    for fmt in ("csv", "xlsx"):  # the masked exports keep the stored officers
        data = client.get(f"/sites/export.{fmt}?reason=다시 가져오기").data
        with app.app_context():
            report = site_import.import_sites(data, f"sites.{fmt}", dry_run=True)
        assert report.ok, [str(e) for e in report.errors]
        assert (report.created, report.updated, report.unchanged) == ([], [], 3), fmt
    # and into an empty register, every field of the full export comes back
    with app.app_context():
        before = {s.business_no: s.snapshot() for s in db.session.scalars(select(Site))}
    data = client.get("/sites/export.csv?full=1&reason=다시 가져오기").data
    with app.app_context():
        for s in db.session.scalars(select(Site)).all():
            db.session.delete(s)
        db.session.commit()
        report = site_import.import_sites(data, "sites.csv")
        db.session.commit()
        assert report.ok and len(report.created) == 3
        assert {s.business_no: s.snapshot() for s in db.session.scalars(select(Site))} == before


def expected_png(url):
    img = qrcode.make(url, box_size=8, border=2)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_qr_codes_encode_the_inspection_form_url(client, default_checklist, login, site_factory):
    s = site_factory()
    login("lead")
    url = f"http://tracker.test/s/{s.qr_token}"
    png = client.get(f"/sites/{s.id}/qr.png")
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert png.data == expected_png(url)  # the same matrix as a QR made from the URL itself
    svg = client.get(f"/sites/{s.id}/qr.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    ref = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=10)
    buf = io.BytesIO()
    ref.save(buf)
    assert svg.data == buf.getvalue() and b"<svg" in svg.data
    assert client.get(f"/sites/{s.id}/qr.gif").status_code == 404
    # the form at that URL opens for a logged-in user
    assert client.get(f"/s/{s.qr_token}", follow_redirects=True).status_code == 200


def test_qr_sheet_lists_every_active_site_with_name_dong_and_code(app, client, login, site_factory, db):
    a = site_factory(name="한빛고객센터", dong="여의동")
    b = site_factory(name="새솔콜센터", dong="신길6동")
    with app.app_context():
        c = site_factory(name="폐업센터", dong="문래동")
        sites.set_status(c, "closed")
        db.session.commit()
    login("lead")
    resp = client.get("/sites/qr-sheet")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert html.count('<figure class="tile">') == 2
    for s in (a, b):
        tile = re.search(rf'<figure class="tile">\s*<img src="/sites/{s.id}/qr.svg".*?</figure>', html, re.S).group(0)
        assert s.name in tile and s.dong in tile and sites.short_code(s) in tile
    assert "폐업센터" not in html
    assert re.search(r"/static/css/print\.[0-9a-f]{12}\.css", html)


def test_rotating_the_token_retires_the_old_code(app, client, db, default_checklist, login, form_token,
                                                 site_factory):
    s = site_factory(name="한빛고객센터")
    old_token, old_code = s.qr_token, sites.short_code(s)
    lead = login("lead")
    resp = client.post(f"/sites/{s.id}/rotate-qr", data={"csrf_token": form_token(f"/sites/{s.id}")},
                       follow_redirects=True)
    assert "예전 코드는 더 이상 쓸 수 없습니다" in resp.get_data(as_text=True)
    with app.app_context():
        s = loaded(db.session.get(Site, s.id))
        row = db.session.scalars(select(Audit).where(Audit.entity_id == s.id, Audit.action == "rotate_qr")).one()
    assert s.qr_token != old_token and sites.short_code(s) != old_code
    old = client.get(f"/s/{old_token}")
    assert old.status_code == 404
    assert "이 QR 코드는 더 이상 유효하지 않습니다" in old.get_data(as_text=True)
    assert client.get(f"/s/{old_code}").status_code == 404
    assert client.get(f"/s/{s.qr_token}", follow_redirects=True).status_code == 200
    assert client.get(f"/s/{sites.short_code(s).lower()}", follow_redirects=True).status_code == 200
    assert row.user_id == lead.id
    # The trail keeps only the codes' last two characters: an inspector reads the trail on the site page too.
    assert row.before == {"qr_code": "****-**" + old_code[-2:]}
    assert row.after == {"qr_code": "****-**" + sites.short_code(s)[-2:]}
    client.post("/logout", data={"csrf_token": form_token(f"/sites/{s.id}")})
    login("inspector")
    html = client.get(f"/sites/{s.id}").get_data(as_text=True)
    assert "QR 코드 새로 발급" in html and "****-**" + sites.short_code(s)[-2:] in html
    for secret in (s.qr_token, sites.short_code(s), sites.short_code(s).replace("-", ""), old_code):
        assert secret not in html, secret
    client.post("/logout", data={"csrf_token": form_token(f"/sites/{s.id}")})
    login("lead")
    # the PNG now encodes the new URL
    assert client.get(f"/sites/{s.id}/qr.png").data == expected_png(f"http://tracker.test/s/{s.qr_token}")


def test_short_code_typed_by_hand_opens_the_site(client, login, site_factory):
    s = site_factory()
    login("inspector")
    resp = client.get(f"/sites/code?code={sites.short_code(s).lower()}")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/s/{s.qr_token}")
    resp = client.get("/sites/code?code=ZZZZZZZZ", headers={"Referer": "https://evil.example/"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/inspect"
    assert "그 코드의 사업장이 없습니다" in client.get("/inspect").get_data(as_text=True)


def test_closed_site_code_says_so(app, client, db, login, site_factory):
    with app.app_context():
        s = site_factory(name="문닫은센터")
        sites.set_status(s, "closed")
        db.session.commit()
        loaded(s)
    login("inspector")
    resp = client.get(f"/s/{s.qr_token}")
    assert resp.status_code == 410 and "폐업 처리되어" in resp.get_data(as_text=True)


def test_short_codes_forgive_look_alikes_and_keep_old_codes_working(app_ctx, db, site_factory):
    s = site_factory()
    assert all(c in sites.CODE_ALPHABET for c in s.qr_token[:8])  # new codes never hold I, L, O or U
    s.qr_token = "0A1BCD2E" + "rest-of-the-token"
    old = site_factory()
    old.qr_token = "Ab-d_x9Q" + "legacy"  # issued before the alphabet: dash and underscore kept
    db.session.commit()
    assert sites.short_code(s) == "0A1B-CD2E"
    for typed in ("0A1B-CD2E", "oa1b cd2e", "OAIB-CD2E", "0alb-cd2e", " 0a1bcd2e "):
        assert sites.find_by_code(typed) == s, typed
    assert sites.short_code(old) == "AB-D_X9Q" and sites.find_by_code("ab-d_x9q") == old
    assert sites.find_by_code("0A1B-CD2F") is None


def test_an_old_trail_row_with_whole_codes_is_shown_masked(app_ctx):
    """Rows written before the codes were masked at the source never show a whole code on the page."""
    from tracker.services import audit
    row = Audit(entity="site", entity_id=1, action="rotate_qr", before={"qr_code": "ABCD-EFGH"},
                after={"qr_code": "JKMN-PQRS"})
    assert audit.changes(row) == [("QR 코드", "****-**GH", "****-**RS")]
