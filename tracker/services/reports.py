"""Tables out: XLSX and CSV (UTF-8 with BOM so that Excel shows Korean), for the register and reports.

Both are written row by row, so that memory stays flat whatever the period: CSV as a generator of chunks, XLSX
with openpyxl's write-only workbook, which keeps finished rows in a temporary file rather than as cell objects.
"""
import codecs
import csv
import io
import tempfile
from itertools import chain, islice

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy import func, select

from ..extensions import db
from ..masking import mask_email, mask_name, mask_phone
from . import sites

# Excel runs a cell that starts with one of these as a formula (CSV injection); such text is written as text.
FORMULA_START = ("=", "+", "-", "@")
REGISTER_HEADERS = ["사업장명", "사업자등록번호", "행정동", "소재지", "종사자수", "규모", "방역담당자", "연락처",
                    "방역담당자 이메일", "상태", "자체점검 요청"]
CHUNK = 64 * 1024
WIDTH_SAMPLE = 200  # rows read ahead to size the columns: a write-only sheet takes widths before its rows
BATCH = 1000  # rows fetched at a time for the long exports


def _csv_safe(value):
    # The importer strips this apostrophe again, so the export still round-trips.
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_START) else value


def csv_chunks(headers: list, rows):
    """CSV in UTF-8 with a BOM, as byte chunks; every cell, headers included, is kept from running as a formula."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    yield codecs.BOM_UTF8
    for row in chain([headers], rows):
        w.writerow([_csv_safe(v) for v in row])
        if buf.tell() >= CHUNK:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode("utf-8")


def to_csv(headers: list, rows) -> bytes:
    """CSV in UTF-8 with a BOM, whole."""
    return b"".join(csv_chunks(headers, rows))


def _xlsx_row(ws, row, bold: bool = False) -> list:
    """Cells for a write-only sheet: text that starts with '=' stays text, not a formula."""
    out = []
    for v in row:
        if bold or (isinstance(v, str) and v.startswith("=")):
            cell = WriteOnlyCell(ws, value=v)
            if isinstance(v, str):
                cell.data_type = "s"
            if bold:
                cell.font = Font(bold=True)
            v = cell
        out.append(v)
    return out


def xlsx_file(sheets: list[tuple[str, list, list]]):
    """An XLSX workbook from (title, headers, rows) sheets, bold headers, widths from the first rows; a file
    object positioned at its start."""
    wb = Workbook(write_only=True)
    for title, headers, rows in sheets:
        ws = wb.create_sheet(title[:31])
        rows = iter(rows)
        head = list(islice(rows, WIDTH_SAMPLE))
        for i, h in enumerate(headers):
            width = max([len(str(h)) * 2 + 2] + [len(str(r[i] if r[i] is not None else "")) + 2 for r in head])
            ws.column_dimensions[get_column_letter(i + 1)].width = min(60, width)
        ws.freeze_panes = "A2"
        ws.append(_xlsx_row(ws, headers, bold=True))
        for row in chain(head, rows):
            ws.append(_xlsx_row(ws, row))
    out = tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024)
    wb.save(out)
    out.seek(0)
    return out


def to_xlsx(sheets: list[tuple[str, list, list]]) -> bytes:
    """An XLSX workbook, whole."""
    with xlsx_file(sheets) as fh:
        return fh.read()


def _as_is(value):
    return value or ""


def register_rows(full: bool = False, **filters):
    """The register as rows, with the filters of the list page; the officer's name, phone and e-mail masked unless
    full."""
    status_ko = {"active": "운영", "closed": "폐업"}
    name, phone, email = (_as_is, _as_is, _as_is) if full else (mask_name, mask_phone, mask_email)
    for s in db.session.scalars(sites.list_stmt(**filters)):
        yield [s.name, s.business_no, s.dong, s.address, s.headcount, s.size_band, name(s.manager_name),
               phone(s.manager_phone), email(s.manager_email), status_ko.get(s.status, s.status),
               "예" if s.self_check else "아니오"]


def register_count(**filters) -> int:
    """How many rows the register's export has, with these filters (for its access record)."""
    return db.session.scalar(select(func.count()).select_from(sites.list_stmt(**filters).subquery()))


def table_out(fmt: str, title: str, headers: list, rows):
    """One table as 'csv' (a generator of byte chunks) or 'xlsx' (a file object), written as it is read."""
    if fmt == "csv":
        return csv_chunks(headers, rows)
    return xlsx_file([(title, headers, rows)])


def register_export(fmt: str, full: bool = False, **filters):
    """The register as 'xlsx' or 'csv' (see table_out), masked unless full."""
    return table_out(fmt, "콜센터 현황", REGISTER_HEADERS, register_rows(full, **filters))


# --- dashboard exports and the council report (issue 5) -------------------------------------------------------

VALUE_KO = {"yes": "예", "no": "아니오", "na": "해당없음"}
MODE_KO = {"onsite": "현장점검", "phone": "전화 모니터링"}
ACTION_STATUS_KO = {"open": "미조치", "escalated": "기한 경과", "reported": "조치 보고됨", "cleared": "조치 완료"}
INSPECTION_HEADERS = ["주", "점검일시", "사업장명", "사업자등록번호", "행정동", "규모", "점검 방식", "점검원",
                      "적합 여부",
                      "예", "아니오", "해당없음", "중요 항목 아니오"]
ACTION_HEADERS = ["사업장명", "행정동", "점검 항목", "항목 키", "중요", "상태", "발생일", "조치 기한", "경과일",
                  "조치일"]


def _item_meta() -> list:
    from . import checklist
    tpl = checklist.current()
    return list(tpl.items) if tpl else []


def _answered_keys(first: str, last: str, dong: str | None) -> list[tuple[str, str]]:
    """(key, column header) for every item of the current checklist, in its order, then every other item key
    answered in the period (items dropped by a later version), by key, so that no answer goes missing."""
    from sqlalchemy import select

    from ..models import Answer, Inspection, Site
    from . import checklist
    current = [(it.key, it.label_ko) for it in _item_meta()]
    stmt = (select(Answer.item_key).join(Inspection, Inspection.id == Answer.inspection_id)
            .where(Inspection.week >= first, Inspection.week <= last).distinct())
    if dong:
        stmt = stmt.join(Site, Site.id == Inspection.site_id).where(Site.dong == dong)
    known = {k for k, _label in current}
    retired = sorted(set(db.session.scalars(stmt)) - known)
    return current + [(k, f"{checklist.item_label(k)} (이전 점검표 항목)") for k in retired]


def inspection_rows(first: str, last: str, dong: str | None = None) -> tuple[list, list]:
    """(headers, rows): one row per inspection of the period with each item's answer as a column; rows is a
    generator, read from the database in batches.

    The answers are pivoted in SQL (max(case …) grouped by inspection), so it is two queries whatever the size:
    the answered keys, then the pivot.
    """
    from sqlalchemy import case, func, select

    from .. import clock
    from ..models import Answer, Inspection, Site, User
    items = _answered_keys(first, last, dong)
    i = Inspection
    pivot = [func.max(case((Answer.item_key == key, Answer.value))) for key, _label in items]
    stmt = (select(i.week, i.submitted_at, Site.name, Site.business_no, Site.dong, Site.size_band, i.mode, User.name,
                   i.compliant, i.yes_count, i.no_count, i.na_count, i.critical_no_count, *pivot)
            .join(Site, Site.id == i.site_id).outerjoin(User, User.id == i.inspector_id)
            .outerjoin(Answer, Answer.inspection_id == i.id)
            .where(i.week >= first, i.week <= last)
            .group_by(i.id, i.week, i.submitted_at, Site.name, Site.business_no, Site.dong, Site.size_band, i.mode,
                      User.name, i.compliant, i.yes_count, i.no_count, i.na_count, i.critical_no_count)
            .order_by(i.week, Site.dong, Site.name, i.submitted_at, i.id))
    if dong:
        stmt = stmt.where(Site.dong == dong)
    headers = INSPECTION_HEADERS + [label for _key, label in items]

    def rows():
        for r in db.session.execute(stmt.execution_options(yield_per=BATCH)):
            week, at, name, bno, dg, band, mode, who, ok, y, n, na, crit, *vals = r
            yield ([week, clock.local(at).strftime("%Y-%m-%d %H:%M"), name, bno, dg, band, MODE_KO.get(mode, mode),
                    who or "", "적합" if ok else "부적합", y, n, na, crit] + [VALUE_KO.get(v, "") for v in vals])
    return headers, rows()


def inspection_count(first: str, last: str, dong: str | None = None) -> int:
    """How many rows the inspections export of a period has (for its access record)."""
    from ..models import Inspection, Site
    stmt = select(func.count()).select_from(Inspection).where(Inspection.week >= first, Inspection.week <= last)
    if dong:
        stmt = stmt.join(Site, Site.id == Inspection.site_id).where(Site.dong == dong)
    return db.session.scalar(stmt)


def action_rows(first: str, last: str, dong: str | None = None) -> tuple[list, list]:
    """(headers, rows): follow-up actions opened in the period (and the dong), oldest first."""
    from sqlalchemy import select

    from .. import clock
    from ..models import Action, Site
    labels = {it.key: it.label_ko for it in _item_meta()}
    start, end = clock.week_start_utc(first), clock.week_end_utc(last)
    stmt = (select(Action.item_key, Action.critical, Action.status, Action.opened_at, Action.due_at,
                   Action.cleared_at, Site.name, Site.dong)
            .join(Site, Site.id == Action.site_id)
            .where(Action.opened_at >= start, Action.opened_at < end).order_by(Action.opened_at, Action.id))
    if dong:
        stmt = stmt.where(Site.dong == dong)
    now = clock.now()
    day = "%Y-%m-%d"
    rows = []
    for key, crit, status, opened, due, cleared, name, dg in db.session.execute(stmt):
        age = ((cleared or now) - opened).days
        rows.append([name, dg, labels.get(key, key), key, "중요" if crit else "", ACTION_STATUS_KO.get(status, status),
                     clock.local(opened).strftime(day), clock.local(due).strftime(day), age,
                     clock.local(cleared).strftime(day) if cleared else ""])
    return ACTION_HEADERS, rows


def dashboard_export(what: str, fmt: str, first: str, last: str, dong: str | None = None):
    """'inspections' or 'actions' of a period as 'csv' or 'xlsx' (see table_out)."""
    headers, rows = (inspection_rows if what == "inspections" else action_rows)(first, last, dong)
    return table_out(fmt, "점검 결과" if what == "inspections" else "행정지도", headers, rows)


def council_tables(s: dict, counts: dict, _=str) -> list[tuple[str, list, list]]:
    """The council report's tables as (title, headers, rows): sites by dong and band, and the period's results.

    s is summary.compute(...) for the period; counts is sites.counts() (active sites). _ translates the labels: the
    page passes gettext, while the workbook keeps the council's own Korean.
    """
    dongs = list(counts["by_dong"])
    bands = list(counts["by_band"])
    onsite_dong = {r["key"]: r["onsite_sites_inspected"] for r in s["by_dong"]}
    onsite_band = {r["key"]: r["onsite_sites_inspected"] for r in s["by_band"]}
    sites_row, onsite_row, total = _("사업장 수"), _("현장점검 사업장"), _("계")
    return [
        (_("동별 현황"), [_("구분")] + dongs + [total],
         [[sites_row] + [counts["by_dong"][d] for d in dongs] + [counts["total"]],
          [onsite_row] + [onsite_dong.get(d, 0) for d in dongs] + [s["onsite_sites_inspected"]]]),
        (_("직원수별 현황"), [_("직원수")] + bands + [total],
         [[sites_row] + [counts["by_band"][b] for b in bands] + [counts["total"]],
          [onsite_row] + [onsite_band.get(b, 0) for b in bands] + [s["onsite_sites_inspected"]]]),
        (_("점검 실적"), [_("기간"), _("관내 콜센터(개소)"), _("현장점검(개소)"), _("모니터링(회)"), _("점검 건수"),
                      _("준수율(%)"), _("확진자(명)")],
         [[f"{s['from']} ~ {s['to']}", counts["total"], s["onsite_sites_inspected"], s["monitoring_rounds"],
           s["inspections"], s["compliance_rate"] if s["compliance_rate"] is not None else "",
           s["confirmed_cases"]]]),
    ]


def council_xlsx(s: dict, counts: dict) -> bytes:
    """The council report as an XLSX workbook, numbers with thousands separators."""
    from openpyxl import load_workbook
    raw = to_xlsx(council_tables(s, counts))
    wb = load_workbook(io.BytesIO(raw))
    for ws in wb.worksheets:
        for row in ws.iter_rows(min_row=2):
            for cell in row:
                if isinstance(cell.value, int):
                    cell.number_format = "#,##0"
                elif isinstance(cell.value, float):
                    cell.number_format = "#,##0.0"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
