"""Importing the register from the files an office keeps: encodings, layouts, bad rows, all or nothing."""
import io
import re

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from conftest import csrf_from
from tracker.models import Audit, Site
from tracker.services import ServiceError, site_import

HEAD_KO = ["사업장명", "사업자등록번호", "행정동", "소재지", "종사자수", "방역담당자", "연락처"]
HEAD_EN = ["name", "business_no", "dong", "address", "headcount", "manager", "phone"]
ROWS = [
    ["한빛고객센터", "107-81-00001", "여의동", "서울 영등포구 여의대로 1, 3층", "1,204명", "김방역", "02-2670-0001"],
    ["새솔콜센터", "1078100002", "당산 1동", "서울 영등포구 당산로 2", "85", "이담당", "02-2670-0002"],
    ["누리상담센터", "107 81 00003", "문래동 ", "", "50", "", ""],
]


def csv_bytes(rows, encoding="utf-8", delimiter=",", above=()):
    lines = list(above)
    for r in rows:
        cells = []
        for c in r:
            c = str(c)
            cells.append(f'"{c}"' if (delimiter in c or '"' in c) else c)
        lines.append(delimiter.join(cells))
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def xlsx_bytes(rows, above=()):
    wb = Workbook()
    ws = wb.active
    for r in above:
        ws.append(list(r))
    for r in rows:
        ws.append(list(r))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def sites_by_no(db):
    return {s.business_no: s for s in db.session.scalars(select(Site))}


def assert_three_imported(db):
    got = sites_by_no(db)
    assert set(got) == {"107-81-00001", "107-81-00002", "107-81-00003"}
    a, b, c = got["107-81-00001"], got["107-81-00002"], got["107-81-00003"]
    assert (a.name, a.dong, a.headcount, a.size_band) == ("한빛고객센터", "여의동", 1204, "701이상")
    assert a.address == "서울 영등포구 여의대로 1, 3층"
    assert (a.manager_name, a.manager_phone) == ("김방역", "02-2670-0001")
    assert (b.dong, b.headcount, b.size_band) == ("당산1동", 85, "51~100")
    assert (c.dong, c.headcount, c.size_band, c.status) == ("문래동", 50, "50 이하", "active")
    assert all(s.qr_token for s in got.values())


@pytest.mark.parametrize("name,data", [
    ("utf8.csv", lambda: csv_bytes([HEAD_KO] + ROWS, "utf-8")),
    ("bom.csv", lambda: csv_bytes([HEAD_KO] + ROWS, "utf-8-sig")),
    ("cp949.csv", lambda: csv_bytes([HEAD_KO] + ROWS, "cp949")),
    ("euckr.csv", lambda: csv_bytes([HEAD_KO] + ROWS, "euc-kr")),
    ("tabs.txt", lambda: csv_bytes([HEAD_KO] + ROWS, "utf-8", delimiter="\t")),
    ("semicolon.csv", lambda: csv_bytes([HEAD_KO] + ROWS, "utf-8", delimiter=";")),
    ("title.csv", lambda: csv_bytes([HEAD_KO] + ROWS, "cp949", above=[
        "2020년 관내 콜센터 현황 (비전협력과)", "", ",,,,,,", "기준일: 2020-06-01"])),
    ("english.csv", lambda: csv_bytes([HEAD_EN] + ROWS, "utf-8")),
    ("plain.xlsx", lambda: xlsx_bytes([HEAD_KO] + ROWS)),
    ("title.xlsx", lambda: xlsx_bytes([HEAD_KO] + ROWS, above=[["2020년 관내 콜센터 현황"], [], []])),
])
def test_each_encoding_and_layout_imports_the_same_register(app_ctx, db, name, data):
    report = site_import.import_sites(data(), name)
    db.session.commit()
    assert report.ok, [str(e) for e in report.errors]
    assert len(report.created) == 3 and not report.updated
    assert_three_imported(db)


def test_xlsx_numeric_cells_are_read(app_ctx, db):
    rows = [HEAD_KO, ["숫자센터", 1078100009, "여의동", None, 1204, None, None],
            ["실수센터", 1078100010.0, "여의동", None, 33.0, None, None]]
    report = site_import.import_sites(xlsx_bytes(rows), "n.xlsx")
    db.session.commit()
    assert report.ok, [str(e) for e in report.errors]
    got = sites_by_no(db)
    assert got["107-81-00009"].headcount == 1204 and got["107-81-00009"].size_band == "701이상"
    assert got["107-81-00010"].headcount == 33


def test_rows_matched_on_business_no_update_existing_and_create_new(app_ctx, db, site_factory):
    old = site_factory(name="옛이름센터", business_no="107-81-00001", dong="여의동", headcount=10,
                       manager_name="기존담당", address="옛 주소")
    report = site_import.import_sites(csv_bytes([HEAD_KO] + ROWS), "r.csv")
    db.session.commit()
    assert report.ok
    assert report.created == ["새솔콜센터", "누리상담센터"]
    assert [n for n, _ in report.updated] == ["한빛고객센터"]
    changes = report.updated[0][1]
    assert changes["headcount"] == (10, 1204) and changes["name"] == ("옛이름센터", "한빛고객센터")
    db.session.refresh(old)
    assert (old.name, old.headcount, old.size_band, old.manager_name) == ("한빛고객센터", 1204, "701이상", "김방역")
    assert db.session.scalar(select(Site).where(Site.business_no == "107-81-00001")).id == old.id
    # the same file again changes nothing
    again = site_import.import_sites(csv_bytes([HEAD_KO] + ROWS), "r.csv")
    assert again.ok and again.unchanged == 3 and not again.created and not again.updated


def test_blank_optional_cells_keep_what_is_stored(app_ctx, db, site_factory):
    s = site_factory(business_no="107-81-00003", dong="문래동", headcount=50, address="문래로 9",
                     manager_name="박담당", manager_phone="02-1234-5678")
    report = site_import.import_sites(csv_bytes([HEAD_KO] + ROWS[2:]), "r.csv")
    db.session.commit()
    db.session.refresh(s)
    assert (s.address, s.manager_name, s.manager_phone) == ("문래로 9", "박담당", "02-1234-5678")
    assert [n for n, _ in report.updated] == ["누리상담센터"]  # only the name changed


def test_the_self_check_column_switches_requests_on_and_off_and_a_blank_keeps_them(app_ctx, db, site_factory):
    """A lead switches the weekly self-check on for the small sites from the spreadsheet they keep."""
    on = site_factory(business_no="107-81-00001", dong="여의동", headcount=8)
    off = site_factory(business_no="107-81-00002", dong="여의동", headcount=8, self_check=True)
    kept = site_factory(business_no="107-81-00003", dong="여의동", headcount=8, self_check=True)
    head = ["사업장명", "사업자등록번호", "행정동", "종사자수", "자체점검 요청"]
    rows = [head, [on.name, "107-81-00001", "여의동", "8", "예"], [off.name, "107-81-00002", "여의동", "8", "아니오"],
            [kept.name, "107-81-00003", "여의동", "8", ""], ["새센터", "107-81-00004", "여의동", "5", "Y"]]
    preview = site_import.import_sites(csv_bytes(rows), "r.csv", dry_run=True)
    assert dict(preview.updated) == {on.name: {"self_check": ("아니오", "예")},
                                     off.name: {"self_check": ("예", "아니오")}}
    report = site_import.import_sites(csv_bytes(rows), "r.csv")
    db.session.commit()
    assert report.ok and report.unchanged == 1
    got = {no: s.self_check for no, s in sites_by_no(db).items()}
    assert got == {"107-81-00001": True, "107-81-00002": False, "107-81-00003": True, "107-81-00004": True}


def test_a_self_check_cell_that_is_not_yes_or_no_is_refused_with_its_row(app_ctx, db, count_rows):
    rows = [["사업장명", "사업자등록번호", "행정동", "종사자수", "자체점검"],
            ["가센터", "107-81-00001", "여의동", "8", "예"], ["나센터", "107-81-00002", "여의동", "8", "가끔"]]
    report = site_import.import_sites(csv_bytes(rows), "r.csv")
    assert not report.ok and count_rows(Site) == 0
    assert [str(e) for e in report.errors] == [
        "3행 E열(자체점검): 자체점검 요청 '가끔'은(는) 예 또는 아니오로 적어야 합니다"]


def test_import_writes_the_audit_trail(app_ctx, db, make_user, site_factory):
    lead = make_user("lead")
    old = site_factory(business_no="107-81-00001", headcount=10)
    site_import.import_sites(csv_bytes([HEAD_KO] + ROWS), "r.csv", by=lead)
    db.session.commit()
    rows = db.session.scalars(select(Audit).where(Audit.action == "import").order_by(Audit.id)).all()
    assert len(rows) == 3 and {r.user_id for r in rows} == {lead.id}
    upd = next(r for r in rows if r.entity_id == old.id)
    assert upd.before["headcount"] == 10 and upd.after["headcount"] == 1204
    assert upd.before["size_band"] == "50 이하" and upd.after["size_band"] == "701이상"
    created = [r for r in rows if r.entity_id != old.id]
    assert all(r.before is None and r.after["business_no"] for r in created)


BAD_CASES = [
    # (rows after the header, expected (row, column) pairs, a phrase of the reason)
    ([["", "107-81-00011", "여의동", "", "10", "", ""]], [(3, "사업장명")], "사업장명이 비어 있습니다"),
    ([["가센터", "107-81-0001", "여의동", "", "10", "", ""]], [(3, "사업자등록번호")], "10자리 숫자가 아닙니다"),
    ([["가센터", "", "여의동", "", "10", "", ""]], [(3, "사업자등록번호")], "사업자등록번호가 비어 있습니다"),
    ([["가센터", "107-81-00011", "강남동", "", "10", "", ""]], [(3, "행정동")],
     "'강남동'은(는) 이 구의 행정동이 아닙니다"),
    ([["가센터", "107-81-00011", "", "", "10", "", ""]], [(3, "행정동")], "행정동이 비어 있습니다"),
    ([["가센터", "107-81-00011", "여의동", "", "많음", "", ""]], [(3, "종사자수")],
     "종사자수 '많음'은(는) 숫자가 아닙니다"),
    ([["가센터", "107-81-00011", "여의동", "", "-3", "", ""]], [(3, "종사자수")], "0 이상이어야 합니다"),
    ([["가센터", "107-81-00011", "여의동", "", "", "", ""]], [(3, "종사자수")], "종사자수가 비어 있습니다"),
    ([["가센터", "107-81-00011", "여의동", "", "10", "", ""], ["나센터", "1078100011", "문래동", "", "20", "", ""]],
     [(4, "사업자등록번호")], "파일에 두 번 있습니다 (처음: 3행)"),
    ([["가" * 201, "107-81-00011", "여의동", "", "10", "", ""]], [(3, "사업장명")], "200자를 넘을 수 없습니다"),
]


@pytest.mark.parametrize("bad_rows,where,phrase", BAD_CASES)
def test_a_bad_row_writes_nothing(app_ctx, db, site_factory, count_rows, bad_rows, where, phrase):
    keep = site_factory(business_no="107-81-00001", name="기존센터", headcount=10)
    before_sites, before_audit = count_rows(Site), count_rows(Audit)
    # good rows around the bad one: an update of `keep` and a new site; none may be written
    rows = [["2020년 현황"], HEAD_KO, ROWS[0]] + bad_rows + [ROWS[1]]
    rows = [rows[0], rows[1]] + rows[3:-1] + [rows[2], rows[-1]]  # bad rows right under the header (row 3)
    report = site_import.import_sites(csv_bytes(rows), "bad.csv")
    db.session.commit()
    assert not report.ok
    assert [(e.row, e.column) for e in report.errors] == where
    assert phrase in str(report.errors[0])
    assert re.match(rf"{where[0][0]}행 [A-G]열: ", str(report.errors[0])), str(report.errors[0])
    assert count_rows(Site) == before_sites and count_rows(Audit) == before_audit
    db.session.refresh(keep)
    assert (keep.name, keep.headcount) == ("기존센터", 10)


def test_the_report_lists_every_bad_row(app_ctx, db, count_rows):
    rows = [HEAD_KO] + [ROWS[0]] * 1 + [
        ["", "x", "강남동", "", "많음", "", ""],
        ROWS[1],
        ["다센터", "107-81-00002", "여의동", "", "5", "", ""],
    ]
    report = site_import.import_sites(csv_bytes(rows, "cp949"), "bad.csv")
    got = [str(e) for e in report.errors]
    assert got == [
        "3행 A열: 사업장명이 비어 있습니다",
        "3행 B열: 사업자등록번호 'x'은(는) 10자리 숫자가 아닙니다",
        "3행 C열: 행정동 '강남동'은(는) 이 구의 행정동이 아닙니다",
        "3행 E열: 종사자수 '많음'은(는) 숫자가 아닙니다",
        "5행 B열: 사업자등록번호 107-81-00002이(가) 파일에 두 번 있습니다 (처음: 4행)",
    ]
    assert report.bad_rows == 2
    assert count_rows(Site) == 0


def test_row_numbers_count_title_and_blank_lines_as_excel_does(app_ctx, db):
    rows = [HEAD_KO, ROWS[0], ["가센터", "107-81-00011", "여의동", "", "많음", "", ""]]
    report = site_import.import_sites(csv_bytes(rows, above=["제목", "", ""]), "t.csv")
    assert [str(e) for e in report.errors] == ["6행 E열: 종사자수 '많음'은(는) 숫자가 아닙니다"]
    report = site_import.import_sites(xlsx_bytes(rows, above=[["제목"], [], []]), "t.xlsx")
    assert [str(e) for e in report.errors] == ["6행 E열: 종사자수 '많음'은(는) 숫자가 아닙니다"]


@pytest.mark.parametrize("data,filename,phrase", [
    (csv_bytes([["사업장명", "행정동", "종사자수"], ["가", "여의동", "3"]]), "m.csv", "없는 열: 사업자등록번호"),
    (csv_bytes([["이름", "번호"], ["가", "1"]]), "m.csv", "없는 열: 사업장명, 사업자등록번호, 행정동, 종사자수"),
    (b"name,business_no,dong,headcount\r\n\xff\xfe\xfa,1078100011,\xff,5\r\n", "u.csv", "문자 인코딩을 알 수 없습니다"),
    (b"", "e.csv", "파일이 비어 있습니다"),
    (b"\r\n \r\n", "e.csv", "파일이 비어 있습니다"),
    (b"\xef\xbb\xbf", "e.csv", "파일이 비어 있습니다"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00", "photo.csv", "CSV 또는 XLSX 파일이 아닙니다"),
    (bytes(range(1, 32)) * 40, "junk.csv", "CSV 또는 XLSX 파일이 아닙니다"),
    (b"PK\x03\x04 this is not really a workbook", "fake.xlsx", "XLSX 파일을 읽을 수 없습니다"),
    ("사업장명,사업자등록번호\n".encode(), "x.xlsx", "XLSX 파일을 읽을 수 없습니다"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.xls", "(.xls)"),
    (csv_bytes([HEAD_KO]), "head.csv", "가져올 행이 없습니다"),
])
def test_files_that_cannot_be_read_give_a_clear_message(app_ctx, db, count_rows, data, filename, phrase):
    with pytest.raises(ServiceError) as exc:
        site_import.import_sites(data, filename)
    assert phrase in exc.value.message
    assert count_rows(Site) == 0


def test_dry_run_reports_but_writes_nothing(app_ctx, db, site_factory, count_rows):
    keep = site_factory(business_no="107-81-00001", headcount=10)
    before = (count_rows(Site), count_rows(Audit))
    report = site_import.import_sites(csv_bytes([HEAD_KO] + ROWS), "r.csv", dry_run=True)
    db.session.commit()
    assert report.ok and report.dry_run
    assert report.created == ["새솔콜센터", "누리상담센터"] and report.updated[0][1]["headcount"] == (10, 1204)
    assert (count_rows(Site), count_rows(Audit)) == before
    db.session.refresh(keep)
    assert keep.headcount == 10


# --- the upload page ---

def post_file(client, data, filename, dry_run=False):
    token = csrf_from(client.get("/sites/import").get_data(as_text=True))
    form = {"csrf_token": token, "file": (io.BytesIO(data), filename)}
    if dry_run:
        form["dry_run"] = "y"
    return client.post("/sites/import", data=form, content_type="multipart/form-data")


def test_upload_page_imports_for_a_lead(app, client, db, login, count_rows):
    lead = login("lead")
    resp = post_file(client, csv_bytes([HEAD_KO] + ROWS, "cp949"), "현황.csv")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/sites/")
    with app.app_context():
        assert_three_imported(db)
        assert {a.user_id for a in db.session.scalars(select(Audit).where(Audit.action == "import"))} == {lead.id}
    page = client.get("/sites/").get_data(as_text=True)
    assert "새로 3곳, 변경 0곳, 그대로 0곳" in page


def test_upload_preview_writes_nothing(client, db, login, count_rows):
    login("lead")
    resp = post_file(client, xlsx_bytes([HEAD_KO] + ROWS), "r.xlsx", dry_run=True)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "미리보기" in body and "+ 한빛고객센터" in body
    assert count_rows(Site) == 0


def test_upload_with_bad_rows_lists_them_and_writes_nothing(client, db, login, count_rows):
    login("lead")
    rows = [HEAD_KO] + ROWS + [["가센터", "107-81-00011", "여의동", "", "많음", "", ""]]
    resp = post_file(client, csv_bytes(rows), "bad.csv")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "5행 E열: 종사자수 &#39;많음&#39;은(는) 숫자가 아닙니다" in body
    assert "아무것도 저장하지 않았습니다" in body
    assert count_rows(Site) == 0


def test_upload_of_unreadable_file_shows_the_reason(client, login, count_rows):
    login("lead")
    resp = post_file(client, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "photo.csv")
    assert resp.status_code == 422
    assert "CSV 또는 XLSX 파일이 아닙니다" in resp.get_data(as_text=True)
    resp = post_file(client, b"GIF89a", "photo.gif")
    assert "CSV 또는 XLSX 파일만 올릴 수 있습니다" in resp.get_data(as_text=True)
    assert count_rows(Site) == 0


def test_inspector_cannot_import(client, login, form_token, count_rows):
    login("inspector")
    assert client.get("/sites/import").status_code == 403
    resp = client.post("/sites/import", data={"csrf_token": form_token("/sites/"),
                                              "file": (io.BytesIO(csv_bytes([HEAD_KO] + ROWS)), "r.csv")},
                       content_type="multipart/form-data")
    assert resp.status_code == 403
    assert count_rows(Site) == 0


def test_upload_without_csrf_token_is_refused(client, login, count_rows):
    login("lead")
    resp = client.post("/sites/import", data={"file": (io.BytesIO(csv_bytes([HEAD_KO] + ROWS)), "r.csv")},
                       content_type="multipart/form-data")
    assert resp.status_code == 400
    assert count_rows(Site) == 0


def test_files_built_to_exhaust_memory_are_refused_with_a_reason(app_ctx, count_rows, monkeypatch):
    """An XLSX is judged by its unpacked size before it is parsed (the bound is lowered here so that the test
    file stays small); a CSV of 30,000 rows is no register."""
    monkeypatch.setattr(site_import, "MAX_XLSX_UNZIPPED", 256 * 1024)
    wb = Workbook()
    ws = wb.active
    ws.append(["사업장명", "사업자등록번호", "행정동", "종사자수"])
    for _ in range(5_000):
        ws.append(["x", "", "여의동", 1])
    buf = io.BytesIO()
    wb.save(buf)
    with pytest.raises(ServiceError) as exc:
        site_import.read_rows(buf.getvalue(), "big.xlsx")
    assert "너무 큽니다" in exc.value.message
    rows = "사업장명,사업자등록번호,행정동,종사자수\r\n" + "x,,여의동,1\r\n" * 30_000
    with pytest.raises(ServiceError) as exc:
        site_import.read_rows(rows.encode(), "big.csv")
    assert "행이 너무 많습니다: 30,001행" in exc.value.message
    assert count_rows(Site) == 0


def test_a_bad_cell_is_named_by_its_excel_column_and_the_files_own_header(app_ctx, db, count_rows):
    """The office finds the cell as Excel shows it: row 4, column D, under the header it typed (직원수)."""
    rows = [["상호", "사업자번호", "동", "직원수"], ["가센터", "107-81-00011", "여의동", "5"],
            ["나센터", "107-81-00012", "여의동", "많음"]]
    report = site_import.import_sites(csv_bytes(rows), "t.csv")
    assert [str(e) for e in report.errors] == ["3행 D열(직원수): 종사자수 '많음'은(는) 숫자가 아닙니다"]
    assert count_rows(Site) == 0


# --- hostile files (issue 14) ---

def shared_string_xlsx(header: list, rows: int, string: str, columns: list[int]) -> bytes:
    """An XLSX as an attacker writes it: one shared string, pointed at by the given columns of every row."""
    import zipfile
    from xml.sax.saxutils import escape

    from openpyxl.utils import get_column_letter

    def row(n, cells):
        return f'<row r="{n}">' + "".join(cells) + "</row>"
    head = [f'<c r="{get_column_letter(i + 1)}1" t="inlineStr"><is><t>{escape(h)}</t></is></c>'
            for i, h in enumerate(header)]
    body = [row(n, [f'<c r="{get_column_letter(c + 1)}{n}" t="s"><v>0</v></c>' for c in columns])
            for n in range(2, rows + 2)]
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    files = {
        "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/'
        'workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType='
        '"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
        "_rels/.rels": f'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
        f'relationships"><Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/>'
        f'</Relationships>',
        "xl/workbook.xml": f'<?xml version="1.0"?><workbook xmlns="{main}" xmlns:r="{rel}"><sheets><sheet '
        f'name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.'
        f'org/package/2006/relationships"><Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/'
        f'sheet1.xml"/><Relationship Id="rId2" Type="{rel}/sharedStrings" Target="sharedStrings.xml"/>'
        f'</Relationships>',
        "xl/sharedStrings.xml": f'<?xml version="1.0"?><sst xmlns="{main}" count="1" uniqueCount="1"><si><t>'
        f'{escape(string)}</t></si></sst>',
        "xl/worksheets/sheet1.xml": f'<?xml version="1.0"?><worksheet xmlns="{main}"><sheetData>{row(1, head)}'
        + "".join(body) + "</sheetData></worksheet>",
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            z.writestr(name, text)
    return buf.getvalue()


def test_one_huge_string_in_every_cell_makes_a_short_error_page(client, db, login, count_rows):
    """Every cell of 3,000 rows points at one 100,000-character shared string: a small file, and each row bad."""
    import tracemalloc
    huge = "많" * 100_000
    data = shared_string_xlsx(HEAD_KO, 3000, huge, [1, 2, 4])
    assert len(data) < 100_000
    login("lead")
    tracemalloc.start()
    try:
        resp = post_file(client, data, "huge.xlsx")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and count_rows(Site) == 0
    assert len(html) < 300_000 and peak < 150 * 2**20
    assert "잘못된 행 3,000개, 오류 12,000건" in html   # a blank name, and three cells, in every row
    assert html.count("<li>") <= site_import.LISTED_ERRORS + 20
    assert "오류가 11,800건 더 있습니다" in html
    # the value is quoted, cut to a readable length
    assert f"종사자수 &#39;{'많' * 50}…&#39;은(는) 숫자가 아닙니다" in html and "많" * 51 not in html


def test_a_headcount_of_thousands_of_digits_is_too_large_not_a_crash(app_ctx, db, count_rows):
    report = site_import.import_sites(csv_bytes([HEAD_KO, ["센터", "1078100009", "여의동", "", "9" * 4300, "", ""]]))
    assert count_rows(Site) == 0 and report.error_count == 1
    assert "너무 큽니다" in str(report.errors[0]) and "…" in str(report.errors[0])
