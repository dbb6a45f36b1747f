"""The dashboard, council report, exports and /api/v1/summary as users meet them: roles, filters, formats,
and in Debian's Chromium at phone and desk width (these fail, never skip, when Chromium is missing)."""
import csv
import io
import os
import re
from datetime import date, datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import event

from tests.conftest import PASSWORD, close_context
from tests.test_summary import add_inspection, history, page_figures, xlsx_rows  # noqa: F401  (hand-checked history)
from tracker import clock
from tracker.services import checklist, demo, reports
from tracker.web.trend_chart import rate_floor, trend_chart


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
    assert params == ["from", "to", "dong", "coverage"]


@pytest.mark.parametrize("value,given", [("1", True), ("true", True), ("yes", True), ("0", False), ("false", False)])
def test_summary_api_reads_coverage_as_the_document_says(client, login, value, given):
    """coverage is a boolean in the document, and every spelling of one is read as one; anything else is named."""
    login("admin")
    resp = client.get(f"/api/v1/summary?from=2020-W11&coverage={value}")
    assert resp.status_code == 200 and ("sites_active" in resp.get_json()) is given
    doc = client.get("/api/v1/openapi.json").get_json()
    coverage = next(p for p in doc["paths"]["/api/v1/summary"]["get"]["parameters"] if p["name"] == "coverage")
    assert coverage["schema"]["type"] == "boolean"


def test_summary_api_names_a_coverage_it_cannot_read(client, login):
    login("admin")
    resp = client.get("/api/v1/summary?coverage=maybe")
    assert resp.status_code == 422 and list(resp.get_json()["errors"]) == ["coverage"]


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
    assert re.search(r'href="/static/css/dashboard\.[0-9a-f]{12}\.css"', html)  # its content-hashed name
    assert "66.7%" in html                        # 여의동's rate


def test_exports_apply_the_filters(history, client, login):  # noqa: F811
    login("lead")
    resp = client.get("/dashboard/export/inspections.csv?from=2020-W11&to=2020-W14&reason=보고")
    assert resp.status_code == 200 and resp.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert rows[0][:3] == ["주", "점검일시", "사업장명"] and len(rows) == 1 + 6
    head = rows[0]
    first = next(dict(zip(head, r)) for r in rows[1:] if r[0] == "2020-W11" and r[2] == "A센터")
    assert first["사업장명"] == "A센터" and first["적합 여부"] == "부적합"
    assert first["근무 중 마스크 착용 의무화"] == "예" and first["위생용품(손소독제 등) 비치"] == "해당없음"
    # the dong filter: 당산1동 has i3 and i5 only
    wb = load_workbook(io.BytesIO(client.get(
        "/dashboard/export/inspections.xlsx?from=2020-W11&to=2020-W14&dong=당산1동&reason=보고").data))
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
    css = client.get(re.search(r'href="(/static/css/dashboard\.[^"]+)"', html).group(1)).get_data(as_text=True)
    assert "@media print" in css and "size:A4" in css


def test_thousands_separators_in_council_xlsx(history, client, login):  # noqa: F811
    login("lead")
    wb = load_workbook(io.BytesIO(client.get("/reports/council.xlsx?from=2020-W11&to=2020-W14").data))
    assert wb["동별 현황"]["B2"].number_format == "#,##0"


def test_query_count_does_not_grow_with_the_data(history, client, login, db, app, site_factory):  # noqa: F811
    login("lead")
    url = "/dashboard?from=2020-W11&to=2020-W14"
    with app.app_context():
        engine = db.engine

    def count():
        n = [0]

        def bump(*_a, **_k):
            n[0] += 1
        event.listen(engine, "before_cursor_execute", bump)
        try:
            assert client.get(url).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", bump)
        return n[0]
    small = count()
    with app.app_context():
        tpl = checklist.current()
        for _ in range(20):
            add_inspection(db, tpl, history["b"], "2020-W12", "onsite", {"officer_designated": "no"})
        for n in range(15):     # more sites than the lowest-rates list shows
            site = site_factory(name=f"추가{n}", dong="문래동")
            add_inspection(db, tpl, site, "2020-W13", "phone", {"officer_designated": "yes", "masks_mandatory": "no"})
        db.session.commit()
    assert count() == small
    assert small <= 20


def test_council_report_defaults_to_the_programme_so_far(history, client, login, clock_at):  # noqa: F811
    """Without a period the council report runs from the first to the last inspected week (2020-W13 here): what
    the programme did, however long after it the report is made, and the page says so."""
    for now in ("2020-03-26T10:00", "2020-05-20T10:00"):   # in W13, its last inspected week, and seven weeks on
        clock_at(datetime.fromisoformat(now).replace(tzinfo=clock.ZoneInfo("Asia/Seoul")))
        login("lead")  # signed in that day: a session cookie signed seven weeks before is past Flask's 31 days
        html = client.get("/reports/council").get_data(as_text=True)
        assert "2020-W11 ~ 2020-W13" in html and "첫 점검 주부터 마지막 점검 주까지" in html
        assert "2020-03-09 ~ 2020-03-29" in html    # its first Monday to its last Sunday
        wb = load_workbook(io.BytesIO(client.get("/reports/council.xlsx").data))
        res = [list(r) for r in wb["점검 실적"].iter_rows(values_only=True)]
        assert res[1][0] == "2020-W11 ~ 2020-W13"
        assert res[1][2] == 2  # A and C were inspected on site in W11-W12


def test_the_council_report_in_english_is_english_throughout(app, history, client, login):  # noqa: F811
    """Its tables' headers too, and its period reads as English; only names (the district, its dongs) stay Korean."""
    from tests.test_i18n import HANGUL, page_text
    from tracker.services import sites
    login("lead")
    html = client.get("/reports/council?lang=en").get_data(as_text=True)
    with app.app_context():
        names = ["영등포구", "한국어"] + list(sites.counts()["by_dong"])
    left = [t for t, _nav in page_text(html) if HANGUL.search(re.sub("|".join(names), "", t))]
    assert not left, left
    assert "Period: 2020-W11 to 2020-W13 (2020-03-09 to 2020-03-29)" in html and "Week)" not in html
    assert ">Sites inspected on site</th>" in html and ">≤ 50</th>" in html and "The XLSX is in Korean" in html
    # the workbook keeps the council's Korean whatever the page's language
    wb = load_workbook(io.BytesIO(client.get("/reports/council.xlsx").data))
    assert wb.sheetnames == ["동별 현황", "직원수별 현황", "점검 실적"] and wb["동별 현황"]["A1"].value == "구분"


def test_the_dashboard_defaults_to_the_last_12_weeks_with_this_weeks_progress(history, client, login):  # noqa: F811
    """A lead lands on a trend, not one dot: the 12 weeks to this week (2020-W13), this week's progress on top."""
    login("lead")
    html = client.get("/dashboard").get_data(as_text=True)
    fig = page_figures(html)
    weeks = sorted({k[1] for k in fig if k[0] == "weeks"})
    assert weeks == [clock.add_weeks("2020-W13", -n) for n in range(11, -1, -1)]
    assert 'name="from" value="2020-W02"' in html and 'name="to" value="2020-W13"' in html
    assert "업무가 없습니다" in fig[("progress", None, "tasks")]
    assert "2020-W13" in html[html.index('data-group="progress"'):][:400]
    assert html.count("<circle") == 2 * 3    # W11-W13 have inspections: three dots in each of the two charts
    # this week alone, and the default again, one tap away
    assert 'href="/dashboard?from=2020-W13&amp;to=2020-W13' in html and "최근 12주" in html


# --- this week's progress, the trend chart and the rate bars ---------------------------------------------------

def test_a_week_without_tasks_says_so(history, client, login):  # noqa: F811
    """W14 has no monitoring tasks: no empty bar, no zeros, no "미배정 4", but a plain sentence."""
    login("lead")
    html = client.get("/dashboard?from=2020-W11&to=2020-W14").get_data(as_text=True)
    assert "이 주에는 모니터링 업무가 없습니다" in html
    assert '<svg class="stack"' not in html and "미배정" not in html
    assert not {k for k in page_figures(html) if k[0] == "progress" and k[2] != "tasks"}


def test_a_week_with_tasks_shows_its_progress(history, client, login):  # noqa: F811
    """W12: A and C done, B open past its due time, D missed (of 4 tasks for 4 sites)."""
    login("lead")
    html = client.get("/dashboard?from=2020-W11&to=2020-W12").get_data(as_text=True)
    assert "이 주에는 모니터링 업무가 없습니다" not in html and '<svg class="stack"' in html
    fig = page_figures(html)
    got = {k[2]: v for k, v in fig.items() if k[0] == "progress"}
    assert got == {"done": 2, "remaining": 0, "overdue": 1, "missed": 1}
    assert "미배정" not in html                     # every active site had its task


def test_trend_chart_scales_the_rate_to_its_range():
    weeks = [{"week": f"2020-W{n}", "inspections": i, "compliance_rate": r}
             for n, i, r in ((11, 90, 97.2), (12, 80, 99.4), (13, 85, 98.1), (14, 0, None))]
    c = trend_chart(weeks)
    assert [(g["kind"], g["v"]) for g in c["rate_grid"]] == [("max", 99.4), ("min", 97.2)]
    top, bottom = c["rate_grid"][0]["y"], c["rate_grid"][1]["y"]
    ys = {d["week"]: d["y"] for d in c["dots"]}
    assert ys["2020-W12"] == top and ys["2020-W11"] == bottom            # the extremes sit on their gridlines
    assert bottom - top > 0.6 * (c["rate_bottom"] - c["rate_top"])       # 2.2 points fill most of the panel
    assert "2020-W14" not in ys                                          # no rate, no dot
    # the line's panel lies wholly above the bars' panel, so they never overlap
    assert all(c["rate_top"] <= d["y"] <= c["rate_bottom"] for d in c["dots"])
    assert c["rate_bottom"] < c["bar_top"]
    assert all(c["bar_top"] <= b["y"] and b["y"] + b["h"] <= c["base"] + 0.1 for b in c["bars"])
    assert c["peak"] == 90 and min(b["y"] for b in c["bars"]) == c["bar_top"]
    one = trend_chart([{"week": "2020-W11", "inspections": 3, "compliance_rate": 98.0}])
    assert [g["kind"] for g in one["rate_grid"]] == ["only"]


def test_trend_chart_on_the_page_has_units(history, client, login):  # noqa: F811
    login("lead")
    html = client.get("/dashboard?from=2020-W11&to=2020-W14").get_data(as_text=True)
    wide = html[html.index('<svg class="trend wide"'):]
    wide = wide[:wide.index("</svg>")]
    # W11 8/10 = 80.0 %, W12 3/6 = 50.0 %, W13 2/3 = 66.7 %; the busiest week is W11 with 3 inspections
    assert "최고 80.0%" in wide and "최저 50.0%" in wide
    assert "준수율(%)" in wide and "점검 건수(건)" in wide and ">3건<" in wide


def test_rate_bars_start_at_a_labelled_floor(history, client, login):  # noqa: F811
    assert rate_floor([97.2, 99.0, None]) == 90 and rate_floor([100.0]) == 90
    assert rate_floor([66.7, 71.4, None]) == 60 and rate_floor([5.0]) == 0 and rate_floor([None]) == 0
    login("lead")
    html = client.get("/dashboard?from=2020-W11&to=2020-W14").get_data(as_text=True)
    table = html[html.index('data-group="by_dong"'):]
    table = table[:table.index("</table>")]
    assert "막대 60~100%" in table
    # 여의동 66.7 % → (66.7 − 60) / 40 = 16.8 % of the bar; 당산1동 71.4 % → 28.5 %
    assert 'class="bar-fg low" width="16.8"' in table and 'class="bar-fg low" width="28.5"' in table


def test_the_page_says_how_group_rates_pool(history, client, login):  # noqa: F811
    login("lead")
    html = client.get("/dashboard?from=2020-W11&to=2020-W14").get_data(as_text=True)
    assert "묶음의 예 합계 ÷ (예 합계 + 아니오 합계)" in html and "사업장별 준수율의 평균이 아니므로" in html
    assert "준수율 낮은 사업장" in html
    api = client.get("/api/v1/summary?from=2020-W11&to=2020-W14").get_json()
    assert "not the mean" in api["definitions"]["group_rates"] and "lowest_sites" in api["definitions"]


def test_lowest_sites_is_in_the_openapi_document(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    props = doc["paths"]["/api/v1/summary"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert "lowest_sites" in props["properties"]


# --- exports across checklist versions ---------------------------------------------------------------------

def test_export_keeps_answers_to_items_a_later_checklist_dropped(clock_at, app, db, client, login, site_factory):
    """v1 had visitor_log; v2 drops it, adds callback_confirmed and puts masks first. Both weeks' answers stay."""
    from tests.test_summary import NOW
    clock_at(NOW)
    with app.app_context():
        v1 = checklist.ensure_default()
        site = site_factory(name="가나센터", dong="여의동")
        add_inspection(db, v1, site, "2020-W11", "onsite", {"officer_designated": "yes", "visitor_log": "no"})
        items = [i for i in checklist.default_items() if i["key"] != "visitor_log"]
        items.insert(0, items.pop(next(n for n, i in enumerate(items) if i["key"] == "masks_mandatory")))
        items.append(dict(key="callback_confirmed", label_ko="전화 확인 담당자 연결", label_en="Callback contact",
                          category="management", critical=False, modes=["phone"]))
        v2 = checklist.publish("v2", items)
        add_inspection(db, v2, site, "2020-W12", "phone", {"masks_mandatory": "yes", "callback_confirmed": "yes"})
        db.session.commit()
    login("lead")
    v2_labels = [i["label_ko"] for i in items]
    retired = "외부인 출입 관리(출입자 명부) (이전 점검표 항목)"
    for fmt in ("csv", "xlsx"):
        body = client.get(f"/dashboard/export/inspections.{fmt}?from=2020-W11&to=2020-W12&reason=보고").data
        rows = (xlsx_rows(body) if fmt == "xlsx" else
                list(csv.DictReader(io.StringIO(body.decode("utf-8-sig")))))
        head = list(rows[0])
        assert head == reports.INSPECTION_HEADERS + v2_labels + [retired], fmt   # current order, then retired
        old, new = rows
        assert (old["주"], old[retired], old["방역 전담자 지정"]) == ("2020-W11", "아니오", "예")
        assert (new[retired] or "", new["전화 확인 담당자 연결"], new["근무 중 마스크 착용 의무화"]) == ("", "예", "예")
    # a period with no answer to the dropped item has no column for it
    with app.app_context():
        headers, _rows = reports.inspection_rows("2020-W12", "2020-W12")
    assert retired not in headers and headers[len(reports.INSPECTION_HEADERS)] == "근무 중 마스크 착용 의무화"
    # the dashboard's item table keeps it too, under its old label
    html = client.get("/dashboard?from=2020-W11&to=2020-W12").get_data(as_text=True)
    assert page_figures(html)[("by_item", "visitor_log", "no")] == 1 and "이전 점검표" in html


# --- nothing from outside ------------------------------------------------------------------------------------

EXTERNAL = re.compile(r"""(?:src|href|action|xlink:href|srcset|poster|data)\s*=\s*["']?\s*(?:https?:)?//""", re.I)
CSS_EXTERNAL = re.compile(r"""(?:url\(\s*["']?|@import\s+["']?)\s*(?:https?:)?//""", re.I)


@pytest.mark.parametrize("url", ["/dashboard", "/dashboard?from=2020-W11&to=2020-W14",
                                 "/dashboard?from=2020-W11&to=2020-W14&dong=여의동&lang=en",
                                 "/reports/council", "/reports/council?from=2020-W11&to=2020-W12&lang=en"])
def test_dashboard_and_report_pages_reference_nothing_outside(history, client, login, url):  # noqa: F811
    login("lead")
    resp = client.get(url)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert not EXTERNAL.findall(html), EXTERNAL.findall(html)
    sheets = re.findall(r'<link[^>]+href="([^"]+\.css[^"]*)"', html)
    assert any(re.search(r"/dashboard\.[0-9a-f]{12}\.css$", h) for h in sheets)
    for href in sheets:
        css = client.get(href).get_data(as_text=True)
        assert css and not CSS_EXTERNAL.findall(css), href


# --- in the browser ------------------------------------------------------------------------------------------

SHOTS = os.environ.get("TRACKER_SHOTS_DIR")  # set it to keep the screenshots
PAGES = [("dashboard", "/dashboard?from=2020-W11&to=2020-W24"), ("council", "/reports/council")]

# Each visible table, with where its total column ("계", else its last column) ends and whether it is the turned
# (one row a dong or band) version; and the page's own width against the window's.
LAYOUT = """() => {
  const out = {scroll: document.documentElement.scrollWidth, inner: window.innerWidth, tables: []};
  for (const t of document.querySelectorAll('table')) {
    if (!t.getClientRects().length) continue;
    const head = t.querySelector('tr');
    const cells = [...head.children];
    const total = cells.find(c => c.textContent.trim() === '계') || cells[cells.length - 1];
    const box = t.parentElement.getBoundingClientRect();
    const r = total.getBoundingClientRect();
    out.tables.push({caption: (t.caption || head).textContent.trim().slice(0, 40), transposed: !!t.dataset.transposed,
                     right: r.right, left: r.left, box: box.right, rows: t.rows.length,
                     totalRow: [...t.rows].some(row => row.cells[0].textContent.trim() === '계')});
  }
  return out;
}"""




@pytest.fixture
def seeded(app, db):
    """The demo on the real calendar: 73 sites, the on-site sweep from 2020-03-09, 12 rounds, one case."""
    with app.app_context():
        demo.seed(out=lambda *_: None)
        db.session.commit()
        demo.seed_history(date(2020, 3, 9))
        db.session.commit()


def open_as_lead(browser, live_server, make_user, phone: bool):
    """A logged-in lead's browser page at phone (390x844) or desk (1280x800) size, and the requests it makes."""
    size = {"width": 390, "height": 844} if phone else {"width": 1280, "height": 800}
    ctx = browser.new_context(viewport=size, is_mobile=phone, has_touch=phone, locale="ko-KR")
    page = ctx.new_page()
    page.set_default_timeout(15000)
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    user = make_user("lead")
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/dashboard")
    return ctx, page, requests


def shot(page, name):
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        page.screenshot(path=os.path.join(SHOTS, name), full_page=True)


@pytest.mark.parametrize("phone", [True, False], ids=["390px", "1280px"])
def test_dashboard_and_council_report_fit_the_screen(browser, live_server, make_user, seeded, phone):
    ctx, page, requests = open_as_lead(browser, live_server, make_user, phone)
    try:
        for name, url in PAGES:
            page.goto(live_server + url)
            shot(page, f"{name}-{390 if phone else 1280}.png")
            lay = page.evaluate(LAYOUT)
            assert lay["scroll"] <= lay["inner"], (name, lay["scroll"], lay["inner"])
            assert lay["tables"], name
            for t in lay["tables"]:
                # the totals (or the last column) are on screen, not behind a sideways scroll
                assert t["right"] <= min(lay["inner"], t["box"]) + 0.5, (name, t)
            if name == "council":
                shown = {t["transposed"] for t in lay["tables"]}
                assert shown == {phone}, lay["tables"]     # turned lists on the phone, the report's tables at a desk
                if phone:
                    assert sum(t["totalRow"] for t in lay["tables"]) == 2    # 계 is a row, last, in both count tables
                    assert [t["rows"] for t in lay["tables"][:2]] == [1 + 8 + 1, 1 + 9 + 1]
        assert requests and all(u.startswith(live_server) for u in requests), \
            [u for u in requests if not u.startswith(live_server)]
    finally:
        close_context(ctx)


def test_council_form_lines_up_at_desk_width(browser, live_server, make_user, seeded):
    """보기 is as tall as the week fields beside it, and 기간 (text) is not right-aligned like a number."""
    ctx, page, _requests = open_as_lead(browser, live_server, make_user, phone=False)
    try:
        for url in ("/reports/council", "/dashboard?from=2020-W11&to=2020-W24"):
            page.goto(live_server + url)
            field = page.locator("form.dash-filters input[name=from]").bounding_box()
            button = page.locator("form.dash-filters button").bounding_box()
            assert abs(button["height"] - field["height"]) <= 1 and abs(button["y"] - field["y"]) <= 1, url
        page.goto(live_server + "/reports/council")
        cell = page.locator("table.results-table.wide td.txt").first
        assert cell.inner_text() == "2020-W11 ~ 2020-W23"
        assert cell.evaluate("c => getComputedStyle(c).textAlign") != "right"
        number = page.locator("table.results-table.wide td.num").first
        assert number.evaluate("c => getComputedStyle(c).textAlign") == "right"
    finally:
        close_context(ctx)


def pdf_pages(pdf: bytes) -> int:
    """Page objects in a PDF as Chromium writes it (uncompressed object dictionaries)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


def test_council_report_prints_on_one_a4_page(browser, live_server, make_user, seeded):
    ctx, page, _requests = open_as_lead(browser, live_server, make_user, phone=False)
    try:
        page.goto(live_server + "/reports/council")
        pdf = page.pdf(format="A4")
        if SHOTS:
            with open(os.path.join(SHOTS, "council.pdf"), "wb") as f:
                f.write(pdf)
        assert pdf.startswith(b"%PDF") and pdf_pages(pdf) == 1
        # the printed page is the report's wide tables, not the phone's turned lists, and not the form
        page.emulate_media(media="print")
        assert page.locator("table.report-table.wide").first.is_visible()
        assert not page.locator("table.report-table.tall").first.is_visible()
        assert not page.locator("form.dash-filters").is_visible()
        # and a longer period still fits: the whole programme's two dong and band tables do not grow with weeks
        page.goto(live_server + "/reports/council?from=2020-W01&to=2020-W53")
        assert pdf_pages(page.pdf(format="A4")) == 1
    finally:
        close_context(ctx)
