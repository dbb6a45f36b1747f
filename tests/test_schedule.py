"""The weekly schedule on a clock the tests control: a site's whole life, an incident, and the CLI wrappers."""
import re
import uuid
from datetime import date, datetime
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from conftest import app_context, loaded
from tracker import clock
from tracker.models import Action, DongAssignment, Incident, Site, Task
from tracker.services import ServiceError, checklist, inspections, schedule

KST = clock.ZoneInfo("Asia/Seoul")

# A login that outlives the days these tests move the clock through (an idle end is not what they test).
LONG_LOGIN = 60 * 24 * 30


def at(text):
    """A local (Seoul) time."""
    return datetime.fromisoformat(text).replace(tzinfo=KST)


@pytest.fixture
def submit(clock_at):
    """submit(site, mode, when, inspector, no=(), na=()): an inspection through the real service, at a pinned time."""
    def submit_at(site, mode, when, inspector, no=(), na=()):
        clock_at(when)
        tpl = checklist.current()
        answers = {i.key: {"value": "no" if i.key in no else "na" if i.key in na else "yes", "note": ""}
                   for i in tpl.items if i.applies_to(mode)}
        data = {"site_id": site.id, "mode": mode, "client_uuid": str(uuid.uuid4()), "answers": answers}
        if mode == "phone":
            data["contact_name"] = "담당자"
        else:
            data["qr_token"] = site.qr_token
        insp, created = inspections.submit(data, by=inspector)
        assert created
        return insp
    return submit_at


def tasks(db, **where):
    db.session.expire_all()
    stmt = select(Task)
    for k, v in where.items():
        stmt = stmt.where(getattr(Task, k) == v)
    return db.session.scalars(stmt.order_by(Task.week, Task.kind, Task.slot)).all()


@pytest.fixture
def setup(app, db, make_user, site_factory):
    with app_context(app):
        checklist.ensure_default()
        inspector = make_user("inspector", name="이점검")
        other = make_user("inspector", name="박점검")
        db.session.add(DongAssignment(dong="여의동", inspector_id=inspector.id))
        site = site_factory(dong="여의동", headcount=40)
        db.session.commit()
        return dict(zip(("inspector", "other", "site"), loaded(inspector, other, site)))


def test_a_site_through_its_whole_life(submit, clock_at, app_ctx, db, setup):
    site, insp = setup["site"], setup["inspector"]
    # Monday 00:05 of 2020-W11: the round is made, assigned by dong, due Friday 18:00 Seoul time.
    clock_at(at("2020-03-09T00:05"))
    assert schedule.schedule_week() == 1
    assert schedule.schedule_week() == 0  # a second run makes nothing more
    (task,) = tasks(db, kind="weekly_monitoring")
    assert (task.week, task.assignee_id, task.status, task.required_mode) == ("2020-W11", insp.id, "open", "any")
    assert clock.local(task.due_at) == at("2020-03-13T18:00")
    # Friday 18:00 has passed: overdue, not yet missed.
    assert schedule.mark_overdue(at("2020-03-13T19:00"))["overdue"] == 1
    assert tasks(db)[0].overdue and tasks(db)[0].status == "open"
    # Saturday: the inspector calls. The round is done; a critical "no" opens an action and a reinspection.
    first = submit(site, "phone", at("2020-03-14T10:00"), insp, no=("masks_mandatory",))
    assert not first.compliant
    (task,) = tasks(db, kind="weekly_monitoring")
    assert task.status == "done" and task.done_inspection_id == first.id
    (action,) = db.session.scalars(select(Action)).all()
    assert (action.item_key, action.status, action.critical) == ("masks_mandatory", "open", True)
    assert clock.local(action.due_at) == at("2020-03-17T10:00")  # critical: 3 days
    (reinsp,) = tasks(db, kind="reinspection")
    assert reinsp.status == "open" and reinsp.required_mode == "any" and reinsp.week == "2020-W12"
    # Another "no" on the same item does not open a second action.
    submit(site, "phone", at("2020-03-14T11:00"), insp, no=("masks_mandatory",))
    assert db.session.scalar(select(func.count()).select_from(Action)) == 1
    # Past its due date the action is escalated.
    assert schedule.mark_overdue(at("2020-03-18T09:00"))["escalated"] == 1
    # The next round; the reinspection answers "yes": the action is cleared and the tasks close.
    clock_at(at("2020-03-16T00:05"))
    schedule.schedule_week()
    fix = submit(site, "phone", at("2020-03-18T10:00"), insp)
    db.session.expire_all()
    action = db.session.get(Action, action.id)
    assert (action.status, action.cleared_inspection_id) == ("cleared", fix.id)
    assert {t.kind: t.status for t in tasks(db, week="2020-W12")} == {"weekly_monitoring": "done",
                                                                     "reinspection": "done"}
    # A week with no inspection at all ends missed.
    clock_at(at("2020-03-23T00:05"))
    schedule.schedule_week()
    assert schedule.mark_overdue(at("2020-03-30T00:30"))["missed"] == 1
    assert tasks(db, week="2020-W13")[0].status == "missed"
    db.session.commit()


def test_an_onsite_only_failure_needs_an_onsite_reinspection(submit, clock_at, app_ctx, db, setup):
    site, insp = setup["site"], setup["inspector"]
    clock_at(at("2020-03-09T00:05"))
    schedule.schedule_week()
    submit(site, "onsite", at("2020-03-10T10:00"), insp, no=("partitions_installed",), na=("flexible_work",))
    (reinsp,) = tasks(db, kind="reinspection")
    assert reinsp.required_mode == "onsite"
    submit(site, "phone", at("2020-03-11T10:00"), insp)  # a call cannot check the partitions
    assert tasks(db, kind="reinspection")[0].status == "open"
    assert db.session.scalar(select(Action.status)) == "open"
    submit(site, "onsite", at("2020-03-12T10:00"), insp)
    assert tasks(db, kind="reinspection")[0].status == "done"
    assert db.session.scalar(select(Action.status)) == "cleared"


def test_closed_sites_get_no_tasks(clock_at, app_ctx, db, setup, site_factory):
    from tracker.services import sites
    closed = site_factory(dong="문래동")
    sites.set_status(closed, "closed")
    clock_at(at("2020-03-09T00:05"))
    schedule.schedule_week()
    assert [t.site_id for t in tasks(db)] == [setup["site"].id]
    # A site closed mid-week: its open round is cancelled, so it never turns overdue or missed.
    sites.set_status(setup["site"], "closed")
    schedule.mark_overdue(at("2020-03-16T00:30"))
    db.session.commit()
    assert [t.status for t in tasks(db)] == ["cancelled"]


def test_an_incident_raises_monitoring_for_its_period_then_ends(submit, clock_at, app_ctx, db, setup, app):
    site, insp = setup["site"], setup["inspector"]
    clock_at(at("2020-05-04T00:05"))
    schedule.schedule_week()  # 2020-W19
    # Saturday 2020-05-09: a confirmed case. An on-site task is due the next working day, Monday.
    clock_at(at("2020-05-09T11:00"))
    inc = schedule.record_incident(site, date(2020, 5, 9), 1, "동작구 거주 직원")
    assert inc.raised_until == date(2020, 5, 23)
    (resp,) = tasks(db, kind="incident_response")
    assert resp.required_mode == "onsite" and clock.local(resp.due_at).date() == date(2020, 5, 11)
    # Too late in W19 for a second check: that week keeps one round task.
    assert len(tasks(db, week="2020-W19", kind="weekly_monitoring")) == 1
    # W20 and W21 are raised: two checks a week, the first on site; the risk is high while the case is recent.
    for week, monday in (("2020-W20", "2020-05-11"), ("2020-W21", "2020-05-18")):
        clock_at(at(f"{monday}T00:05"))
        schedule.schedule_week()
        rounds = tasks(db, week=week, kind="weekly_monitoring")
        assert [(t.slot, t.required_mode) for t in rounds] == [(0, "onsite"), (1, "any")]
        assert clock.local(rounds[0].due_at).isoweekday() == 2  # early in the week
    # An on-site visit on Monday closes the incident task and the first raised check; a call closes the second.
    submit(site, "onsite", at("2020-05-11T10:00"), insp)
    assert tasks(db, kind="incident_response")[0].status == "done"
    submit(site, "phone", at("2020-05-13T10:00"), insp)
    assert {t.slot: t.status for t in tasks(db, week="2020-W20", kind="weekly_monitoring")} == {0: "done", 1: "done"}
    # After the period: back to once a week (the risk of a recent case still asks for a visit until it ages).
    clock_at(at("2020-05-25T00:05"))
    schedule.schedule_week()
    assert len(tasks(db, week="2020-W22", kind="weekly_monitoring")) == 1
    clock_at(at("2020-06-15T00:05"))
    schedule.schedule_week()
    (late,) = tasks(db, week="2020-W25", kind="weekly_monitoring")
    assert late.required_mode == "any"
    page_risk = schedule.risk_scores([site.id])[site.id]
    assert page_risk["level"] == "low"


def test_risk_rule_is_what_the_site_page_shows(clock_at, app, db, setup, client, login, site_factory):
    with app.app_context():
        big = site_factory(dong="여의동", headcount=800)  # large site: +2
        clock_at(at("2020-05-09T11:00"))
        schedule.record_incident(big, date(2020, 5, 9), 2)  # recent case: +3
        db.session.commit()
        risk = schedule.risk_scores([big.id])[big.id]
        assert risk == {"score": 5, "level": "high", "parts": {"large_site": 2, "recent_incident": 3}}
        rule = schedule.risk_rule()
    login("lead")
    page = client.get(f"/sites/{big.id}").get_data(as_text=True)
    assert "위험도 계산 규칙" in page and "높음" in page
    for line in rule:
        assert line in page
    # High risk: the week's round asks for an on-site visit instead of a call.
    clock_at(at("2020-05-11T00:05"))
    with app.app_context():
        schedule.schedule_week()
        assert tasks(db, site_id=big.id, week="2020-W20", kind="weekly_monitoring")[0].required_mode == "onsite"


def test_incident_input_is_checked(clock_at, app_ctx, db, setup):
    clock_at(at("2020-05-09T11:00"))
    with pytest.raises(ServiceError):
        schedule.record_incident(setup["site"], date(2020, 5, 9), 0)
    with pytest.raises(ServiceError):
        schedule.record_incident(setup["site"], date(2020, 5, 10), 1)
    assert db.session.scalar(select(func.count()).select_from(Incident)) == 0


def test_lead_reassigns_dongs_and_tasks(clock_at, app, db, setup, client, login):
    from tests.conftest import csrf_from
    _site, other = setup["site"], setup["other"]
    clock_at(at("2020-03-09T00:05"))
    with app.app_context():
        schedule.schedule_week()
        db.session.commit()
    login("lead")
    page = client.get("/schedule/assignments").get_data(as_text=True)
    resp = client.post("/schedule/assignments", data={"csrf_token": csrf_from(page), "dong-여의동": str(other.id)})
    assert resp.status_code == 302
    from tracker.models import Audit
    trail = lambda: db.session.scalars(select(Audit).where(Audit.entity == "assignment")).all()  # noqa: E731
    with app.app_context():
        assert tasks(db)[0].assignee_id == other.id  # the open task moved with the dong
        assert [(a.before, a.after) for a in trail()] == [
            ({"dong": "여의동", "inspector_id": setup["inspector"].id}, {"dong": "여의동", "inspector_id": other.id})]
    client.post("/schedule/assignments", data={"csrf_token": csrf_from(page), "dong-여의동": str(other.id)})
    with app.app_context():
        assert len(trail()) == 1  # saving the page unchanged writes nothing
        task_id = tasks(db)[0].id
    resp = client.post(f"/tasks/{task_id}/assignee", data={"csrf_token": csrf_from(page),
                                                          "inspector_id": str(setup["inspector"].id)})
    assert resp.status_code == 302
    with app.app_context():
        assert tasks(db)[0].assignee_id == setup["inspector"].id


def test_week_page_groups_late_sites_and_workload(submit, clock_at, app, db, setup, client, login, site_factory):
    with app.app_context():
        site_factory(dong="여의동", name="늦은센터")
        clock_at(at("2020-03-09T00:05"))
        schedule.schedule_week()
        submit(setup["site"], "phone", at("2020-03-10T10:00"), setup["inspector"])
        schedule.mark_overdue(at("2020-03-14T09:00"))
        db.session.commit()
        view = schedule.week_view("2020-W11")
        assert [t.site.name for t in view["late"]] == ["늦은센터"]
        assert view["workload"] == [{"id": setup["inspector"].id, "name": "이점검", "open": 1, "done": 1,
                                     "missed": 0, "overdue": 1}]
    login("lead")
    page = client.get("/schedule?week=2020-W11").get_data(as_text=True)
    assert "늦은센터" in page and "이점검" in page


def test_actions_list_filters_and_api(submit, clock_at, app, db, setup, client, login, site_factory):
    with app.app_context():
        clock_at(at("2020-03-09T00:05"))
        schedule.schedule_week()
        submit(setup["site"], "onsite", at("2020-03-10T10:00"), setup["inspector"],
               no=("ventilation", "masks_mandatory"))
        clock_at(at("2020-03-30T10:00"))
        db.session.commit()
        assert len(db.session.scalars(schedule.actions_stmt(status="open", item="ventilation")).all()) == 1
        assert len(db.session.scalars(schedule.actions_stmt(status="open", min_age=30)).all()) == 0
        assert len(db.session.scalars(schedule.actions_stmt(status="open", min_age=14)).all()) == 2
        assert schedule.action_age_buckets() == [{"from": 0, "to": 7, "count": 0}, {"from": 8, "to": 14, "count": 0},
                                                 {"from": 15, "to": 30, "count": 2},
                                                 {"from": 31, "to": None, "count": 0}]
    login("lead")
    body = client.get("/api/v1/actions?status=open").get_json()
    assert sorted(a["item_key"] for a in body["items"]) == ["masks_mandatory", "ventilation"]
    assert client.get("/api/v1/actions?status=bogus").status_code == 422
    tasks_body = client.get("/api/v1/tasks?week=2020-W11&status=done").get_json()
    assert [t["site_id"] for t in tasks_body["items"] if t["kind"] == "weekly_monitoring"] == [setup["site"].id]
    assert client.get("/api/v1/tasks?week=2020-11").status_code == 422
    page = client.get("/actions?item=ventilation").get_data(as_text=True)
    assert setup["site"].name in page
    # The page's filters: a second site elsewhere, then dong, status and age narrow the list.
    with app.app_context():
        far = site_factory(dong="문래동", name="문래먼센터")
        submit(far, "phone", at("2020-03-29T10:00"), setup["inspector"], no=("ventilation",))
        clock_at(at("2020-03-30T10:00"))
        db.session.commit()
    both = client.get("/actions?status=open").get_data(as_text=True)
    assert setup["site"].name in both and "문래먼센터" in both
    only_far = client.get("/actions?status=open&dong=문래동").get_data(as_text=True)
    assert "문래먼센터" in only_far and setup["site"].name not in only_far
    old_only = client.get("/actions?status=open&min_age=14").get_data(as_text=True)
    assert setup["site"].name in old_only and "문래먼센터" not in old_only
    assert "문래먼센터" not in client.get("/actions?status=cleared").get_data(as_text=True)


def test_cli_wrappers(clock_at, app, db, setup):
    runner = app.test_cli_runner()
    r = runner.invoke(args=["schedule-week", "--week", "2020-W11"])
    assert r.exit_code == 0 and "1 new task" in r.output
    r = runner.invoke(args=["schedule-week", "--week", "2020-W11"])
    assert "0 new task" in r.output
    assert runner.invoke(args=["schedule-week", "--week", "2020-11"]).exit_code != 0
    r = runner.invoke(args=["mark-overdue", "--at", "2020-03-13T18:30"])
    assert r.exit_code == 0 and "overdue 1" in r.output
    clock_at(at("2020-05-09T11:00"))
    r = runner.invoke(args=["record-incident", "--business-no", setup["site"].business_no, "--date", "2020-05-09",
                            "--cases", "1", "--note", "테스트"])
    assert r.exit_code == 0, r.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Incident)) == 1
    unknown = runner.invoke(args=["record-incident", "--business-no", "000-00-00000", "--date", "2020-05-09"])
    assert unknown.exit_code != 0


def test_seed_story_on_the_real_calendar(app_ctx, app, db):
    from tracker.services import demo
    demo.seed()
    demo.seed_history(date(2020, 3, 9))
    db.session.commit()
    from tracker.models import Inspection
    onsite_sites = db.session.scalar(select(func.count(func.distinct(Inspection.site_id)))
                                     .where(Inspection.mode == "onsite", Inspection.week == "2020-W11"))
    assert onsite_sites == 73
    round_weeks = db.session.scalars(select(Task.week).where(Task.kind == "weekly_monitoring").distinct()
                                     .order_by(Task.week)).all()
    assert round_weeks == [clock.add_weeks("2020-W12", n) for n in range(12)]
    (inc,) = db.session.scalars(select(Incident)).all()
    assert (inc.confirmed_on, inc.cases) == (date(2020, 5, 9), 1)
    assert demo.seed_history(date(2020, 3, 9)) == {"inspections": 0}  # laid once


def test_council_report_of_the_seed_story_agrees_with_the_district_report(app, db, client, login):
    """What the team reported to the council: 73 sites by dong and band, all 73 inspected on site,
    12 monitoring rounds, one confirmed case."""
    from tracker.services import demo, reports, sites, summary
    with app.app_context():
        demo.seed()
        demo.seed_history(date(2020, 3, 9))
        db.session.commit()
        s = summary.compute("2020-W11", "2020-W23")
        assert (s["sites_total"], s["onsite_sites_inspected"], s["monitoring_rounds"], s["confirmed_cases"]) == \
            (73, 73, 12, 1)
        by_dong, by_band, results = reports.council_tables(s, sites.counts())
    dong_row = dict(zip(by_dong[1][1:], by_dong[2][0][1:]))
    assert {k: v for k, v in dong_row.items() if v} == {
        "영등포동": 13, "여의동": 22, "당산1동": 7, "당산2동": 5, "문래동": 9, "양평1동": 8, "양평2동": 8, "신길6동": 1,
        "계": 73}
    band_row = dict(zip(by_band[1][1:], by_band[2][0][1:]))
    assert band_row == {"50 이하": 29, "51~100": 14, "101~150": 4, "151~200": 9, "201~250": 2, "251~300": 5,
                        "301~400": 3, "401~700": 3, "701이상": 4, "계": 73}
    assert results[2][0][1:4] == [73, 73, 12] and results[2][0][-1] == 1
    # The page's XLSX without a period covers the programme, years later as well: the same figures.
    import io

    from openpyxl import load_workbook
    login("lead")
    wb = load_workbook(io.BytesIO(client.get("/reports/council.xlsx").data))
    row = [list(r) for r in wb["점검 실적"].iter_rows(values_only=True)][1]
    assert row[0].startswith("2020-W11 ~ 2020-W2") and row[1:4] == [73, 73, 12] and row[-1] == 1


def test_each_part_of_the_risk_counts_whatever_the_bands(submit, clock_at, db, setup, site_factory, app, client, login):
    """Medium size +1, an open critical action +2, a missed week +1 = 4: high. Another district's three bands do
    not change the rule (its size thresholds are their own settings)."""
    app.config["TRACKER_BAND_EDGES"] = [50, 100, 150]
    with app.app_context():
        mid = site_factory(dong="여의동", headcount=150)
        clock_at(at("2020-03-09T00:05"))
        schedule.schedule_week()
        submit(mid, "onsite", at("2020-03-10T10:00"), setup["inspector"], no=("masks_mandatory",))  # critical
        clock_at(at("2020-03-16T00:05"))
        schedule.schedule_week()                       # W12: nobody calls
        schedule.mark_overdue(at("2020-03-23T00:30"))  # W12's round is missed
        db.session.commit()
        clock_at(at("2020-03-23T09:00"))
        risk = schedule.risk_scores([mid.id])[mid.id]
        assert risk["parts"] == {"medium_site": 1, "open_critical_action": 2, "missed_week": 1}
        assert (risk["score"], risk["level"]) == (4, "high")
        schedule.schedule_week()                       # W13: the high risk asks for a visit
        assert tasks(db, site_id=mid.id, week="2020-W13", kind="weekly_monitoring")[0].required_mode == "onsite"
        db.session.commit()
        loaded(mid)
    login("lead")
    page = client.get(f"/sites/{mid.id}").get_data(as_text=True)
    assert "종사자 100명 초과 300명 이하: +1점" in page
    app.config["TRACKER_RISK_MEDIUM_HEADCOUNT"] = 200  # a district that counts from 200
    with app.app_context():
        assert "medium_site" not in schedule.risk_scores([mid.id])[mid.id]["parts"]


def test_task_and_action_lists_take_the_same_queries_for_any_number_of_rows(submit, clock_at, app, db, setup,
                                                                            site_factory, client, login):
    from sqlalchemy import event
    with app.app_context():
        engine = db.engine

    def statements(url):
        seen = []
        listener = lambda *a: seen.append(1)  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            assert client.get(url).status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(seen)

    app.config["TRACKER_IDLE_TIMEOUT_MINUTES"] = LONG_LOGIN  # the clock jumps a week between pages
    clock_at(at("2020-03-09T00:00"))  # before logging in: a session signed later than "now" is refused
    login("lead")
    counts = []
    for week, n in (("2020-W11", 2), ("2020-W12", 12)):
        with app.app_context():
            for k in range(n):
                site_factory(dong=("여의동", "문래동", "당산1동")[k % 3])
            clock_at(at(f"{clock.week_monday(week)}T00:05"))
            schedule.schedule_week()
            for site in db.session.scalars(select(schedule.Site)).all():
                submit(site, "phone", at(f"{clock.week_monday(week)}T10:00"), setup["inspector"],
                       no=("ventilation",))
            db.session.commit()
        counts.append((statements(f"/api/v1/tasks?week={week}"), statements("/api/v1/actions?status=open"),
                       statements(f"/schedule?week={week}")))
    assert counts[0] == counts[1], counts


def test_a_late_schedule_counts_only_inspections_of_the_mode_a_task_asks_for(submit, clock_at, app_ctx, db, setup,
                                                                             site_factory):
    """The round is made after inspections already arrived that week (the scheduler was down): a phone call
    closes an 'any' round, but not a round that asks for a visit."""
    big = site_factory(dong="여의동", headcount=900)            # large: +2
    clock_at(at("2020-03-07T11:00"))
    schedule.record_incident(big, date(2020, 3, 7), 1)          # recent case: +3 -> high: on site
    db.session.commit()
    submit(big, "phone", at("2020-03-09T09:00"), setup["inspector"])
    submit(setup["site"], "phone", at("2020-03-09T09:05"), setup["inspector"])
    clock_at(at("2020-03-09T10:00"))
    schedule.schedule_week("2020-W11")
    db.session.commit()
    rounds = {t.site_id: t for t in tasks(db, week="2020-W11", kind="weekly_monitoring", slot=0)}
    assert rounds[big.id].required_mode == "onsite" and rounds[big.id].status == "open"
    assert rounds[setup["site"].id].status == "done"


def test_seed_story_without_a_start_ends_this_week(clock_at, app_ctx, app, db):
    """`seed-demo` without --start: the same story, laid so that its last round is this week."""
    from tracker.services import demo, summary
    clock_at(at("2026-11-25T15:00"))  # a Wednesday: this week's round exists, its inspections partly done
    demo.seed()
    demo.seed_history()
    clock_at(at("2026-11-25T15:00"))
    db.session.commit()
    this_week = clock.week_of()
    first = clock.add_weeks(this_week, -12)
    s = summary.compute(first, this_week)
    assert (s["onsite_sites_inspected"], s["monitoring_rounds"], s["confirmed_cases"]) == (73, 12, 1)
    assert s["weeks"][-1]["week"] == this_week and s["weeks"][-1]["round"] is True
    # nothing is laid after "now"
    from tracker.models import Inspection
    latest = db.session.scalar(select(func.max(Inspection.submitted_at)))
    assert latest <= clock.now()


# --- settings, site page, incidents on the web, the week page (audit of issue 4) ---------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def element(html, id_):
    """The HTML of the element with this id, its own tags included; AssertionError when the page has none."""
    starts = [0]
    for line in html.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))

    class Finder(HTMLParser):
        begin = end = None
        depth = 0

        def here(self):
            line, col = self.getpos()
            return starts[line - 1] + col

        def handle_starttag(self, tag, attrs):
            if self.end is not None or tag in VOID:
                return
            if self.begin is None and dict(attrs).get("id") == id_:
                self.begin = self.here()
            if self.begin is not None:
                self.depth += 1

        def handle_endtag(self, tag):
            if self.begin is None or self.end is not None or tag in VOID:
                return
            self.depth -= 1
            if self.depth == 0:
                self.end = html.index(">", self.here()) + 1

    f = Finder()
    f.feed(html)
    assert f.begin is not None and f.end is not None, f"no element #{id_} on the page"
    return html[f.begin:f.end]


def text(fragment):
    """What a reader sees of some HTML: tags dropped, entities decoded, white space folded."""
    from html import unescape
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def page(client, url):
    resp = client.get(url, follow_redirects=True)
    assert resp.status_code == 200, url
    return resp.get_data(as_text=True)


def test_due_time_action_days_and_the_raised_period_follow_the_settings(submit, clock_at, app_ctx, db, setup, app,
                                                                        monkeypatch, tmp_path):
    """Due Thursday 12:00, 5 days to fix (2 for a critical item), 7 days of closer monitoring: read from the
    TRACKER_* variables and obeyed everywhere, instead of Friday 18:00, 7/3 and 14."""
    from tracker import config
    env = {"DUE_WEEKDAY": "4", "DUE_TIME": "12:00", "ACTION_DAYS": "5", "ACTION_DAYS_CRITICAL": "2",
           "INCIDENT_DAYS": "7"}
    for k, v in env.items():
        monkeypatch.setenv(f"TRACKER_{k}", v)
    loaded = config.load(tmp_path / "tuned")
    keys = [f"TRACKER_{k}" for k in env]
    assert [loaded[k] for k in keys] == [4, "12:00", 5, 2, 7]
    app.config.update({k: loaded[k] for k in keys})
    site, insp = setup["site"], setup["inspector"]

    clock_at(at("2020-03-09T00:05"))
    schedule.schedule_week()
    (rnd,) = tasks(db, kind="weekly_monitoring")
    assert clock.local(rnd.due_at) == at("2020-03-12T12:00")  # Thursday noon, not Friday 18:00
    assert schedule.mark_overdue(at("2020-03-12T11:59"))["overdue"] == 0
    assert schedule.mark_overdue(at("2020-03-12T12:01"))["overdue"] == 1

    submit(site, "phone", at("2020-03-12T14:00"), insp, no=("masks_mandatory", "ventilation"))
    due = {a.item_key: clock.local(a.due_at) for a in db.session.scalars(select(Action))}
    assert due == {"masks_mandatory": at("2020-03-14T14:00"),  # critical: 2 days
                   "ventilation": at("2020-03-17T14:00")}      # otherwise: 5 days
    (reinsp,) = tasks(db, kind="reinspection")
    assert clock.local(reinsp.due_at) == at("2020-03-14T14:00")  # the sooner of the two
    assert schedule.mark_overdue(at("2020-03-14T14:01"))["escalated"] == 1
    assert schedule.mark_overdue(at("2020-03-17T14:01"))["escalated"] == 1

    # A case on Saturday 2020-05-09: the visit is due Monday at the configured time, closer monitoring for 7 days.
    clock_at(at("2020-05-09T11:00"))
    inc = schedule.record_incident(site, date(2020, 5, 9), 1)
    assert inc.raised_until == date(2020, 5, 16)
    (resp,) = tasks(db, kind="incident_response")
    assert clock.local(resp.due_at) == at("2020-05-11T12:00")
    clock_at(at("2020-05-11T00:05"))
    schedule.schedule_week()
    w20 = tasks(db, week="2020-W20", kind="weekly_monitoring")
    # The early check three days before the due day: Monday; the second by Thursday noon.
    assert [clock.local(t.due_at) for t in w20] == [at("2020-05-11T12:00"), at("2020-05-14T12:00")]
    # With 14 days W21 would still be raised (see the incident test above); with 7 it is back to one check.
    clock_at(at("2020-05-18T00:05"))
    schedule.schedule_week()
    w21 = tasks(db, week="2020-W21", kind="weekly_monitoring")
    assert [clock.local(t.due_at) for t in w21] == [at("2020-05-21T12:00")]


def test_the_site_page_lists_an_open_action_until_a_yes_clears_it(clock_at, submit, app, db, setup, client, login):
    site, insp = setup["site"], setup["inspector"]

    def submitted(when, **kw):
        with app.app_context():
            submit(site, "phone", at(when), insp, **kw)
            db.session.commit()
    app.config["TRACKER_IDLE_TIMEOUT_MINUTES"] = LONG_LOGIN  # the clock jumps days between pages
    clock_at(at("2020-03-10T09:00"))  # before logging in: a session signed later than "now" is refused
    login("lead")
    assert "주기적 환기" not in text(element(page(client, f"/sites/{site.id}"), "open-actions"))
    submitted("2020-03-10T10:00", no=("ventilation",))
    panel = text(element(page(client, f"/sites/{site.id}"), "open-actions"))
    assert "주기적 환기 (1일 2회 이상)" in panel and "기한 03-17" in panel
    assert "Regular ventilation, at least twice a day" in text(element(
        page(client, f"/sites/{site.id}?lang=en"), "open-actions"))
    # A call that answers another item "yes" clears nothing; the same item answered "yes" clears it.
    submitted("2020-03-12T10:00", no=("ventilation",))
    assert "주기적 환기" in text(element(page(client, f"/sites/{site.id}?lang=ko"), "open-actions"))
    submitted("2020-03-13T10:00")
    panel = text(element(page(client, f"/sites/{site.id}"), "open-actions"))
    assert "주기적 환기" not in panel and "없음" in panel


def test_a_lead_records_an_incident_on_the_site_page(clock_at, app, db, setup, client, login, make_user):
    from tests.conftest import csrf_from
    from tracker.models import Audit
    site = setup["site"]
    clock_at(at("2020-05-09T11:00"))
    url = f"/sites/{site.id}/incidents"
    good = {"confirmed_on": "2020-05-09", "cases": "3", "note": "직원 3명 확진"}
    # Nobody logged in: the login page, nothing saved.
    resp = client.post(url, data={**good, "csrf_token": csrf_from(page(client, "/login"))})
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    # An inspector may read the site page but not record a case.
    login("inspector")
    token = csrf_from(page(client, f"/sites/{site.id}"))
    assert client.post(url, data={**good, "csrf_token": token}).status_code == 403
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Incident)) == 0
    client.post("/logout", data={"csrf_token": token})

    lead = login("lead")
    site_page = page(client, f"/sites/{site.id}")
    assert 'action="%s"' % url in element(site_page, "site-incidents")
    token = csrf_from(site_page)
    with app.app_context():
        n_tasks = len(tasks(db))
    for bad, message in ((dict(cases="0"), "확진자 수는 1 이상이어야 합니다"),
                         (dict(cases="셋"), "확진자 수 '셋'은(는) 숫자가 아닙니다"),
                         (dict(confirmed_on="2020-05-10"), "확진일은 미래일 수 없습니다"),
                         (dict(confirmed_on="어제"), "확진일 '어제'은(는) YYYY-MM-DD 형식의 날짜가 아닙니다"),
                         (dict(note="가" * 501), "메모는 500자 이하여야 합니다")):
        resp = client.post(url, data={**good, **bad, "csrf_token": token})
        assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/sites/{site.id}")
        shown = page(client, resp.headers["Location"])
        assert message in text(shown), bad
        with app.app_context():
            assert db.session.scalar(select(func.count()).select_from(Incident)) == 0, bad
            assert len(tasks(db)) == n_tasks, bad
    # Without its CSRF token the form is refused.
    assert client.post(url, data=good).status_code == 400

    resp = client.post(url, data={**good, "csrf_token": token})
    assert resp.status_code == 302
    assert "확진자 발생을 기록했습니다" in text(page(client, resp.headers["Location"]))
    with app.app_context():
        (inc,) = db.session.scalars(select(Incident)).all()
        assert (inc.site_id, inc.confirmed_on, inc.cases, inc.note, inc.created_by_id) == (
            site.id, date(2020, 5, 9), 3, "직원 3명 확진", lead.id)
        (resp_task,) = tasks(db, kind="incident_response")
        assert resp_task.required_mode == "onsite" and clock.local(resp_task.due_at) == at("2020-05-11T18:00")
        assert db.session.scalar(select(func.count()).select_from(Audit).where(Audit.entity == "incident")) == 1


def test_the_site_page_the_dashboard_and_the_week_page_show_an_incident(clock_at, app, db, setup, client, login,
                                                                        site_factory):
    site = setup["site"]
    quiet = site_factory(dong="문래동", name="조용한센터")
    clock_at(at("2020-05-09T11:00"))
    with app.app_context():
        schedule.record_incident(db.session.get(Site, site.id), date(2020, 5, 9), 3, "직원 확진")
        db.session.commit()
    clock_at(at("2020-05-12T09:00"))
    login("lead")
    panel = text(element(page(client, f"/sites/{site.id}"), "site-incidents"))
    assert "2020-05-09 · 3명" in panel and "직원 확진" in panel
    assert "2020-05-09" not in text(element(page(client, f"/sites/{quiet.id}"), "site-incidents"))

    def dash_rows(html):
        return [text(li) for li in re.findall(r"<li><a href=\"/sites/\d+\">.*?</li>", html, re.S)]
    w19 = dash_rows(page(client, "/dashboard?from=2020-W19&to=2020-W19"))
    assert any(site.name in r and "2020-05-09 · 3명" in r for r in w19)
    assert not any(site.name in r for r in dash_rows(page(client, "/dashboard?from=2020-W17&to=2020-W17")))

    week = text(element(page(client, "/schedule?week=2020-W19"), "incidents"))
    assert f"{site.name} · 2020-05-09 · 3명" in week and quiet.name not in week
    # Still listed while the site is watched closely (W20), gone well after (W26).
    assert site.name in text(element(page(client, "/schedule?week=2020-W20"), "incidents"))
    assert site.name not in text(element(page(client, "/schedule?week=2020-W26"), "incidents"))


def test_a_past_week_shows_its_actions_as_they_stood_when_it_ended(submit, clock_at, app, db, setup, client, login,
                                                                   site_factory):
    """Worked by hand. W11 ends Monday 2020-03-16 00:00; each site has one 'ventilation' action:

        site  opened            cleared           age at W11's end     at W12's end (03-23)   now (03-30 10:00)
        F     01-20 10:00       -                 55.6 d -> 31+        62.6 d -> 31+         70 d -> 31+
        B     02-24 10:00       -                 20.6 d -> 15~30      27.6 d -> 15~30       35 d -> 31+
        C     03-03 10:00       03-12 10:00       cleared before       -                     -
        D     03-04 10:00       03-20 10:00       11.6 d -> 8~14       cleared before        -
        G     03-12 10:00       03-25 10:00       3.6 d -> 0~7         10.6 d -> 8~14        -
        A     03-10 10:00       -                 5.6 d -> 0~7         12.6 d -> 8~14        20 d -> 15~30
        E     03-17 10:00       -                 not yet opened       5.6 d -> 0~7          13 d -> 8~14
    """
    insp = setup["inspector"]
    names = "FBCDGAE"
    sites = {n: site_factory(dong="문래동" if n == "F" else "여의동", name=f"센터{n}") for n in names}
    events = [("F", "01-20", "no"), ("B", "02-24", "no"), ("C", "03-03", "no"), ("D", "03-04", "no"),
              ("A", "03-10", "no"), ("C", "03-12", "yes"), ("G", "03-12", "no"), ("E", "03-17", "no"),
              ("D", "03-20", "yes"), ("G", "03-25", "yes")]

    def counts(ages):
        return [b["count"] for b in ages]
    with app.app_context():
        for name, day, answer in events:
            submit(sites[name], "phone", at(f"2020-{day}T10:00"), insp,
                   no=("ventilation",) if answer == "no" else ())
        clock_at(at("2020-03-30T10:00"))
        db.session.commit()
        assert counts(schedule.week_view("2020-W11")["action_ages"]) == [2, 1, 1, 1]
        assert counts(schedule.week_view("2020-W12")["action_ages"]) == [1, 2, 1, 1]
        assert counts(schedule.week_view("2020-W11", dong="문래동")["action_ages"]) == [0, 0, 0, 1]
        # This week stays "as of now", and agrees with the action list's own count.
        assert counts(schedule.week_view("2020-W14")["action_ages"]) == [0, 1, 1, 2]
        assert counts(schedule.action_age_buckets()) == [0, 1, 1, 2]

    login("lead")
    past = element(page(client, "/schedule?week=2020-W11"), "action-ages")
    assert re.findall(r"<td>(\d+)</td>", past) == ["2", "1", "1", "1"]
    assert "그 주가 끝난 2020-03-16 00:00 기준" in text(past)
    now = element(page(client, "/schedule?week=2020-W14"), "action-ages")
    assert re.findall(r"<td>(\d+)</td>", now) == ["0", "1", "1", "2"] and "지금 기준" in text(now)


def test_the_week_page_lists_late_sites_by_inspector_and_by_dong(submit, clock_at, app, db, setup, client, login,
                                                                 site_factory):
    from tests.conftest import csrf_from
    lee, park = setup["inspector"], setup["other"]
    with app.app_context():
        db.session.add(DongAssignment(dong="문래동", inspector_id=park.id))
        db.session.commit()
        for dong, name in (("여의동", "가람센터"), ("여의동", "나래센터"), ("문래동", "다솜센터"),
                           ("당산1동", "라온센터")):
            site_factory(dong=dong, name=name)
        clock_at(at("2020-03-09T00:05"))
        schedule.schedule_week()
        submit(setup["site"], "phone", at("2020-03-10T10:00"), lee)  # inspected: not late
        db.session.commit()
    login("lead")
    week_page = page(client, "/schedule?week=2020-W11")
    with app.app_context():
        narae = next(t for t in tasks(db, kind="weekly_monitoring") if t.site.name == "나래센터").id
    resp = client.post(f"/tasks/{narae}/assignee", data={"csrf_token": csrf_from(week_page),
                                                        "inspector_id": str(park.id)})
    assert resp.status_code == 302
    with app.app_context():
        schedule.mark_overdue(at("2020-03-14T09:00"))
        db.session.commit()

        view = schedule.week_view("2020-W11")
        assert [(g["name"], [t.site.name for t in g["tasks"]]) for g in view["late_by_inspector"]] == [
            ("박점검", ["다솜센터", "나래센터"]), ("이점검", ["가람센터"]), ("미배정", ["라온센터"])]
        assert {d: [t.site.name for t in ts] for d, ts in view["late_by_dong"].items()} == {
            "당산1동": ["라온센터"], "문래동": ["다솜센터"], "여의동": ["가람센터", "나래센터"]}

    html = page(client, "/schedule?week=2020-W11")
    by_inspector = element(html, "late-by-inspector")
    groups = {text(h): text(body) for h, body in
              re.findall(r"<h4[^>]*>(.*?)</h4>\s*<ul[^>]*>(.*?)</ul>", by_inspector, re.S)}
    assert {k.split()[0]: [n for n in ("가람센터", "나래센터", "다솜센터", "라온센터") if n in v]
            for k, v in groups.items()} == {"박점검": ["나래센터", "다솜센터"], "이점검": ["가람센터"],
                                            "미배정": ["라온센터"]}
    by_dong = element(html, "late-by-dong")
    rows = {text(dt).split()[0]: text(dd) for dt, dd in re.findall(r"<dt>(.*?)</dt>\s*<dd>(.*?)</dd>", by_dong, re.S)}
    assert {d: [n for n in ("가람센터", "나래센터", "다솜센터", "라온센터") if n in v] for d, v in rows.items()} == {
        "당산1동": ["라온센터"], "문래동": ["다솜센터"], "여의동": ["가람센터", "나래센터"]}
    assert "지연" in rows["여의동"]
    # Each open late task keeps its reassignment, folded in a <details> (no script needed), one per row.
    folds = re.findall(r'<details class="reassign">.*?</details>', by_inspector, re.S)
    assert len(folds) == 4 and all('name="inspector_id"' in f and 'name="csrf_token"' in f for f in folds)
    assert by_inspector.count('name="inspector_id"') == 4
