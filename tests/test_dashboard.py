"""The dashboard, council report, exports and /api/v1/summary as users meet them: roles, filters, formats."""
import csv
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import event

from tests.test_summary import add_inspection, history  # noqa: F401  (the hand-checked history fixture)
from tracker.services import checklist


@pytest.mark.parametrize("url", ["/dashboard", "/reports/council", "/reports/council.xlsx",
                                 "/dashboard/export/inspections.csv", "/dashboard/export/actions.xlsx"])
def test_inspector_gets_403_on_pages(client, login, url):
    login("inspector")
    assert client.get(url).status_code == 403


def test_inspector_gets_403_on_summary_api(client, login):
    login("inspector")
    resp = client.get("/api/v1/summary")
    assert resp.status_code == 403 and resp.get_json()["error"] == "forbidden"


def test_anonymous_api_gets_401(client):
    assert client.get("/api/v1/summary").status_code == 401


def test_home_sends_leads_to_the_dashboard_and_inspectors_to_their_week(client, login):
    login("lead")
    assert client.get("/").headers["Location"].endswith("/dashboard")


def test_home_sends_inspectors_on(client, login):
    login("inspector")
    assert "/dashboard" not in client.get("/").headers["Location"]


@pytest.mark.parametrize("query,param", [("from=2020-W54", "from"), ("from=2020-W12&to=2020-W11", "to"),
                                         ("to=yesterday", "to"), ("from=2020-W11&dong=강남동", "dong")])
def test_summary_api_422_names_the_parameter(client, login, query, param):
    login("admin")
    resp = client.get(f"/api/v1/summary?{query}")
    assert resp.status_code == 422
    body = resp.get_json()
    assert param in body["errors"] and param in body["message"] or param in body["errors"]
    assert body["message"]


def test_summary_api_is_in_the_openapi_document(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    params = [p["name"] for p in doc["paths"]["/api/v1/summary"]["get"]["parameters"]]
    assert params == ["from", "to", "dong"]


def test_dashboard_bad_week_is_named_and_falls_back(history, client, login):  # noqa: F811
    login("lead")
    page = client.get("/dashboard?from=2020-W77").get_data(as_text=True)
    assert "from은(는) 2020-W11 형식" in page
    assert "2020-W13" in page                    # the pinned clock's week is shown instead


def test_dashboard_shows_definitions_and_the_svg_trend(history, client, login):  # noqa: F811
    login("lead")
    resp = client.get("/dashboard?from=2020-W11&to=2020-W14&dong=여의동")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "예 ÷ (예 + 아니오)" in html and "중요 항목에 “아니오”가 하나도 없는 점검" in html
    assert '<svg class="trend wide"' in html and '<svg class="trend compact"' in html and "<polyline" in html
    assert "style=" not in html and "<script>" not in html      # CSP: no inline style or script
    assert "css/dashboard.css" in html
    assert "66.7%" in html                        # 여의동's rate


def test_exports_apply_the_filters(history, client, login):  # noqa: F811
    login("lead")
    resp = client.get("/dashboard/export/inspections.csv?from=2020-W11&to=2020-W14")
    assert resp.status_code == 200 and resp.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["주", "점검일시", "사업장명"] and len(rows) == 1 + 6
    head = rows[0]
    first = next(dict(zip(head, r)) for r in rows[1:] if r[0] == "2020-W11" and r[2] == "A센터")
    assert first["사업장명"] == "A센터" and first["적합 여부"] == "부적합"
    assert first["근무 중 마스크 착용 의무화"] == "예" and first["위생용품(손소독제 등) 비치"] == "해당없음"
    # the dong filter: 당산1동 has i3 and i5 only
    wb = load_workbook(io.BytesIO(client.get(
        "/dashboard/export/inspections.xlsx?from=2020-W11&to=2020-W14&dong=당산1동").data))
    ws = wb.worksheets[0]
    assert ws.max_row == 1 + 2
    # actions opened in W11–W14: all three
    acts = list(csv.reader(io.StringIO(client.get(
        "/dashboard/export/actions.csv?from=2020-W11&to=2020-W14").data.decode("utf-8-sig"))))
    assert len(acts) == 1 + 3 and {r[5] for r in acts[1:]} == {"미조치", "기한 경과", "조치 완료"}
    assert client.get("/dashboard/export/actions.pdf").status_code == 404


def test_council_page_prints_on_a4(history, client, login):  # noqa: F811
    login("lead")
    html = client.get("/reports/council?from=2020-W11&to=2020-W14").get_data(as_text=True)
    assert "관내 콜센터 현황: 총 4개소" in html
    css = client.get("/static/css/dashboard.css").get_data(as_text=True)
    assert "@media print" in css and "size:A4" in css


def test_thousands_separators_in_council_xlsx(history, client, login):  # noqa: F811
    login("lead")
    wb = load_workbook(io.BytesIO(client.get("/reports/council.xlsx?from=2020-W11&to=2020-W14").data))
    assert wb["동별 현황"]["B2"].number_format == "#,##0"


def test_query_count_does_not_grow_with_the_data(history, client, login, db, app):  # noqa: F811
    login("lead")
    url = "/dashboard?from=2020-W11&to=2020-W14"

    def count():
        n = [0]

        def bump(*_a, **_k):
            n[0] += 1
        event.listen(db.engine, "before_cursor_execute", bump)
        try:
            assert client.get(url).status_code == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", bump)
        return n[0]
    small = count()
    tpl = checklist.current()
    for _ in range(20):
        add_inspection(db, tpl, history["b"], "2020-W12", "onsite", {"officer_designated": "no"})
    db.session.commit()
    assert count() == small
    assert small <= 20


def test_council_report_defaults_to_the_programme_so_far(history, client, login):  # noqa: F811
    """Without a period the council report runs from the first inspected week to this week (2020-W13 here)."""
    login("lead")
    html = client.get("/reports/council").get_data(as_text=True)
    assert "2020-W11 ~ 2020-W13" in html
    wb = load_workbook(io.BytesIO(client.get("/reports/council.xlsx").data))
    res = [list(r) for r in wb["점검 실적"].iter_rows(values_only=True)]
    assert res[1][0] == "2020-W11 ~ 2020-W13"
    assert res[1][2] == 2  # A and C were inspected on site in W11-W12
