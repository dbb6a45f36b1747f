"""The scheduler as its own process: several elect one leader, which alone runs the jobs, and a dead leader is
replaced within 30 s; two catch-ups at once still make one task per site per week; downtime is caught up once."""
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tracker import jobs
from tracker.models import Task
from tracker.services import scheduler_status

# The scheduled jobs, each with its fixed id.
JOB_IDS = {"weekly_round", "mark_overdue", "deliver_outbox", "weekly_summary", "purge_expired", "task_reminders",
           "lead_digest"}

pytestmark = pytest.mark.usefixtures("app_ctx")  # the test reads the database the scheduler processes write

ROOT = Path(__file__).resolve().parent.parent
FLASK = str(Path(sys.executable).parent / "flask")
FAILED_JOB = re.compile(r"job \w+ failed|Traceback")

# The catch-up of `flask --app wsgi scheduler`, held at a gate: the app is built and every module imported, so that
# when the test opens the gate the processes catch up at the same moment, not a second apart. They run the catch-up
# itself rather than the scheduler command, which would let only its leader catch up: this proves the jobs'
# idempotency, the real guard, with no lock to help.
GATED = r"""
import logging, os, time
from wsgi import app
from tracker import console, jobs

console.configure_logging(app, logging.INFO)
print("ready", flush=True)
while not os.path.exists(os.environ["TEST_START_GATE"]):
    time.sleep(0.001)
print(f"gate-open {time.time():.6f}", flush=True)
jobs.catch_up(app)
print(f"catch-up-done {time.time():.6f}", flush=True)
print("caught up", flush=True)
time.sleep(600)
"""


def _env(db_url, instance, fake_now, **extra):
    return {**os.environ, "TRACKER_DATABASE_URL": db_url, "TRACKER_INSTANCE_PATH": str(instance),
            "TRACKER_FAKE_NOW": fake_now, "TRACKER_ALLOW_FAKE_NOW": "1", "TRACKER_SECRET_KEY": "x",
            "TRACKER_SMTP_PORT": "1", "PYTHONUNBUFFERED": "1", "TRACKER_SCHEDULER_INTERVAL": "0.5",
            **extra}


class Proc:
    """A scheduler subprocess whose output a thread collects, so that the test can watch several at once."""

    def __init__(self, args, env):
        self.p = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.pid = self.p.pid
        self.lines = []  # (time.monotonic(), line)
        self.reader = threading.Thread(target=self._pump, daemon=True)
        self.reader.start()

    def _pump(self):
        for line in self.p.stdout:
            self.lines.append((time.monotonic(), line))

    @property
    def log(self) -> str:
        return "".join(line for _, line in list(self.lines))

    def seen(self, marker: str):
        """When a line with the marker came, or None."""
        return next((t for t, line in list(self.lines) if marker in line), None)

    def wait_for(self, marker: str, deadline: float) -> float:
        while (t := self.seen(marker)) is None:
            assert time.monotonic() < deadline, f"no {marker!r} from pid {self.pid}:\n{self.log}"
            assert self.p.poll() is None or self.reader.is_alive(), f"pid {self.pid} exited early:\n{self.log}"
            time.sleep(0.05)
        return t

    def stop(self, sig=signal.SIGTERM):
        if self.p.poll() is None:
            self.p.send_signal(sig)
        self.p.wait(timeout=20)
        self.reader.join(5)


def _start(db_url, instance, fake_now, **extra):
    return Proc([FLASK, "--app", "wsgi", "scheduler"], _env(db_url, instance, fake_now, **extra))


def _start_gated(db_url, instance, fake_now, gate):
    return Proc([sys.executable, "-c", GATED], _env(db_url, instance, fake_now, TEST_START_GATE=str(gate)))


def _no_failed_job(procs):
    for p in procs:
        assert not FAILED_JOB.search(p.log), f"a job failed:\n{p.log}"


def _wait_caught_up(procs, timeout=60, gate=None):
    """Wait until every process has finished its start-up catch-up (with a gate: once all are ready at it, open it
    for all at once); then stop them, and check that no job failed. Returns their logs."""
    deadline = time.monotonic() + timeout
    try:
        if gate is not None:
            for p in procs:
                p.wait_for("ready", deadline)
            gate.touch()
        for p in procs:
            p.wait_for("caught up", deadline)
    finally:
        for p in procs:
            p.stop()
    _no_failed_job(procs)
    return {p: p.log for p in procs}


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


def test_two_catch_ups_at_the_same_moment_make_one_round(app, db, db_url, tmp_path, site_factory):
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


def _leading(procs, deadline, exclude=()):
    """The one process that says it leads, once the others say they follow."""
    while True:
        alive = [p for p in procs if p not in exclude]
        leaders = [p for p in alive if p.seen("scheduler: leading")]
        if leaders and all(p in leaders or p.seen("scheduler: following") for p in alive):
            assert len(leaders) == 1, [p.log for p in leaders]
            return leaders[0]
        assert time.monotonic() < deadline, "\n---\n".join(p.log for p in procs)
        time.sleep(0.05)


def test_two_schedulers_elect_one_leader_which_alone_catches_up(app, db, db_url, tmp_path, site_factory):
    sites = [site_factory() for _ in range(30)]
    db.session.commit()
    procs = [_start(db_url, tmp_path / f"i{n}", "2020-03-10T09:00:00+09:00") for n in range(2)]
    try:
        deadline = time.monotonic() + 60
        leader = _leading(procs, deadline)
        leader.wait_for("caught up", deadline)
        time.sleep(1.5)  # three of the follower's rounds: it keeps following
    finally:
        for p in procs:
            p.stop()
    _no_failed_job(procs)
    (follower,) = [p for p in procs if p is not leader]
    assert _made(leader.log) == len(sites)
    assert "scheduler: leading" not in follower.log and "job weekly_round" not in follower.log
    total, distinct = _counts(db)
    assert total == distinct == len(sites)
    assert set(db.session.scalars(select(Task.week))) == {"2020-W11"}


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
    assert set(by_id) == JOB_IDS
    # Every job has a period after which the admin pages call it late.
    assert set(by_id) <= set(scheduler_status.PERIODS)
    for job in by_id.values():
        assert job.coalesce is True
        assert job.max_instances == 1
        assert job.misfire_grace_time == jobs.MISFIRE_GRACE
    assert str(by_id["weekly_round"].trigger) == "cron[day_of_week='mon', hour='0', minute='5']"
    assert str(by_id["mark_overdue"].trigger) == "cron[minute='1']"  # hourly, at one past
    assert str(by_id["deliver_outbox"].trigger) == "interval[0:02:00]"
    assert str(by_id["weekly_summary"].trigger) == "cron[day_of_week='mon', hour='8', minute='0']"
    assert str(by_id["purge_expired"].trigger) == "cron[hour='3', minute='30']"  # daily, at night
    # Hourly, after the late check: each reminder picks its own day and time from config.
    assert str(by_id["task_reminders"].trigger) == str(by_id["lead_digest"].trigger) == "cron[minute='10']"
    for job_id in ("weekly_round", "mark_overdue", "weekly_summary", "purge_expired", "task_reminders", "lead_digest"):
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
        assert set(after) == set(before) == JOB_IDS
    finally:
        sched.shutdown(wait=False)


ON_POSTGRES = os.environ.get("TRACKER_TEST_ENGINE", "sqlite") == "postgres"
RECIPIENTS = "lead@district.example,chief@district.example"
MONDAY_MORNING = "2020-03-16T09:30:00+09:00"  # the round of 2020-W12 and last week's summary are both due


def _status(app):
    from tracker.services import scheduler_status
    with app.app_context():
        return scheduler_status.status()


def _wait_status(app, ready, timeout=15):
    """The status table once `ready(status)` holds (each process writes its row at its first round)."""
    deadline = time.monotonic() + timeout
    while not ready(status := _status(app)):
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    return status


@pytest.mark.skipif(not ON_POSTGRES, reason="the advisory lock is PostgreSQL's; SQLite has its own test below")
def test_three_schedulers_elect_one_and_a_killed_leader_is_replaced_within_30_s(app, db, db_url, tmp_path,
                                                                                 site_factory):
    """Three schedulers (one per machine, say) on one PostgreSQL: exactly one leads. SIGKILL it: another leads
    within 30 s, at the default interval, and catches up (the sites added meanwhile get their round); the week's
    tasks and the summary to each recipient exist once."""
    first = [site_factory() for _ in range(5)]
    db.session.commit()
    procs = [_start(db_url, tmp_path / f"m{n}", MONDAY_MORNING, TRACKER_SCHEDULER_INTERVAL="5",
                    TRACKER_SUMMARY_RECIPIENTS=RECIPIENTS) for n in range(3)]
    try:
        deadline = time.monotonic() + 90
        leader = _leading(procs, deadline)
        leader.wait_for("caught up", deadline)
        assert _made(leader.log) == len(first)
        status = _wait_status(app, lambda st: len(st["followers"]) == 2)
        assert status["leader"]["pid"] == leader.pid
        assert sorted(f["pid"] for f in status["followers"]) == sorted(p.pid for p in procs if p is not leader)
        later = [site_factory() for _ in range(3)]
        db.session.commit()

        leader.stop(signal.SIGKILL)
        killed_at = time.monotonic()
        successor = _leading(procs, killed_at + 30, exclude=(leader,))
        took_over = successor.seen("scheduler: leading") - killed_at
        assert took_over < 30
        successor.wait_for("caught up", time.monotonic() + 60)
        assert _made(successor.log) == len(later)
        status = _status(app)
        assert status["leader"]["pid"] == successor.pid
        # The dead leader's row no longer leads; it stays in the list, last seen at its death, until forgotten.
        assert sorted(f["pid"] for f in status["followers"]) == sorted(p.pid for p in procs if p is not successor)
    finally:
        for p in procs:
            p.stop()
    _no_failed_job(procs)
    total, distinct = _counts(db)
    assert total == distinct == len(first) + len(later)
    from tracker.models import Outbox
    mails = db.session.execute(select(Outbox.kind, Outbox.period, Outbox.recipient, func.count())
                               .group_by(Outbox.kind, Outbox.period, Outbox.recipient)).all()
    assert sorted(mails) == sorted(("weekly_summary", "2020-W11", r, 1) for r in RECIPIENTS.split(","))


@pytest.mark.skipif(ON_POSTGRES, reason="the file lock guards SQLite, on one machine; PostgreSQL has its own test")
def test_a_second_scheduler_on_sqlite_waits_for_the_file_lock_and_takes_over_when_the_first_dies(
        app, db, db_url, tmp_path, site_factory):
    first = [site_factory() for _ in range(4)]
    db.session.commit()
    a = _start(db_url, tmp_path / "a", MONDAY_MORNING, TRACKER_SUMMARY_RECIPIENTS=RECIPIENTS)
    procs = [a]
    try:
        a.wait_for("caught up", time.monotonic() + 60)
        b = _start(db_url, tmp_path / "b", MONDAY_MORNING, TRACKER_SUMMARY_RECIPIENTS=RECIPIENTS)
        procs.append(b)
        b.wait_for("scheduler: following", time.monotonic() + 60)
        time.sleep(2)  # four of its rounds: it waits, and runs nothing
        assert "scheduler: leading" not in b.log and "job " not in b.log
        later = [site_factory() for _ in range(2)]
        db.session.commit()
        a.stop(signal.SIGKILL)
        killed_at = time.monotonic()
        took_over = b.wait_for("scheduler: leading", killed_at + 10) - killed_at
        assert took_over < 2  # its next round, 0.5 s apart here
        b.wait_for("caught up", time.monotonic() + 60)
        assert _made(b.log) == len(later)
        assert _status(app)["leader"]["pid"] == b.pid
    finally:
        for p in procs:
            p.stop()
    _no_failed_job(procs)
    assert _counts(db) == (len(first) + len(later),) * 2
    from tracker.models import Outbox
    assert db.session.scalar(select(func.count()).select_from(Outbox)) == len(RECIPIENTS.split(","))


def test_make_run_waits_while_another_scheduler_leads_then_takes_over(app, monkeypatch):
    """`make run`'s scheduler takes part in the same election: while another process holds the lock it runs no job
    and says so at start; once the lock is free it leads, with every job on its scheduler."""
    from tracker import console, leadership
    monkeypatch.delenv("TRACKER_NO_SCHEDULER", raising=False)
    monkeypatch.delenv("WERKZEUG_RUN_MAIN", raising=False)
    app.config["TRACKER_SCHEDULER_INTERVAL"] = 0.2
    other = leadership.lock_for(app.config["SQLALCHEMY_DATABASE_URI"], app.instance_path)
    assert other.acquire()
    elector, done = jobs.start_in_process(app)
    try:
        assert done is None and elector.leading is False and elector.sched.get_jobs() == []
        assert console.start_lines(app, "http://x/", done, [])[1].startswith("Scheduler: waiting")
        time.sleep(0.6)
        assert elector.leading is False
        other.release()
        deadline = time.monotonic() + 30
        while not (elector.leading and elector.sched.get_jobs()):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert {j.id for j in elector.sched.get_jobs()} == JOB_IDS
    finally:
        elector.shutdown()
        other.release()


@pytest.mark.skipif(not ON_POSTGRES, reason="a PostgreSQL connection to lose")
def test_a_leader_that_loses_its_database_connection_stops_leading_at_its_next_round(app, db):
    """The server ends the leader's lock session (as it does for a machine gone silent, through the keepalives):
    at its next round the process stops leading and drops its jobs, while another process takes the lock."""
    from sqlalchemy import text

    from tracker import leadership
    elector = jobs.Elector(app)
    other = leadership.lock_for(app.config["SQLALCHEMY_DATABASE_URI"], app.instance_path)
    try:
        elector.step()
        assert elector.leading and elector.sched.get_jobs()
        db.session.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE application_name = 'tracker-scheduler-lock' AND datname = current_database()"))
        db.session.commit()
        deadline = time.monotonic() + 10
        while not other.acquire():  # the lock is free once the server has ended the session
            assert time.monotonic() < deadline
            time.sleep(0.05)
        elector.step()
        assert elector.leading is False and elector.sched.get_jobs() == []
        other.release()
        elector.step()  # the lock is free again: the process leads again, from a new connection
        assert elector.leading and elector.sched.get_jobs()
    finally:
        elector.shutdown()
        other.release()
