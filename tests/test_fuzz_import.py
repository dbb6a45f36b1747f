"""Hypothesis against the register import: whatever the bytes, import_sites either succeeds, raises ServiceError,
or returns a report with errors, and never another exception; and it never writes half a file.

Bounded and deterministic (derandomize, no deadline), so it runs the same every time and stays fast.
"""
import csv
import io
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from sqlalchemy import func, select

from tracker.models import Audit, Site
from tracker.services import ServiceError, site_import

FUZZ = settings(max_examples=60, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])
pytestmark = pytest.mark.usefixtures("app_ctx")  # the import service, called directly; no test client here

HEADERS_KO = ["사업장명", "사업자등록번호", "행정동", "소재지", "종사자수", "방역담당자", "연락처"]
DONGS = ["여의동", "당산1동", "당산 1동", "문래동 ", "영등포동", "없는동", "", "신길3동"]
BUSINESS_NOS = ["107-81-00001", "1078100002", "107 81 00003", "107-81-00004", "123", "", "abc-de-fghij",
                "000-00-00000", "9999999999"]
HEADCOUNTS = ["50", "1,204명", "0", "-3", "", "칠십", "85.5", "99999999999999999999", "=1+2", "30"]
FREE_TEXT = st.text(alphabet=st.sampled_from(list("가나다라마바사콜센터 ,;\t\"'\r\n=+-@0123456789abc\x00\u00a0")),
                    max_size=30)


def _valid_rows():
    return [["한빛고객센터", "107-81-00001", "여의동", "서울 영등포구 여의대로 1", "1,204명", "김방역", "02-2670-0001"],
            ["새솔콜센터", "1078100002", "당산 1동", "", "85", "이담당", "02-2670-0002"],
            ["누리상담센터", "107 81 00003", "문래동 ", "", "50", "", ""]]


def _csv(rows, encoding="utf-8", delimiter=","):
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buf.getvalue().encode(encoding, errors="replace")


def _xlsx(rows):
    wb = Workbook()
    ws = wb.active
    for r in rows:
        ws.append(list(r))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


VALID_CSV = _csv([HEADERS_KO, *_valid_rows()])
VALID_CSV_CP949 = _csv([HEADERS_KO, *_valid_rows()], "cp949")
VALID_XLSX = _xlsx([HEADERS_KO, *_valid_rows()])


def _counts(db):
    db.session.flush()
    return (db.session.scalar(select(func.count()).select_from(Site)),
            db.session.scalar(select(func.count()).select_from(Audit)))


def check_import(db, data: bytes, filename: str):
    """Run one import; assert it ends in one of the allowed ways and leaves nothing half done."""
    before = _counts(db)
    try:
        report = site_import.import_sites(data, filename)
    except ServiceError as exc:
        assert str(exc.message).strip(), "a ServiceError must say what is wrong"
        assert _counts(db) == before, "a refused file must write nothing"
        db.session.rollback()
        return "refused"
    # Any other exception propagates and fails the test with the input that caused it.
    after = _counts(db)
    if report.errors:
        assert after == before, f"a report with errors wrote rows: {before} -> {after}"
        assert all(str(e).strip() for e in report.errors)
        outcome = "errors"
    else:
        assert after[0] == before[0] + len(report.created), (before, after, report.created)
        assert len(report.created) + len(report.updated) + report.unchanged >= 1
        outcome = "imported"
    db.session.rollback()  # the edge would commit; each example starts from the same database
    assert _counts(db) == before
    return outcome


@pytest.fixture
def existing(db, site_factory):
    """One site already registered, so that imports also take the update path."""
    return site_factory(business_no="107-81-00002", name="새솔콜센터", dong="당산1동", headcount=80)


@FUZZ
@given(data=st.binary(max_size=3000), name=st.sampled_from(["sites.csv", "sites.xlsx", "sites", "SITES.XLSX"]))
def test_random_bytes(db, existing, data, name):
    check_import(db, data, name)


cells = st.one_of(FREE_TEXT, st.sampled_from(DONGS), st.sampled_from(BUSINESS_NOS), st.sampled_from(HEADCOUNTS))
rows = st.lists(st.lists(cells, min_size=0, max_size=9), min_size=0, max_size=12)
# Rows that are mostly right, so that the success path and the per-row error path are both reached.
_good_bno = st.integers(1078100000, 1078199999).map(str)
_good_bno_dashed = _good_bno.map(lambda n: f"{n[:3]}-{n[3:5]}-{n[5:]}")
_good_count = st.integers(0, 2000)
plausible_row = st.tuples(
    st.text(alphabet=st.sampled_from(list("가나다콜센터상담 ")), min_size=1, max_size=12),
    st.one_of(_good_bno, _good_bno_dashed, _good_bno, st.sampled_from(BUSINESS_NOS)),
    st.sampled_from(DONGS[:5] + ["여의동"] * 3), st.sampled_from(["", "서울 영등포구 1", "a,b;c\t\"d\""]),
    st.one_of(_good_count.map(str), _good_count.map(lambda n: f"{n:,}명"), _good_count.map(str),
              st.sampled_from(HEADCOUNTS)),
    st.sampled_from(["김방역", "", "O'Brien"]), st.sampled_from(["02-2670-0001", "", "=cmd|' /C calc'!A0"]),
).map(list)
rows = st.one_of(rows, st.lists(plausible_row, min_size=1, max_size=5))
headers = st.one_of(st.just(HEADERS_KO), st.permutations(HEADERS_KO), st.lists(FREE_TEXT, max_size=8),
                    st.just(["name", "business_no", "dong", "headcount"]))


@FUZZ
@given(header=headers, body=rows, above=st.lists(st.lists(FREE_TEXT, max_size=3), max_size=3),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp949"]), delimiter=st.sampled_from([",", "\t", ";"]))
def test_random_csv_text(db, existing, header, body, above, encoding, delimiter):
    check_import(db, _csv([*above, header, *body], encoding, delimiter), "sites.csv")


@FUZZ
@given(header=headers, body=rows)
def test_random_xlsx_sheets(db, existing, header, body):
    # openpyxl refuses control characters in cells; those are the spreadsheet program's problem, not ours.
    clean = [[c.replace("\x00", "") for c in r] for r in [header, *body]]
    check_import(db, _xlsx(clean), "sites.xlsx")


@FUZZ
@given(members=st.lists(st.tuples(st.sampled_from(["[Content_Types].xml", "xl/workbook.xml", "_rels/.rels",
                                                   "xl/worksheets/sheet1.xml", "xl/_rels/workbook.xml.rels",
                                                   "docProps/app.xml", "junk.bin"]),
                                  st.one_of(st.binary(max_size=300),
                                            st.sampled_from([b"<?xml version='1.0'?><x/>", b"<workbook>",
                                                             b"\xef\xbb\xbf<?xml version='1.0'?>"]))),
                        max_size=7, unique_by=lambda m: m[0]))
def test_xlsx_like_zip_garbage(db, existing, members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, content in members:
            z.writestr(name, content)
    check_import(db, buf.getvalue(), "sites.xlsx")


def _mutate(base: bytes, edits) -> bytes:
    data = bytearray(base)
    for kind, pos, value in edits:
        if not data:
            break
        i = pos % len(data)
        if kind == "flip":
            data[i] ^= value or 1
        elif kind == "insert":
            data[i:i] = bytes([value])
        elif kind == "delete":
            del data[i]
        else:  # truncate
            del data[i:]
    return bytes(data)


edits = st.lists(st.tuples(st.sampled_from(["flip", "insert", "delete", "truncate"]),
                           st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=6)


@FUZZ
@given(base=st.sampled_from([("sites.csv", VALID_CSV), ("sites.csv", VALID_CSV_CP949), ("sites.xlsx", VALID_XLSX)]),
       edits=edits)
def test_mutated_valid_files(db, existing, base, edits):
    name, data = base
    check_import(db, _mutate(data, edits), name)


def test_the_unmutated_files_import(db, existing):
    """The seeds of the mutations are good files, so the fuzzing starts from the success path."""
    for name, data in (("sites.csv", VALID_CSV), ("sites.csv", VALID_CSV_CP949), ("sites.xlsx", VALID_XLSX)):
        assert check_import(db, data, name) == "imported", name
