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
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from tracker import clock
from tracker.models import Action, Answer, Incident, Inspection, SummaryWeek, Task
from tracker.services import checklist, summary

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
def history(db, site_factory):
    clock.set_now(NOW)
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
    return {"a": a, "b": b, "c": c, "d": d}


def by_key(rows):
    return {r["key"]: r for r in rows}


def test_totals_for_the_period(history):
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


def test_by_dong_band_and_mode(history):
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
    assert (mode["onsite"]["inspections"], mode["onsite"]["compliant"], mode["onsite"]["compliance_rate"]) == (3, 1, 70.0)
    # phone i2, i4, i6: yes 6, no 3 → 66.7 %; compliant i2, i6
    assert (mode["phone"]["inspections"], mode["phone"]["compliant"], mode["phone"]["compliance_rate"]) == (3, 2, 66.7)


def test_by_item_most_failed_first(history):
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


def test_weeks_progress_and_action_ages(history):
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


def test_dong_filter(history):
    s = summary.compute("2020-W11", "2020-W14", "여의 동")   # an accepted spelling
    assert s["dong"] == "여의동"
    assert (s["sites_total"], s["inspections"], s["compliance_rate"]) == (2, 4, 66.7)
    assert s["onsite_sites_inspected"] == 1 and s["monitoring_rounds"] == 2 and s["confirmed_cases"] == 2
    s = summary.compute("2020-W11", "2020-W14", "문래동")
    # D's tasks make W11 and W12 monitoring weeks even though it was never inspected
    assert (s["inspections"], s["monitoring_rounds"], s["compliance_rate"]) == (0, 2, None)


def test_default_period_is_this_week(history):
    s = summary.compute()
    assert (s["from"], s["to"]) == ("2020-W13", "2020-W13")
    assert s["inspections"] == 1
    s = summary.compute("2020-W11", "2020-W24")
    assert s["confirmed_cases"] == 3                      # both incidents


@pytest.mark.parametrize("args,param", [(("2020-W99", None, None), "from"), (("2020-11", None, None), "from"),
                                        (("2020-W12", "2020-W11", None), "to"), ((None, "bad", None), "to"),
                                        (("2020-W11", "2020-W12", "강남동"), "dong"),
                                        (("2010-W01", "2020-W01", None), "to")])
def test_bad_parameters_name_the_parameter(app, args, param):
    with pytest.raises(summary.ServiceError) as exc:
        summary.compute(*args)
    assert param in exc.value.errors


def test_rollup_matches_a_rebuild_from_the_raw_tables(history, db):
    def snapshot():
        return sorted(tuple(r) for r in db.session.execute(select(
            SummaryWeek.week, SummaryWeek.dong, SummaryWeek.size_band, SummaryWeek.mode, SummaryWeek.item_key,
            SummaryWeek.inspections, SummaryWeek.compliant, SummaryWeek.yes, SummaryWeek.no, SummaryWeek.na)))
    kept = snapshot()
    assert kept, "the after_flush hook filled the rollup"
    summary.rebuild_rollup()
    db.session.commit()
    assert snapshot() == kept


def test_a_rolled_back_submit_leaves_the_rollup_alone(history, db, site_factory):
    before = summary.compute("2020-W11", "2020-W14")["inspections"]
    tpl = checklist.current()
    add_inspection(db, tpl, history["a"], "2020-W13", "onsite", {"officer_designated": "yes"})
    db.session.rollback()
    assert summary.compute("2020-W11", "2020-W14")["inspections"] == before


def test_page_api_and_xlsx_agree(history, client, login):
    login("lead")
    api = client.get("/api/v1/summary?from=2020-W11&to=2020-W14").get_json()
    direct = summary.compute("2020-W11", "2020-W14")
    for k in ("sites_total", "onsite_sites_inspected", "monitoring_rounds", "inspections", "compliance_rate",
              "confirmed_cases", "by_dong", "by_band", "by_item", "by_mode", "weeks"):
        assert api[k] == direct[k], k
    page = client.get("/dashboard?from=2020-W11&to=2020-W14").get_data(as_text=True)
    assert "68.4%" in page and "50.0%" in page         # compliance rate and compliant share
    assert "66.7%" in page and "71.4%" in page         # by dong
    council = client.get("/reports/council?from=2020-W11&to=2020-W14").get_data(as_text=True)
    assert "현장점검: 2개소" in council and "모니터링: 2회" in council and "확진자 발생: 2명" in council
    wb = load_workbook(io.BytesIO(client.get("/reports/council.xlsx?from=2020-W11&to=2020-W14").data))
    res = [list(r) for r in wb["점검 실적"].iter_rows(values_only=True)]
    assert res[1][1:] == [4, api["onsite_sites_inspected"], api["monitoring_rounds"], api["inspections"],
                          api["compliance_rate"], api["confirmed_cases"]]
    by_dong = [list(r) for r in wb["동별 현황"].iter_rows(values_only=True)]
    assert by_dong[0] == ["구분", "여의동", "당산1동", "문래동", "계"] and by_dong[1] == ["사업장 수", 2, 1, 1, 4]
    assert by_dong[2] == ["현장점검 사업장", 1, 1, 0, 2]
