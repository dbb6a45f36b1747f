"""The scheduler as its own process: two at once make one task per site per week; downtime is caught up once."""
import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from tracker import jobs
from tracker.models import Task

ROOT = Path(__file__).resolve().parent.parent
FLASK = str(Path(sys.executable).parent / "flask")


def _start(db_url, instance, fake_now):
    env = {**os.environ, "TRACKER_DATABASE_URL": db_url, "TRACKER_INSTANCE_PATH": str(instance),
           "TRACKER_FAKE_NOW": fake_now, "TRACKER_SECRET_KEY": "x", "TRACKER_SMTP_PORT": "1",
           "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([FLASK, "--app", "wsgi", "scheduler"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _wait_caught_up(procs, timeout=60):
    """Wait until every process has finished its start-up catch-up; then stop them."""
    logs = {p: "" for p in procs}
    deadline = time.monotonic() + timeout
    try:
        for p in procs:
            while "caught up" not in logs[p]:
                assert time.monotonic() < deadline, f"scheduler did not catch up:\n{logs[p]}"
                line = p.stdout.readline()
                assert line or p.poll() is None, f"scheduler exited early:\n{logs[p]}"
                logs[p] += line
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=20)
    return logs


def _counts(db):
    db.session.expire_all()
    total = db.session.scalar(select(func.count()).select_from(Task))
    distinct = db.session.scalar(select(func.count()).select_from(
        select(Task.site_id, Task.week, Task.kind, Task.slot).distinct().subquery()))
    return total, distinct


def test_two_schedulers_at_once_make_one_round(app, db, db_url, tmp_path, site_factory):
    sites = [site_factory() for _ in range(30)]
    db.session.commit()
    procs = [_start(db_url, tmp_path / f"i{n}", "2020-03-10T09:00:00+09:00") for n in range(2)]
    _wait_caught_up(procs)
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
    _wait_caught_up([_start(db_url, tmp_path / "c", "2020-03-10T10:00:00+09:00")])
    assert _counts(db) == (10, 10)


def test_every_job_has_a_stable_id_and_coalesces(app):
    sched = jobs.build(app)
    by_id = {j.id: j for j in sched.get_jobs()}
    assert set(by_id) == {"weekly_round", "mark_overdue", "deliver_outbox", "weekly_summary"}
    for job in by_id.values():
        assert job.coalesce is True
        assert job.max_instances == 1
        assert job.misfire_grace_time == jobs.MISFIRE_GRACE
    assert str(by_id["weekly_round"].trigger) == "cron[day_of_week='mon', hour='0', minute='5']"
    assert str(by_id["weekly_summary"].trigger) == "cron[day_of_week='mon', hour='8', minute='0']"
