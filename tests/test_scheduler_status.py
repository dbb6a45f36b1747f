"""The scheduler's status table: what `flask scheduler-status` prints, and the admin pages' warning banner when no
scheduler leads, its heartbeat stopped, or a job has not run for longer than its period allows."""
import json
import os
import socket
from datetime import datetime, timedelta, timezone

import pytest

from tracker import jobs
from tracker.extensions import db
from tracker.models import SchedulerProcess
from tracker.services import scheduler_status

T0 = datetime(2020, 3, 16, 0, 30, tzinfo=timezone.utc)  # Monday 09:30 in Seoul
NOT_RUNNING = "스케줄러가 실행되고 있지 않습니다"


def _status(app) -> dict:
    result = app.test_cli_runner().invoke(args=["scheduler-status"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _lead_and_run(app, ok_jobs=("weekly_round", "mark_overdue", "deliver_outbox", "weekly_summary")):
    """This process as the leader, with each job's run recorded now and its next run from the real job list."""
    with app.app_context():
        scheduler_status.beat(True)
        for job_id in ok_jobs:
            scheduler_status.record_run(job_id, True, {"new": 1})
        sched = jobs.build(app)
        sched.start(paused=True)
        try:
            scheduler_status.record_next_runs({j.id: j.next_run_time for j in sched.get_jobs()})
        finally:
            sched.shutdown(wait=False)
        db.session.commit()


def _follower(app, host, pid, seen):
    with app.app_context():
        db.session.add(SchedulerProcess(host=host, pid=pid, leading=False, since=seen, last_seen=seen))
        db.session.commit()


def test_status_names_the_leader_its_jobs_and_the_followers(app, clock_at):
    clock_at(T0)
    _follower(app, "machine-b", 4242, T0 - timedelta(seconds=3))
    _lead_and_run(app)
    with app.app_context():
        scheduler_status.record_run("refresh_bands", False, "OperationalError: the database went away")
        db.session.commit()
    out = _status(app)
    assert out["leader"] == {"host": socket.gethostname(), "pid": os.getpid(), "since": T0.isoformat(),
                             "heartbeat": T0.isoformat(), "stale": False}
    assert out["followers"] == [{"host": "machine-b", "pid": 4242, "since": (T0 - timedelta(seconds=3)).isoformat(),
                                 "last_seen": (T0 - timedelta(seconds=3)).isoformat()}]
    by_id = {j["id"]: j for j in out["jobs"]}
    assert sorted(by_id) == ["deliver_outbox", "lead_digest", "mark_overdue", "purge_expired", "refresh_bands",
                            "task_reminders", "weekly_round", "weekly_summary"]
    assert by_id["weekly_round"]["last_run"] == T0.isoformat()
    assert by_id["weekly_round"]["ok"] is True and json.loads(by_id["weekly_round"]["result"]) == {"new": 1}
    # The next runs are the jobs' own triggers, from Monday 09:30 in Seoul.
    assert by_id["weekly_round"]["next_run"] == "2020-03-22T15:05:00+00:00"  # next Monday 00:05 KST
    assert by_id["mark_overdue"]["next_run"] == "2020-03-16T01:01:00+00:00"  # 10:01 KST
    assert by_id["weekly_summary"]["next_run"] == "2020-03-22T23:00:00+00:00"  # next Monday 08:00 KST
    assert by_id["refresh_bands"]["ok"] is False and "went away" in by_id["refresh_bands"]["result"]
    assert not any(j["late"] for j in out["jobs"])


def test_a_new_leader_takes_the_lead_from_the_dead_ones_row(app, clock_at):
    clock_at(T0)
    with app.app_context():
        db.session.add(SchedulerProcess(host="machine-a", pid=1, leading=True, since=T0 - timedelta(days=2),
                                        last_seen=T0 - timedelta(seconds=40)))
        db.session.commit()
    _lead_and_run(app)
    out = _status(app)
    assert out["leader"]["pid"] == os.getpid()
    assert [(f["host"], f["pid"]) for f in out["followers"]] == [("machine-a", 1)]


def test_status_flags_a_stale_heartbeat_and_a_late_job(app, clock_at):
    clock_at(T0)
    _lead_and_run(app)
    clock_at(T0 + timedelta(hours=2))  # nothing has written since: the hourly job is late, the heartbeat stale
    out = _status(app)
    assert out["leader"]["stale"] is True
    late = {j["id"] for j in out["jobs"] if j["late"]}
    # The hourly and two-minute jobs are late; the daily and weekly ones still have time to go.
    assert late == {"mark_overdue", "deliver_outbox", "task_reminders", "lead_digest"}


@pytest.fixture
def admin_page(client, login):
    """An admin page's HTML; the admin logs in at the first call, at the test's moment (a session from another
    time would be refused)."""
    logged_in = []

    def get(path="/admin/users", lang="ko"):
        if not logged_in:
            logged_in.append(login("admin"))
        resp = client.get(f"{path}?lang={lang}")
        assert resp.status_code == 200
        return resp.get_data(as_text=True)
    return get


def test_admin_pages_warn_when_no_scheduler_has_ever_run(admin_page):
    for path in ("/admin/users", "/admin/checklist", "/admin/outbox/"):
        html = admin_page(path)
        assert 'class="flash warn scheduler-warning" role="alert"' in html and NOT_RUNNING in html
    assert "No scheduler is running" in admin_page(lang="en")


def test_no_banner_while_the_leader_beats_and_the_jobs_run(app, admin_page, clock_at):
    clock_at(T0)
    _lead_and_run(app)
    clock_at(T0 + timedelta(seconds=30))
    assert "scheduler-warning" not in admin_page()


def test_banner_names_a_stopped_leader_and_each_late_job(app, admin_page, clock_at):
    clock_at(T0)
    _lead_and_run(app)
    clock_at(T0 + timedelta(hours=1, minutes=20))
    html = admin_page()
    assert "scheduler-warning" in html
    assert f"스케줄러({socket.gethostname()}, pid {os.getpid()})가 2020-03-16 09:30 이후로 응답이 없습니다" in html
    assert "&#39;기한 넘김 표시&#39; 작업이 2020-03-16 09:30 이후로 실행되지 않았습니다" in html
    assert "&#39;메일 발송&#39; 작업이" in html and "주간 점검 배정" not in html
    html = admin_page(lang="en")
    assert "has not answered since 2020-03-16 09:30" in html
    assert "The job &#39;overdue marking&#39; has not run since 2020-03-16 09:30." in html


def test_a_job_stuck_while_the_leader_beats_is_named_alone(app, admin_page, clock_at):
    """The leader's heartbeat is fresh but its hourly job has not run for two hours (a job thread stuck)."""
    clock_at(T0)
    _lead_and_run(app)
    clock_at(T0 + timedelta(hours=2))
    with app.app_context():
        scheduler_status.beat(True)
        scheduler_status.record_run("deliver_outbox", True, {"sent": 0})
        db.session.commit()
    html = admin_page()
    assert "응답이 없습니다" not in html
    assert "&#39;기한 넘김 표시&#39; 작업이 2020-03-16 09:30 이후로 실행되지 않았습니다" in html
    assert "메일 발송" not in html.split("scheduler-warning", 1)[1].split("</div>", 1)[0]


def test_the_banner_is_for_the_admin_pages_only(client, login):
    login("lead")
    html = client.get("/dashboard").get_data(as_text=True)
    assert "scheduler-warning" not in html
