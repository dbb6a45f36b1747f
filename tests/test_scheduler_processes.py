"""The scheduler as its own process: two at once make one task per site per week; downtime is caught up once."""
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tracker import jobs
from tracker.models import Task

pytestmark = pytest.mark.usefixtures("app_ctx")  # the test reads the database the scheduler processes write

ROOT = Path(__file__).resolve().parent.parent
FLASK = str(Path(sys.executable).parent / "flask")
FAILED_JOB = re.compile(r"job \w+ failed|Traceback")

# `flask --app wsgi scheduler`, held at a gate just before its start-up catch-up: the app is built and every module
# imported, so that when the test opens the gate the processes catch up at the same moment, not a second apart.
GATED = r"""
import os, sys, time
import wsgi  # noqa: F401  (the app, built before the gate)
from flask.cli import main
from tracker import jobs

catch_up = jobs.catch_up


def gated(app):
    print("ready", flush=True)
    while not os.path.exists(os.environ["TEST_START_GATE"]):
        time.sleep(0.001)
    print(f"gate-open {time.time():.6f}", flush=True)
    catch_up(app)
    print(f"catch-up-done {time.time():.6f}", flush=True)


jobs.catch_up = gated
sys.argv = ["flask", "--app", "wsgi", "scheduler"]
main()
"""


def _env(db_url, instance, fake_now, **extra):
    return {**os.environ, "TRACKER_DATABASE_URL": db_url, "TRACKER_INSTANCE_PATH": str(instance),
            "TRACKER_FAKE_NOW": fake_now, "TRACKER_ALLOW_FAKE_NOW": "1", "TRACKER_SECRET_KEY": "x",
            "TRACKER_SMTP_PORT": "1", "PYTHONUNBUFFERED": "1", **extra}


def _start(db_url, instance, fake_now):
    return subprocess.Popen([FLASK, "--app", "wsgi", "scheduler"], cwd=ROOT, env=_env(db_url, instance, fake_now),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _start_gated(db_url, instance, fake_now, gate):
    return subprocess.Popen([sys.executable, "-c", GATED], cwd=ROOT,
                            env=_env(db_url, instance, fake_now, TEST_START_GATE=str(gate)),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _read_until(proc, logs, marker, deadline):
    while marker not in logs[proc]:
        assert time.monotonic() < deadline, f"no {marker!r} from the scheduler:\n{logs[proc]}"
        line = proc.stdout.readline()
        assert line or proc.poll() is None, f"scheduler exited early:\n{logs[proc]}"
        logs[proc] += line


def _stop(procs, logs):
    for p in procs:
        p.terminate()
    for p in procs:
        out, _ = p.communicate(timeout=20)
        logs[p] += out


def _wait_caught_up(procs, timeout=60, gate=None):
    """Wait until every process has finished its start-up catch-up (with a gate: once all are ready at it, open it
    for all at once); then stop them, and check that no job failed. Returns their logs."""
    logs = {p: "" for p in procs}
    deadline = time.monotonic() + timeout
    try:
        if gate is not None:
            for p in procs:
                _read_until(p, logs, "ready", deadline)
            gate.touch()
        for p in procs:
            _read_until(p, logs, "caught up", deadline)
    finally:
        _stop(procs, logs)
    for log in logs.values():
        assert not FAILED_JOB.search(log), f"a job failed:\n{log}"
    return logs


def _counts(db):
    db.session.expire_all()
    total = db.session.scalar(select(func.count()).select_from(Task))
    distinct = db.session.scalar(select(func.count()).select_from(
        select(Task.site_id, Task.week, Task.kind, Task.slot).distinct().subquery()))
    return total, distinct


def _made(log):
    """How many new round tasks a scheduler's catch-up reports."""
    (n,) = re.findall(r"job weekly_round: (\d+)", log)
    return int(n)


def test_two_schedulers_catching_up_at_the_same_moment_make_one_round(app, db, db_url, tmp_path, site_factory):
    """Both wait at a gate, then catch up together: the second must meet the first's rows as conflicts to skip,
    not as an error. Neither job fails, and what the two made adds up to one task per active site."""
    sites = [site_factory() for _ in range(60)]
    from tracker.services import sites as site_service
    site_service.set_status(sites[0], "closed")
    db.session.commit()
    active = len(sites) - 1
    gate = tmp_path / "gate"
    procs = [_start_gated(db_url, tmp_path / f"i{n}", "2020-03-10T09:00:00+09:00", gate) for n in range(2)]
    logs = _wait_caught_up(procs, timeout=90, gate=gate)
    # They really ran side by side: each opened its gate before the other had finished catching up.
    opened = [float(re.search(r"gate-open (\S+)", log).group(1)) for log in logs.values()]
    done = [float(re.search(r"catch-up-done (\S+)", log).group(1)) for log in logs.values()]
    assert max(opened) < min(done), (opened, done)
    assert sum(_made(log) for log in logs.values()) == active
    total, distinct = _counts(db)
    assert total == distinct == active
    assert dict(db.session.execute(select(Task.week, func.count()).group_by(Task.week)).all()) == {"2020-W11": active}
    assert db.session.scalar(select(func.count()).select_from(Task).where(Task.site_id == sites[0].id)) == 0


def test_two_schedulers_started_one_after_the_other_make_one_round(app, db, db_url, tmp_path, site_factory):
    sites = [site_factory() for _ in range(30)]
    db.session.commit()
    procs = [_start(db_url, tmp_path / f"i{n}", "2020-03-10T09:00:00+09:00") for n in range(2)]
    logs = _wait_caught_up(procs)
    assert sum(_made(log) for log in logs.values()) == len(sites)
    total, distinct = _counts(db)
    assert total == distinct == len(sites)
    weeks = set(db.session.scalars(select(Task.week)))
    assert weeks == {"2020-W11"}


def test_downtime_over_monday_is_caught_up_once(app, db, db_url, tmp_path, site_factory):
    for _ in range(5):
        site_factory()
    # Running on Sunday night: that week's round.
    _wait_caught_up([_start(db_url, tmp_path / "a", "2020-03-08T23:00:00+09:00")])
    assert dict(db.session.execute(select(Task.week, func.count()).group_by(Task.week)).all()) == {"2020-W10": 5}
    # Down over Monday 00:05; back on Tuesday: the missed round is made, last week's open tasks are missed.
    _wait_caught_up([_start(db_url, tmp_path / "b", "2020-03-10T09:00:00+09:00")])
    db.session.expire_all()
    by_week = dict(db.session.execute(select(Task.week, func.count()).group_by(Task.week)).all())
    assert by_week == {"2020-W10": 5, "2020-W11": 5}
    assert db.session.scalar(select(func.count()).select_from(Task).where(
        Task.week == "2020-W10", Task.status == "missed")) == 5
    # A second restart the same day changes nothing.
    (log,) = _wait_caught_up([_start(db_url, tmp_path / "c", "2020-03-10T10:00:00+09:00")]).values()
    assert _made(log) == 0
    assert _counts(db) == (10, 10)


def test_every_job_has_a_stable_id_its_trigger_and_coalesces(app):
    sched = jobs.build(app)
    by_id = {j.id: j for j in sched.get_jobs()}
    assert set(by_id) == {"weekly_round", "mark_overdue", "deliver_outbox", "weekly_summary", "task_reminders",
                          "lead_digest"}
    for job in by_id.values():
        assert job.coalesce is True
        assert job.max_instances == 1
        assert job.misfire_grace_time == jobs.MISFIRE_GRACE
    assert str(by_id["weekly_round"].trigger) == "cron[day_of_week='mon', hour='0', minute='5']"
    assert str(by_id["mark_overdue"].trigger) == "cron[minute='1']"  # hourly, at one past
    assert str(by_id["deliver_outbox"].trigger) == "interval[0:02:00]"
    assert str(by_id["weekly_summary"].trigger) == "cron[day_of_week='mon', hour='8', minute='0']"
    # Hourly, after the late check: each reminder picks its own day and time from config.
    assert str(by_id["task_reminders"].trigger) == str(by_id["lead_digest"].trigger) == "cron[minute='10']"
    for job_id in ("weekly_round", "mark_overdue", "weekly_summary", "task_reminders", "lead_digest"):
        assert str(by_id[job_id].trigger.timezone) == "Asia/Seoul"


def test_adding_the_jobs_again_replaces_every_one(app):
    """replace_existing=True on every job: a restart that re-adds them (to a persistent job store, say) replaces
    each by its id. Without it, APScheduler refuses the second add with ConflictingIdError."""
    sched = jobs.build(app)
    sched.start(paused=True)
    try:
        before = {j.id: j.next_run_time for j in sched.get_jobs()}
        jobs.add_jobs(sched, app)
        after = {j.id: j.next_run_time for j in sched.get_jobs()}
        assert sorted(after) == sorted(before) == ["deliver_outbox", "lead_digest", "mark_overdue", "task_reminders",
                                                   "weekly_round", "weekly_summary"]
    finally:
        sched.shutdown(wait=False)
