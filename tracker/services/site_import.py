"""Import the register from the spreadsheets a district office keeps: CSV (UTF-8, BOM, CP949) or XLSX.

All or nothing: the file is checked whole first, and nothing is written unless every row is good.
"""
import csv
import io
import unicodedata
from dataclasses import dataclass, field

from flask_babel import gettext as _
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from ..extensions import db
from ..masking import is_masked
from . import ServiceError, audit, shown, sites

# Accepted header spellings per field; Korean first, as the office writes them.
HEADERS = {
    "name": ("사업장명", "사업장", "상호", "업체명", "콜센터명", "name", "site", "site name"),
    "business_no": ("사업자등록번호", "사업자번호", "등록번호", "business_no", "business no", "business number",
                    "brn"),
    "dong": ("행정동", "동", "소재동", "dong", "district"),
    "address": ("소재지", "주소", "address"),
    "headcount": ("종사자수", "직원수", "근로자수", "종사자 수", "직원 수", "headcount", "employees", "staff"),
    "manager_name": ("방역담당자", "담당자", "방역 담당자", "manager", "manager_name", "officer"),
    "manager_phone": ("연락처", "전화번호", "전화", "manager_phone", "phone", "contact"),
    "manager_email": ("방역담당자 이메일", "이메일", "email", "e-mail", "전자우편", "manager_email"),
    # Optional: a file without the column, or a blank cell, leaves the site's weekly self-check request as it is.
    "self_check": ("자체점검 요청", "자체점검", "매주 자체점검", "self_check", "self-check", "self check"),
}
REQUIRED = ("name", "business_no", "dong", "headcount")
LABELS = {"name": "사업장명", "business_no": "사업자등록번호", "dong": "행정동", "address": "소재지",
          "headcount": "종사자수", "manager_name": "방역담당자", "manager_phone": "연락처",
          "manager_email": "방역담당자 이메일", "self_check": "자체점검 요청"}
HEADER_SCAN_ROWS = 15
# A page of a few hundred lines is what a person reads; a file with more problems has one systematic fault.
LISTED_ERRORS = 200
# Cells an export masks (김*용, 010-****-5678): on re-import a masked cell keeps what is stored.
MASKABLE = ("manager_name", "manager_phone", "manager_email")


@dataclass
class RowError:
    row: int
    column: str           # the field's name, e.g. 종사자수
    reason: str
    cell: str = ""        # where it is in the file as Excel shows it: "E열" or "E열(직원수)" for another header

    def __str__(self):
        if self.cell:
            return _("%(row)s행 %(cell)s: %(reason)s", row=self.row, cell=self.cell, reason=self.reason)
        return _("%(row)s행: %(reason)s", row=self.row, reason=self.reason)


@dataclass
class ImportReport:
    created: list = field(default_factory=list)   # names
    updated: list = field(default_factory=list)   # (name, {field: (old, new)})
    officers_shown: list = field(default_factory=list)  # ids of sites whose stored officer values `updated` shows
    unchanged: int = 0
    errors: list = field(default_factory=list)    # the first LISTED_ERRORS RowErrors
    error_count: int = 0                          # all of them
    dry_run: bool = False
    _bad_rows: set = field(default_factory=set)

    def add_error(self, error: RowError) -> None:
        """Count an error; keep it for the page only while fewer than LISTED_ERRORS are kept."""
        self.error_count += 1
        self._bad_rows.add(error.row)
        if len(self.errors) < LISTED_ERRORS:
            self.errors.append(error)

    @property
    def ok(self) -> bool:
        return not self.error_count

    @property
    def bad_rows(self) -> int:
        """How many distinct rows have at least one error."""
        return len(self._bad_rows)

    @property
    def unlisted_errors(self) -> int:
        """Errors counted but not listed."""
        return self.error_count - len(self.errors)


def _norm_header(text) -> str:
    return "".join(str(text or "").split()).lower()


_ALIASES = {_norm_header(alias): f for f, aliases in HEADERS.items() for alias in aliases}


DELIMITERS = (",", "\t", ";")
FORMULA_START = ("=", "+", "-", "@")


def _blank(value) -> bool:
    return value is None or str(value).strip() == ""


def read_rows(data: bytes, filename: str = "") -> list[list]:
    """The file's cells as rows of values; ServiceError when it is not a CSV or XLSX we can read."""
    if not data or not data.strip():
        raise ServiceError(_("파일이 비어 있습니다."))
    if data[:4] == b"\xd0\xcf\x11\xe0":
        raise ServiceError(_("예전 Excel 형식(.xls)은 읽을 수 없습니다. Excel에서 XLSX 또는 CSV로 다시 저장하세요."))
    if data[:2] == b"PK" or filename.lower().endswith(".xlsx"):
        rows = _read_xlsx(data)
    else:
        rows = _read_csv(data)
    if all(_blank(v) for row in rows for v in row):
        raise ServiceError(_("파일이 비어 있습니다."))
    if len(rows) > MAX_ROWS:
        raise ServiceError(_("행이 너무 많습니다: %(n)s행 (최대 %(max)s행). 파일을 나누어 가져오세요.",
                             n=f"{len(rows):,}", max=f"{MAX_ROWS:,}"))
    return rows


# A district's register has hundreds of rows; these bounds refuse a file built to exhaust the server's memory.
MAX_ROWS = 20_000
MAX_XLSX_UNZIPPED = 24 * 1024 * 1024


def _read_xlsx(data: bytes) -> list[list]:
    # Not read_only: that mode trusts the sheet's stored dimensions, which some programs write wrong. So the
    # unpacked size is checked first: a 100 KB XLSX can unpack to hundreds of megabytes of cells.
    import zipfile
    try:
        unpacked = sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(data)).infolist())
    except (zipfile.BadZipFile, ValueError) as exc:
        raise ServiceError(_("XLSX 파일을 읽을 수 없습니다. 파일이 손상되었거나 XLSX 형식이 아닙니다.")) from exc
    if unpacked > MAX_XLSX_UNZIPPED:
        raise ServiceError(_("XLSX 파일의 내용이 너무 큽니다 (%(mb)sMB 넘게 풀림). 사업장 목록만 남겨 다시 저장하세요.",
                             mb=MAX_XLSX_UNZIPPED // (1024 * 1024)))
    try:
        wb = load_workbook(io.BytesIO(data), data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise ServiceError(_("XLSX 파일을 읽을 수 없습니다. 파일이 손상되었거나 XLSX 형식이 아닙니다.")) from exc
    try:
        ws = wb.worksheets[0]
        return [list(r) for r in ws.iter_rows(values_only=True)]
    finally:
        wb.close()


def _looks_binary(text: str) -> bool:
    """Text with NULs or many control characters came from something other than a spreadsheet's CSV."""
    if "\x00" in text:
        return True
    ctrl = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\t\r\n\x0b\x0c\x1a")
    return ctrl > max(2, len(text) // 200)


def _read_csv(data: bytes) -> list[list]:
    for enc in ("utf-8-sig", "cp949"):
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        if _looks_binary(data.decode("latin-1")):
            raise ServiceError(_("CSV 또는 XLSX 파일이 아닙니다."))
        raise ServiceError(_("파일의 문자 인코딩을 알 수 없습니다. UTF-8 또는 CP949(EUC-KR) CSV로 저장하세요."))
    if _looks_binary(text):
        raise ServiceError(_("CSV 또는 XLSX 파일이 아닙니다."))
    # The delimiter is the one under which a header row appears; csv.Sniffer guesses wrong on title lines.
    best, best_score = None, -1
    for delim in DELIMITERS:
        try:
            rows = [[_unguard(v) for v in row] for row in csv.reader(io.StringIO(text, newline=""), delimiter=delim)]
        except csv.Error as exc:
            raise ServiceError(_("CSV 형식이 올바르지 않습니다: %(e)s", e=str(exc))) from exc
        score = len(_best_header(rows)[1])
        if score > best_score:
            best, best_score = rows, score
    return best


def _unguard(value: str) -> str:
    """Undo the apostrophe the export puts before text that Excel would run as a formula."""
    if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_START:
        return value[1:]
    return value


def _best_header(rows: list[list]) -> tuple[int, dict]:
    """The row among the first few that names the most known columns, and {field: column index}."""
    best = (-1, {})
    for i, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        mapping = {}
        for col, cell in enumerate(row):
            f = _ALIASES.get(_norm_header(cell))
            if f and f not in mapping:
                mapping[f] = col
        if len(mapping) > len(best[1]):
            best = (i, mapping)
        if all(f in mapping for f in REQUIRED):
            return i, mapping
    return best


def _find_header(rows: list[list]) -> tuple[int, dict]:
    """Index of the header row and {field: column index}; title lines and blank lines may sit above it."""
    idx, mapping = _best_header(rows)
    missing = [LABELS[f] for f in REQUIRED if f not in mapping]
    if missing:
        raise ServiceError(_("머리글 행을 찾을 수 없습니다. 없는 열: %(cols)s", cols=", ".join(missing)),
                           errors={"columns": missing})
    return idx, mapping


def _cell(row, col):
    value = row[col] if col < len(row) else None
    return value.strip() if isinstance(value, str) else value


def _column_name(col: int, header, field: str) -> str:
    """The column as the office finds it in Excel: its letter, and the file's own header when that is not the
    name the messages use (직원수 for 종사자수)."""
    letter = get_column_letter(col + 1)
    header = " ".join(str(header or "").split())
    if header and _norm_header(header) != _norm_header(LABELS[field]):
        return _("%(letter)s열(%(header)s)", letter=letter, header=shown(header))
    return _("%(letter)s열", letter=letter)


def plan(rows: list[list]) -> tuple[list, ImportReport]:
    """Check every row; returns the (row number, clean data, {masked field: its cell}) to write, and the report.
    A masked cell is read as blank, which keeps what is stored."""
    report = ImportReport()
    header_idx, mapping = _find_header(rows)
    cells = {f: _column_name(col, rows[header_idx][col], f) for f, col in mapping.items()}
    seen: dict[str, int] = {}
    todo = []
    for offset, row in enumerate(rows[header_idx + 1:]):
        rowno = header_idx + 2 + offset  # the number the office sees in Excel
        if all(_blank(v) for v in row):
            continue
        data = {f: _cell(row, col) for f, col in mapping.items()}
        masked = {f: cells.get(f, "") for f in MASKABLE if is_masked(data.get(f))}
        data.update(dict.fromkeys(masked, ""))
        flag_error = _read_flag(data)
        clean, errors = sites.validate(data)
        if flag_error:
            errors["self_check"] = flag_error
        for f, reason in errors.items():
            report.add_error(RowError(rowno, LABELS[f], reason, cells.get(f, "")))
        bno = clean.get("business_no")
        if bno:
            if bno in seen:
                report.add_error(RowError(rowno, LABELS["business_no"], _(
                    "사업자등록번호 %(v)s이(가) 파일에 두 번 있습니다 (처음: %(first)s행)", v=bno, first=seen[bno]),
                    cells["business_no"]))
            else:
                seen[bno] = rowno
        if not errors:
            todo.append((rowno, clean, masked))
    if not todo and report.ok:
        raise ServiceError(_("가져올 행이 없습니다."))
    return todo, report


YES = {"예", "네", "o", "y", "yes", "true", "1", "on", "요청"}
NO = {"아니오", "아니요", "x", "n", "no", "false", "0", "off", "안 함", "안함"}


def _read_flag(data: dict) -> str | None:
    """The self-check cell read as True or False in place; a blank cell is dropped (the stored setting stays). The
    message when it is neither a yes nor a no."""
    if "self_check" not in data:
        return None
    raw = data.pop("self_check")
    if _blank(raw):
        return None
    word = " ".join(str(raw).split()).lower()
    if word in YES or word in NO:
        data["self_check"] = word in YES
        return None
    return _("자체점검 요청 '%(v)s'은(는) 예 또는 아니오로 적어야 합니다", v=shown(raw))


def import_sites(data: bytes, filename: str = "", by=None, dry_run: bool = False) -> ImportReport:
    """Create or update sites from a file, matched on 사업자등록번호. Writes nothing if any row is bad."""
    todo, report = plan(read_rows(data, filename))
    report.dry_run = dry_run
    if not report.ok:
        return report
    existing = {s.business_no: s for s in db.session.scalars(
        sites.list_stmt().where(sites.Site.business_no.in_([c["business_no"] for _r, c, _m in todo])))}
    _refuse_masked_new(todo, existing, report)
    if not report.ok:
        return report
    for _rowno, clean, _masked in todo:
        site = existing.get(clean["business_no"])
        if site is None:
            report.created.append(clean["name"])
            if not dry_run:
                sites.create_site(clean, by=by, action="import")
            continue
        changes = _changes(site, clean)
        if not changes:
            report.unchanged += 1
            continue
        report.updated.append((clean["name"], changes))
        if changes.keys() & OFFICER_FIELDS:
            report.officers_shown.append(site.id)
        if not dry_run:
            sites.update_site(site, clean, by=by, action="import")
    return report


def _refuse_masked_new(todo: list, existing: dict, report: ImportReport) -> None:
    """A new site cannot take a masked cell: there is no stored value to keep, and the mask is not a value."""
    for rowno, clean, masked in todo:
        if clean["business_no"] not in existing:
            for f, cell in masked.items():
                report.add_error(RowError(rowno, LABELS[f], _(
                    "%(label)s이(가) 가려진 값입니다. 새 사업장에는 실제 값을 적거나 비워 두세요 "
                    "(전체 값 내려받기로 받은 파일은 가려지지 않습니다).", label=LABELS[f]), cell))


OFFICER_FIELDS = {"manager_name", "manager_phone", "manager_email"}


def _changes(site, clean: dict) -> dict:
    """What an import would change on an existing site; blank optional cells keep what is stored."""
    changes = {}
    for f in sites.FIELDS:
        new = clean[f]
        if (f == "address" or f in OFFICER_FIELDS) and not new:
            clean[f] = getattr(site, f)
            continue
        if getattr(site, f) != new:
            changes[f] = (getattr(site, f), new)
    if "self_check" in clean and clean["self_check"] != site.self_check:
        changes["self_check"] = (audit.word(site.self_check), audit.word(clean["self_check"]))
    return changes
