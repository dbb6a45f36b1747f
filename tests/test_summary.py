"""services.summary.compute() against a small history whose figures were worked out by hand.

The history (period 2020-W11 … 2020-W14; the clock is pinned to Wed 2020-03-25 12:00 KST, in 2020-W13):

sites (active):  A 여의동 30명 (50 이하)   B 여의동 120명 (101~150)   C 당산1동 800명 (701이상)   D 문래동 60명 (51~100)

checklist: the default template plus, as version 2, a phone-only item `callback_confirmed` (not critical).
critical items used below: officer_designated, density_minimized, masks_mandatory; non-critical: hygiene_supplies,
ventilation, flexible_work, partitions_installed is critical too but only ever "yes"/"n/a" here.

inspections                        answers                                          yes no na  critical-no  compliant
 i1 W11 A onsite  officer=yes density=no  hygiene=na  masks=yes                      2   1  1   1            no
 i2 W11 B phone   officer=yes masks=yes ventilation=no flexible=na                   2   1  1   0            yes
 i3 W11 C onsite  officer=yes density=yes partitions=yes masks=yes                   4   0  0   0            yes
 i4 W12 A phone   officer=yes masks=no callback=yes                                  2   1  0   1            no
 i5 W12 C onsite  officer=yes density=no partitions=na hygiene=no                    1   2  1   1            no
 i6 W13 B phone   officer=yes callback=no ventilation=yes                            2   1  0   0            yes
                                                                           totals   13   6  3               3 of 6

weekly_monitoring tasks (slot 0): W11 A,B,C done, D missed; W12 A,C done, B open and overdue, D missed; none later.
incidents: A 2020-03-18 (W12) 2 cases; C 2020-05-09 (W19) 1 case.
actions: opened 2020-03-24 (1 day old, open), 2020-03-09 (16 days, escalated), 2020-03-12 (cleared).
"""
import io
import re
import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from html.parser import HTMLParser

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from conftest import app_context, loaded
from tracker import clock
from tracker.models import Action, Answer, Incident, Inspection, SummaryWeek, Task
from tracker.services import checklist, rollup, summary

KST = timezone(timedelta(hours=9))
NOW = datetime(2020, 3, 25, 12, 0, tzinfo=KST)
CRITICAL = {"officer_designated", "response_manual", "density_minimized", "partitions_installed", "masks_mandatory",
            "disinfection", "temperature_checks", "symptomatic_sent_home", "case_reporting"}


def add_inspection(db, tpl, site, week, mode, answers: dict) -> Inspection:
    """An inspection as submit stores it: counts kept on the row, one Answer a key."""
    vals = list(answers.values())
    crit_no = sum(1 for k, v in answers.items() if v == "no" and k in CRITICAL)
    at = clock.week_start_utc(week) + timedelta(days=1, hours=2)
    insp = Inspection(client_uuid=str(uuid.uuid4()), site_id=site.id, template_id=tpl.id, mode=mode, week=week,
                      submitted_at=at, yes_count=vals.count("yes"), no_count=vals.count("no"),
                      na_count=vals.count("na"), critical_no_count=crit_no, compliant=crit_no == 0,
                      contact_name="담당자" if mode == "phone" else "")
    db.session.add(insp)
    db.session.flush()
    db.session.add_all([Answer(inspection_id=insp.id, item_key=k, value=v) for k, v in answers.items()])
    db.session.flush()
    return insp


def add_task(db, site, week, status, overdue=False):
    db.session.add(Task(site_id=site.id, week=week, kind="weekly_monitoring", slot=0, required_mode="any",
                        due_at=clock.week_start_utc(week) + timedelta(days=4, hours=9), status=status,
                        overdue=overdue))


@pytest.fixture
def history(app, db, site_factory, clock_at):
    clock_at(NOW)
    with app_context(app):
        return _history(db, site_factory)


def _history(db, site_factory):
    checklist.ensure_default()
    items = checklist.default_items() + [dict(key="callback_confirmed", label_ko="전화 확인 담당자 연결",
                                              label_en="Callback contact", category="management", critical=False,
                                              modes=["phone"])]
    tpl = checklist.publish("v2", items)
    a = site_factory(name="A센터", dong="여의동", headcount=30)
    b = site_factory(name="B센터", dong="여의동", headcount=120)
    c = site_factory(name="C센터", dong="당산1동", headcount=800)
    d = site_factory(name="D센터", dong="문래동", headcount=60)
    i1 = add_inspection(db, tpl, a, "2020-W11", "onsite", {"officer_designated": "yes", "density_minimized": "no",
                                                            "hygiene_supplies": "na", "masks_mandatory": "yes"})
    add_inspection(db, tpl, b, "2020-W11", "phone", {"officer_designated": "yes", "masks_mandatory": "yes",
                                                     "ventilation": "no", "flexible_work": "na"})
    add_inspection(db, tpl, c, "2020-W11", "onsite", {"officer_designated": "yes", "density_minimized": "yes",
                                                      "partitions_installed": "yes", "masks_mandatory": "yes"})
    add_inspection(db, tpl, a, "2020-W12", "phone", {"officer_designated": "yes", "masks_mandatory": "no",
                                                     "callback_confirmed": "yes"})
    add_inspection(db, tpl, c, "2020-W12", "onsite", {"officer_designated": "yes", "density_minimized": "no",
                                                      "partitions_installed": "na", "hygiene_supplies": "no"})
    add_inspection(db, tpl, b, "2020-W13", "phone", {"officer_designated": "yes", "callback_confirmed": "no",
                                                     "ventilation": "yes"})
    for s in (a, b, c):
        add_task(db, s, "2020-W11", "done")
    add_task(db, d, "2020-W11", "missed")
    add_task(db, a, "2020-W12", "done")
    add_task(db, c, "2020-W12", "done")
    add_task(db, b, "2020-W12", "open", overdue=True)
    add_task(db, d, "2020-W12", "missed")
    db.session.add(Incident(site_id=a.id, confirmed_on=date(2020, 3, 18), cases=2, raised_until=date(2020, 4, 1)))
    db.session.add(Incident(site_id=c.id, confirmed_on=date(2020, 5, 9), cases=1, raised_until=date(2020, 5, 23)))
    for opened, status in ((datetime(2020, 3, 24, 10, tzinfo=KST), "open"),
                           (datetime(2020, 3, 9, 10, tzinfo=KST), "escalated"),
                           (datetime(2020, 3, 12, 10, tzinfo=KST), "cleared")):
        db.session.add(Action(site_id=a.id, item_key="density_minimized", opened_inspection_id=i1.id, status=status,
                              critical=True, opened_at=opened, due_at=opened + timedelta(days=3),
                              cleared_at=opened + timedelta(days=2) if status == "cleared" else None))
    db.session.commit()
    return dict(zip("abcd", loaded(a, b, c, d)))


def by_key(rows):
    return {r["key"]: r for r in rows}


def test_totals_for_the_period(app_ctx, history):
    s = summary.compute("2020-W11", "2020-W14")
    assert s["sites_total"] == 4
    assert s["inspections"] == 6
    assert s["compliant"] == 3                      # i2, i3, i6
    assert (s["yes"], s["no"], s["na"]) == (13, 6, 3)
    assert s["compliance_rate"] == 68.4             # 13 / (13 + 6) = 0.6842; n/a left out
    assert s["compliant_share"] == 50.0             # 3 / 6
    assert s["onsite_sites_inspected"] == 2         # on-site: i1 (A), i3 (C), i5 (C) → {A, C}
    # W11 and W12 have round tasks; W13's lone inspection i6 was not a scheduled round; W14 has nothing
    assert s["monitoring_rounds"] == 2
    assert s["confirmed_cases"] == 2                # A's 2 on 2020-03-18; C's case (2020-05-09) is after W14


def test_by_dong_band_and_mode(app_ctx, history):
    s = summary.compute("2020-W11", "2020-W14")
    dong = by_key(s["by_dong"])
    # 여의동 = A + B: i1, i2, i4, i6 → yes 2+2+2+2 = 8, no 1+1+1+1 = 4, na 1+1 = 2; compliant i2, i6
    assert (dong["여의동"]["inspections"], dong["여의동"]["compliant"], dong["여의동"]["yes"], dong["여의동"]["no"],
            dong["여의동"]["na"]) == (4, 2, 8, 4, 2)
    assert dong["여의동"]["compliance_rate"] == 66.7    # 8 / 12
    assert dong["여의동"]["sites"] == 2 and dong["여의동"]["onsite_sites_inspected"] == 1
    # 당산1동 = C: i3, i5 → yes 4+1 = 5, no 0+2 = 2 → 5/7 = 71.4
    assert dong["당산1동"]["compliance_rate"] == 71.4 and dong["당산1동"]["compliant"] == 1
    # 문래동 = D: missed both weeks, no inspection → no rate at all (not 0 %)
    assert dong["문래동"]["inspections"] == 0 and dong["문래동"]["compliance_rate"] is None
    assert dong["문래동"]["sites"] == 1
    band = by_key(s["by_band"])
    assert [r["key"] for r in s["by_band"]][:2] == ["50 이하", "51~100"]   # report order
    assert band["50 이하"]["compliance_rate"] == 66.7     # A: i1 + i4 → yes 4, no 2
    assert band["101~150"]["compliant"] == 2             # B: i2, i6
    assert band["701이상"]["compliance_rate"] == 71.4     # C
    assert band["51~100"]["inspections"] == 0            # D
    mode = s["by_mode"]
    # on-site i1, i3, i5: yes 2+4+1 = 7, no 1+0+2 = 3 → 70.0 %; compliant i3 only
    onsite = mode["onsite"]
    assert (onsite["inspections"], onsite["compliant"], onsite["compliance_rate"]) == (3, 1, 70.0)
    # phone i2, i4, i6: yes 6, no 3 → 66.7 %; compliant i2, i6
    assert (mode["phone"]["inspections"], mode["phone"]["compliant"], mode["phone"]["compliance_rate"]) == (3, 2, 66.7)


def test_by_item_most_failed_first(app_ctx, history):
    items = summary.compute("2020-W11", "2020-W14")["by_item"]
    order = [i["key"] for i in items]
    # hygiene: no 1 of 1 applying (the n/a is left out) = 100 % failed; density: 2 of 3 = 66.7 %;
    # callback_confirmed (phone-only) and ventilation: 1 of 2 = 50 % (ties by key); masks: 1 of 4 = 25 %
    assert order[:5] == ["hygiene_supplies", "density_minimized", "callback_confirmed", "ventilation",
                         "masks_mandatory"]
    it = by_key(items)
    assert (it["hygiene_supplies"]["yes"], it["hygiene_supplies"]["no"], it["hygiene_supplies"]["na"]) == (0, 1, 1)
    assert it["hygiene_supplies"]["compliance_rate"] == 0.0
    assert it["density_minimized"]["compliance_rate"] == 33.3      # 1 / 3
    assert it["callback_confirmed"]["label"] == "전화 확인 담당자 연결"
    assert it["flexible_work"]["compliance_rate"] is None          # only n/a
    assert it["officer_designated"]["yes"] == 6 and it["officer_designated"]["critical"] is True
    # the items add up to the inspections' stored counts
    assert sum(i["yes"] for i in items) == 13 and sum(i["no"] for i in items) == 6 and sum(i["na"] for i in items) == 3


def test_weeks_progress_and_action_ages(app_ctx, history):
    s = summary.compute("2020-W11", "2020-W14")
    weeks = {w["week"]: w for w in s["weeks"]}
    assert list(weeks) == ["2020-W11", "2020-W12", "2020-W13", "2020-W14"]
    assert (weeks["2020-W11"]["inspections"], weeks["2020-W11"]["compliance_rate"]) == (3, 80.0)   # 8 / 10
    assert (weeks["2020-W12"]["inspections"], weeks["2020-W12"]["compliance_rate"]) == (2, 50.0)   # 3 / 6
    assert weeks["2020-W12"]["round"] is True
    assert weeks["2020-W13"]["round"] is False and weeks["2020-W14"]["round"] is False
    assert weeks["2020-W14"]["compliance_rate"] is None
    # progress is the last week's: W14 has no tasks
    assert s["progress"]["tasks"] == 0
    p = summary.compute("2020-W11", "2020-W12")["progress"]
    assert (p["tasks"], p["done"], p["open"], p["overdue"], p["missed"]) == (4, 2, 1, 1, 1)
    p = summary.compute("2020-W11")["progress"]          # to defaults to from
    assert (p["done"], p["missed"]) == (3, 1)
    ages = {a["from"]: a["count"] for a in s["action_ages"]}
    assert ages == {0: 1, 8: 0, 15: 1, 31: 0}            # 1 day open, 16 days escalated; the cleared one is out


def test_dong_filter(app_ctx, history):
    s = summary.compute("2020-W11", "2020-W14", "여의 동")   # an accepted spelling
    assert s["dong"] == "여의동"
    assert (s["sites_total"], s["inspections"], s["compliance_rate"]) == (2, 4, 66.7)
    assert s["onsite_sites_inspected"] == 1 and s["monitoring_rounds"] == 2 and s["confirmed_cases"] == 2
    s = summary.compute("2020-W11", "2020-W14", "문래동")
    # D's tasks make W11 and W12 monitoring weeks even though it was never inspected
    assert (s["inspections"], s["monitoring_rounds"], s["compliance_rate"]) == (0, 2, None)


def test_default_period_is_this_week(app_ctx, history):
    s = summary.compute()
    assert (s["from"], s["to"]) == ("2020-W13", "2020-W13")
    assert s["inspections"] == 1
    s = summary.compute("2020-W11", "2020-W24")
    assert s["confirmed_cases"] == 3                      # both incidents


@pytest.mark.parametrize("args,param", [(("2020-W99", None, None), "from"), (("2020-11", None, None), "from"),
                                        (("2020-W12", "2020-W11", None), "to"), ((None, "bad", None), "to"),
                                        (("2020-W11", "2020-W12", "강남동"), "dong"),
                                        (("2010-W01", "2020-W01", None), "to")])
def test_bad_parameters_name_the_parameter(app_ctx, args, param):
    with pytest.raises(summary.ServiceError) as exc:
        summary.compute(*args)
    assert param in exc.value.errors


def test_rollup_matches_a_rebuild_from_the_raw_tables(app_ctx, history, db):
    def snapshot():
        return sorted(tuple(r) for r in db.session.execute(select(
            SummaryWeek.week, SummaryWeek.dong, SummaryWeek.size_band, SummaryWeek.mode, SummaryWeek.item_key,
            SummaryWeek.inspections, SummaryWeek.compliant, SummaryWeek.yes, SummaryWeek.no, SummaryWeek.na)))
    kept = snapshot()
    assert kept, "the after_flush hook filled the rollup"
    rollup.rebuild()
    db.session.commit()
    assert snapshot() == kept


def test_a_rolled_back_submit_leaves_the_rollup_alone(app_ctx, history, db, site_factory):
    before = summary.compute("2020-W11", "2020-W14")["inspections"]
    tpl = checklist.current()
    add_inspection(db, tpl, history["a"], "2020-W13", "onsite", {"officer_designated": "yes"})
    db.session.rollback()
    assert summary.compute("2020-W11", "2020-W14")["inspections"] == before


class _Figures(HTMLParser):
    """Collects the text of every element with data-figure, keyed by (data-group, data-key, data-figure) of the
    nearest enclosing elements that carry them (None for a headline figure outside any group)."""

    def __init__(self):
        super().__init__()
        self.stack = []      # (tag, attrs) of open elements
        self.open = []       # [tag, depth, key, text parts] of figures being read
        self.found = {}

    def handle_starttag(self, tag, attrs):
        if tag in ("br", "img", "input", "meta", "link", "hr", "rect", "line", "circle", "polyline"):
            return   # void or self-closed here: never holds a figure's text
        a = dict(attrs)
        self.stack.append((tag, a))
        for f in self.open:
            f[1] += f[0] == tag
        if "data-figure" in a:
            group = next((x["data-group"] for _t, x in reversed(self.stack) if "data-group" in x), None)
            key = next((x["data-key"] for _t, x in reversed(self.stack) if "data-key" in x), None)
            self.open.append([tag, 1, (group, key, a["data-figure"]), []])

    def handle_endtag(self, tag):
        if self.stack and self.stack[-1][0] == tag:
            self.stack.pop()
        for f in list(self.open):
            if f[0] == tag:
                f[1] -= 1
                if f[1] == 0:
                    self.open.remove(f)
                    assert f[2] not in self.found, f"figure {f[2]} twice on the page"
                    self.found[f[2]] = "".join(f[3]).strip()

    def handle_data(self, data):
        for f in self.open:
            f[3].append(data)


def page_figures(html: str) -> dict:
    """{(group, key, figure): the number shown (int, float or None for a dash)}; text figures stay text."""
    p = _Figures()
    p.feed(html)
    out = {}
    for k, text in p.found.items():
        m = re.match(r"-?[\d,]+(?:\.\d+)?", text)
        if text.startswith("–"):
            out[k] = None
        elif m:
            v = m.group(0).replace(",", "")
            out[k] = float(v) if "." in v else int(v)
        else:
            out[k] = text
    return out


def xlsx_rows(data: bytes, sheet=0) -> list[dict]:
    """The rows of a sheet of an XLSX download, as dicts keyed by the header row."""
    wb = load_workbook(io.BytesIO(data))
    ws = wb.worksheets[sheet] if isinstance(sheet, int) else wb[sheet]
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    return [dict(zip(rows[0], r)) for r in rows[1:]]


def tally(rows, key) -> dict:
    """Inspection figures of export rows grouped by a column: what the summary must say about each group."""
    acc = defaultdict(lambda: {"inspections": 0, "compliant": 0, "yes": 0, "no": 0, "na": 0})
    for r in rows:
        a = acc[r[key] if key else ""]
        a["inspections"] += 1
        a["compliant"] += r["적합 여부"] == "적합"
        a["yes"] += r["예"]
        a["no"] += r["아니오"]
        a["na"] += r["해당없음"]
    for a in acc.values():
        a["compliance_rate"] = summary.rate(a["yes"], a["no"])
    return dict(acc)


HEADLINE = ("sites_total", "inspections", "compliance_rate", "compliant_share", "onsite_sites_inspected",
            "monitoring_rounds", "confirmed_cases")
GROUP_FIGURES = {"by_dong": ("sites", "onsite_sites_inspected", "inspections", "compliant", "compliance_rate"),
                 "by_band": ("sites", "onsite_sites_inspected", "inspections", "compliant", "compliance_rate"),
                 "by_mode": ("inspections", "compliant", "compliance_rate"),
                 "by_item": ("yes", "no", "na", "compliance_rate"),
                 "lowest_sites": ("dong", "inspections", "compliance_rate"),
                 "weeks": ("inspections", "compliant", "compliance_rate")}


def api_rows(api: dict, group: str) -> dict:
    """{row key as the page writes it: row} of one of the API's groups."""
    if group == "by_mode":
        return api["by_mode"]
    if group == "lowest_sites":
        return {str(r["site_id"]): r for r in api[group]}
    if group == "weeks":
        return {r["week"]: r for r in api[group]}
    return {r["key"]: r for r in api[group]}


@pytest.mark.parametrize("dong", ["", "여의동"])
def test_page_api_and_xlsx_agree(app, history, client, login, dong):
    """Every figure the dashboard shows is the API's, and the exports, added up by hand, give the same figures."""
    login("lead")
    q = f"from=2020-W11&to=2020-W14&dong={dong}"
    api = client.get(f"/api/v1/summary?{q}").get_json()
    with app.app_context():
        direct = summary.compute("2020-W11", "2020-W14", dong or None)
    for k in HEADLINE + tuple(GROUP_FIGURES) + ("compliant", "yes", "no", "na"):
        assert api[k] == direct[k], k

    # the page: every data-figure, read back from what it shows
    fig = page_figures(client.get(f"/dashboard?{q}").get_data(as_text=True))
    assert {k[2] for k in fig if k[0] is None} == set(HEADLINE)
    for name in HEADLINE:
        assert fig[(None, None, name)] == api[name], name
    for group, names in GROUP_FIGURES.items():
        shown = {k[1] for k in fig if k[0] == group}
        assert shown == set(api_rows(api, group)), group          # no row missing, none extra
        for key, row in api_rows(api, group).items():
            for name in names:
                assert fig[(group, key, name)] == row[name], (group, key, name)

    # the inspections export: one row per inspection; grouped by hand it gives the summary's figures
    rows = xlsx_rows(client.get(f"/dashboard/export/inspections.xlsx?{q}&reason=보고").data)
    assert len(rows) == api["inspections"]
    total = tally(rows, None)[""]
    for name in ("inspections", "compliant", "yes", "no", "na", "compliance_rate"):
        assert total[name] == api[name], name
    assert round(100 * total["compliant"] / total["inspections"], 1) == api["compliant_share"]
    assert len({r["사업자등록번호"] for r in rows if r["점검 방식"] == "현장점검"}) == api["onsite_sites_inspected"]
    for group, column in (("by_dong", "행정동"), ("by_band", "규모"), ("by_mode", "점검 방식")):
        got = tally(rows, column)
        mode_ko = {"onsite": "현장점검", "phone": "전화 모니터링"}
        for key, row in api_rows(api, group).items():
            mine = got.get(mode_ko.get(key, key) if group == "by_mode" else key)
            if not row["inspections"]:
                assert mine is None, (group, key)
                continue
            for name in ("inspections", "compliant", "yes", "no", "na", "compliance_rate"):
                assert mine[name] == row[name], (group, key, name)
    by_label = {r["label"]: r for r in api["by_item"]}
    answered = set()
    for label in list(rows[0])[13:]:               # the item columns, after the fixed ones
        values = [r[label] for r in rows]
        counts = {v: values.count(ko) for v, ko in (("yes", "예"), ("no", "아니오"), ("na", "해당없음"))}
        if sum(counts.values()):
            answered.add(label)
            assert {k: by_label[label][k] for k in counts} == counts, label
    assert answered == set(by_label)
    per_site = {}
    for r in rows:
        y, n = per_site.get(r["사업장명"], (0, 0))
        per_site[r["사업장명"]] = (y + r["예"], n + r["아니오"])
    assert [r["compliance_rate"] for r in api["lowest_sites"]] == sorted(summary.rate(*v) for v in per_site.values())

    # the council workbook: the register's counts, on-site sites by dong and band, rounds and cases
    council = "/reports/council.xlsx?from=2020-W11&to=2020-W14"
    res = xlsx_rows(client.get(council).data, "점검 실적")[0]
    if not dong:
        assert res["관내 콜센터(개소)"] == api["sites_total"]
        assert res["현장점검(개소)"] == api["onsite_sites_inspected"]
        assert res["모니터링(회)"] == api["monitoring_rounds"] and res["점검 건수"] == api["inspections"]
        assert res["준수율(%)"] == api["compliance_rate"] and res["확진자(명)"] == api["confirmed_cases"]
        for group, sheet in (("by_dong", "동별 현황"), ("by_band", "직원수별 현황")):
            sites, onsite = xlsx_rows(client.get(council).data, sheet)
            for key, row in api_rows(api, group).items():
                if row["sites"]:
                    assert (sites[key], onsite[key]) == (row["sites"], row["onsite_sites_inspected"]), key
            assert sites["계"] == api["sites_total"] and onsite["계"] == api["onsite_sites_inspected"]
    page = client.get("/reports/council?from=2020-W11&to=2020-W14").get_data(as_text=True)
    assert "현장점검: 2개소" in page and "모니터링: 2회" in page and "확진자 발생: 2명" in page


def test_lowest_sites_hand_checked(app_ctx, history):
    """A site's rate pools its own inspections: A i1+i4 = 4/6, B i2+i6 = 4/6, C i3+i5 = 5/7; D has none."""
    rows = summary.compute("2020-W11", "2020-W14")["lowest_sites"]
    assert [(r["name"], r["compliance_rate"], r["inspections"], r["dong"], r["yes"], r["no"]) for r in rows] == [
        ("A센터", 66.7, 2, "여의동", 4, 2),      # tied with B on rate and on "no": the older site first
        ("B센터", 66.7, 2, "여의동", 4, 2),
        ("C센터", 71.4, 2, "당산1동", 5, 2)]
    # W12 alone: C's i5 is 1/3, A's i4 is 2/3; B's only W12 check was never done
    assert [(r["name"], r["compliance_rate"]) for r in summary.compute("2020-W12")["lowest_sites"]] == [
        ("C센터", 33.3), ("A센터", 66.7)]
    assert [r["name"] for r in summary.compute("2020-W11", "2020-W14", "당산1동")["lowest_sites"]] == ["C센터"]


def test_lowest_sites_look_at_the_periods_last_four_weeks(app_ctx, history, db):
    """Over W11..W16 the ranking reads W13..W16 only (the page and the API say so): the W11 and W12 checks drop
    out, and B's W13 call (2 yes, 1 no) is all that is left."""
    s = summary.compute("2020-W11", "2020-W16")
    assert s["lowest_sites_from"] == "2020-W13"
    assert [(r["name"], r["compliance_rate"], r["inspections"]) for r in s["lowest_sites"]] == [("B센터", 66.7, 1)]
    assert s["inspections"] == 6  # the rest of the figures still cover the whole period
    assert summary.compute("2020-W11", "2020-W14")["lowest_sites_from"] == "2020-W11"


def test_group_rates_pool_answers_not_site_means(app_ctx, history, db, site_factory):
    """여의동 pools A, B and a new E: (8 + 10) / (12 + 10) = 81.8 %, not the mean of 66.7, 66.7 and 100 (77.8)."""
    e = site_factory(name="E센터", dong="여의동", headcount=40)
    tpl = checklist.current()
    keys = ["officer_designated", "response_manual", "fixed_seating", "masks_mandatory", "disinfection",
            "ventilation", "temperature_checks", "symptomatic_sent_home", "personal_headsets", "case_reporting"]
    add_inspection(db, tpl, e, "2020-W13", "phone", {k: "yes" for k in keys})
    db.session.commit()
    s = summary.compute("2020-W11", "2020-W14")
    assert by_key(s["by_dong"])["여의동"]["compliance_rate"] == 81.8
    assert {r["name"]: r["compliance_rate"] for r in s["lowest_sites"]}["E센터"] == 100.0
    assert [r["name"] for r in s["lowest_sites"]][-1] == "E센터"


def test_lowest_sites_keeps_ten_and_leaves_out_all_na(app_ctx, history, db, site_factory):
    tpl = checklist.current()
    for n in range(11):
        site = site_factory(name=f"하위{n:02d}", dong="문래동")
        add_inspection(db, tpl, site, "2020-W13", "phone", {"officer_designated": "yes", "masks_mandatory": "no"})
    only_na = site_factory(name="해당없음센터", dong="문래동")
    add_inspection(db, tpl, only_na, "2020-W13", "phone", {"flexible_work": "na"})
    db.session.commit()
    rows = summary.compute("2020-W11", "2020-W14")["lowest_sites"]
    assert len(rows) == summary.LOWEST_SITES
    assert [r["name"] for r in rows] == [f"하위{n:02d}" for n in range(10)]      # 50 % each, then oldest first
    assert all(r["compliance_rate"] == 50.0 for r in rows)
    assert "해당없음센터" not in {r["name"] for r in summary.compute("2020-W13", "2020-W13", "문래동")["lowest_sites"]}


@pytest.mark.parametrize("first,last", [("0001-W01", "0001-W02"), ("9999-W52", None), ("0999-W50", "0999-W52")])
def test_weeks_at_the_ends_of_the_calendar_are_refused_or_counted_not_a_crash(app_ctx, first, last):
    """Found by fuzzing the API: a week label of year 1 came back as '1-W02', and one of 9999 ran past the end of
    the calendar."""
    try:
        s = summary.compute(first, last)
    except summary.ServiceError as exc:
        assert "from" in exc.errors or "to" in exc.errors
    else:
        assert [w["week"] for w in s["weeks"]] == ["0999-W50", "0999-W51", "0999-W52"]


def test_the_coverage_figures_come_with_coverage_only(app, client, history, login):
    """sites_inspected / sites_active (the e-mail's "inspected, out of active") read every site of the register:
    the dashboard does not pay for them, the API gives them when asked."""
    with app.app_context():
        plain = summary.compute("2020-W11", "2020-W14")
        assert "sites_inspected" not in plain and "sites_active" not in plain
        full = summary.compute("2020-W11", "2020-W14", coverage=True)
        assert (full["sites_inspected"], full["sites_active"]) == (3, 4)  # A, B, C inspected; D only tasked
    login("lead")
    api = client.get("/api/v1/summary?from=2020-W11&to=2020-W14&coverage=1").get_json()
    assert (api["sites_inspected"], api["sites_active"]) == (3, 4)
    assert "sites_inspected" not in client.get("/api/v1/summary?from=2020-W11&to=2020-W14").get_json()


def test_the_rollup_that_submits_keep_equals_a_rebuild_even_after_sites_move(clock_at, app, app_ctx, db, site_factory,
                                                                             make_user):
    """Real submits (Core inserts and rollup.add, not the ORM hook), then a site edited into another dong and band,
    then new band edges: after each step the kept rollup is exactly what a rebuild from the raw rows gives, so the
    dashboard, the API and the exports (which join the site as it is now) agree."""
    from tests.test_inspections import all_answers
    from tracker.services import inspections
    from tracker.services import sites as site_service

    def kept():
        db.session.flush()
        return sorted((r.week, r.dong, r.size_band, r.mode, r.item_key, r.inspections, r.compliant, r.yes, r.no,
                       r.na) for r in db.session.scalars(select(SummaryWeek)) if r.inspections)

    def rebuilt():
        before = kept()
        rollup.rebuild()
        after = kept()
        assert before == after
        return after

    tpl = checklist.ensure_default()
    inspector = make_user("inspector")
    a = site_factory(name="가센터", dong="여의동", headcount=30)
    b = site_factory(name="나센터", dong="당산1동", headcount=120)
    for week_day, site, mode, override in (("2020-03-10T10:00", a, "onsite", {"ventilation": "no"}),
                                           ("2020-03-11T10:00", b, "phone", {"masks_mandatory": "no"}),
                                           ("2020-03-17T10:00", a, "phone", {"flexible_work": "na"}),
                                           ("2020-03-18T10:00", b, "onsite", {})):
        clock_at(datetime.fromisoformat(week_day).replace(tzinfo=KST))
        data = {"site_id": site.id, "mode": mode, "client_uuid": str(uuid.uuid4()), "contact_name": "김담당",
                "answers": all_answers(tpl, mode, **override)}
        inspections.submit(data, by=inspector)
        db.session.commit()
    first = rebuilt()
    assert {r[1] for r in first} == {"여의동", "당산1동"}
    # 가센터 moves to 문래동 and grows into another band
    site_service.update_site(a, {**a.snapshot(), "dong": "문래동", "headcount": 420})
    db.session.commit()
    moved = rebuilt()
    assert "여의동" not in {r[1] for r in moved}
    assert {r[2] for r in moved if r[1] == "문래동" and r[4] == ""} == {"401~700"}
    assert summary.compute("2020-W11", "2020-W12", "문래동")["inspections"] == 2
    # the district changes its bands
    app.config["TRACKER_BAND_EDGES"] = [100, 300]
    app.extensions.pop("tracker_district")
    assert site_service.refresh_bands() == 2
    db.session.commit()
    assert {r[2] for r in rebuilt() if r[4] == ""} == {"301이상", "101~300"}
