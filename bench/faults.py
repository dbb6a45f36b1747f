"""Faults: what production survives, on SQLite and PostgreSQL, with gunicorn's 4 workers.

    .venv/bin/python bench/faults.py [--engines sqlite,postgres] [--only worker,lock,scheduler]

1. worker   SIGKILL a gunicorn worker twice in the middle of a load; the phones retry with the same
            client_uuid. Checked in the database: nothing acknowledged lost, nothing saved twice, no 5xx,
            and the master replaced the worker.
2. lock     (SQLite) another connection holds the write lock for 2 s (BEGIN IMMEDIATE; sleep 2; COMMIT)
            while submissions come in: they wait, then succeed; no 5xx.
3. scheduler `flask --app wsgi scheduler` is SIGKILLed while its catch-up holds an open write transaction
            (seen from outside: the database refuses a second writer, or pg_stat_activity shows the
            transaction), several times; the next start completes it: exactly one task per site per week and
            one summary e-mail per recipient.
   SMTP down: covered by tests/test_outbox.py::test_server_down_keeps_mail_queued_then_it_arrives_once (a real
            aiosmtpd stopped and started again: the mail stays queued, then arrives once).

Loopback only; bounded in time; stops by itself; exits non-zero when any check fails.
"""
import argparse
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402

SEED = 20200309
# A Monday after 08:00 in Seoul: the catch-up makes the week's round, marks what is late and queues last
# week's summary, all in one start.
FAKE_NOW = "2020-03-16T09:30:00+09:00"
RECIPIENTS = "lead@district.example,chief@district.example"


def log(msg):
    print(msg, flush=True)


def _check_load(name, url, tally, jobs, extra_ok=True) -> list[str]:
    r = harness.verify(url, tally, {j["client_uuid"] for j in jobs})
    log(f"  database: {r}")
    bad = [f"{name}: {k}={r[k]}" for k in ("lost", "duplicated", "acked_with_other_id", "never_saved",
                                            "unexpected", "answers_orphaned", "five_xx", "gave_up") if r[k]]
    if r["rows"] != len(jobs):
        bad.append(f"{name}: rows {r['rows']} != {len(jobs)}")
    return bad


def worker_kill(engine: str) -> list[str]:
    """SIGKILL one worker at a third and another at two thirds of the load."""
    log(f"\n## {engine}: SIGKILL a gunicorn worker in the middle of the load")
    tmp = harness.tmpdir(f"tracker-faults-{engine}-")
    bad = []
    with harness.database(engine, tmp) as url:
        setup = harness.prepare(url, tmp / "instance", 20)
        with harness.Gunicorn(url, tmp / "instance", workers=4) as server:
            items = harness.checklist_items(server.port, setup["tokens"][0])
            rng = random.Random(SEED)
            jobs = [harness.make_payload(rng, setup["sites"], items) for _ in range(400)]
            tally = harness.Tally()
            killed, before = [], server.worker_pids()
            marks = {len(jobs) // 3, 2 * len(jobs) // 3}

            def progress(n):
                if n in marks:
                    marks.discard(n)
                    pid = random.Random(n).choice(server.worker_pids())
                    os.kill(pid, signal.SIGKILL)
                    killed.append((n, pid))
            wall = harness.run_inspectors(server.port, setup["tokens"], jobs, tally, dup_rate=0.10, drop_rate=0.0,
                                          seed=SEED, on_progress=progress)
            time.sleep(1)
            after = server.worker_pids()
        log(f"  {len(jobs)} submissions by 20 inspectors in {wall:.1f} s; killed {killed}; "
            f"network errors seen by clients (then retried): {tally.network_errors}; statuses {tally.statuses}")
        log(f"  workers before {before}, after {after}")
        if len(killed) != 2:
            bad.append(f"worker: killed {len(killed)} workers, meant 2")
        if len(after) != 4 or any(pid in after for _, pid in killed):
            bad.append(f"worker: master did not replace the killed workers: {after}")
        bad += _check_load("worker", url, tally, jobs)
    return bad


def write_lock(engine: str) -> list[str]:
    """A 2 s write lock held by another SQLite connection while submissions come in."""
    if engine != "sqlite":
        return []
    log(f"\n## {engine}: another connection holds the write lock for 2 s during submissions")
    tmp = harness.tmpdir("tracker-faults-lock-")
    bad = []
    with harness.database(engine, tmp) as url:
        setup = harness.prepare(url, tmp / "instance", 10)
        path = url.removeprefix("sqlite:///")
        with harness.Gunicorn(url, tmp / "instance", workers=4) as server:
            items = harness.checklist_items(server.port, setup["tokens"][0])
            rng = random.Random(SEED + 1)
            jobs = [harness.make_payload(rng, setup["sites"], items) for _ in range(300)]
            tally = harness.Tally()
            window = {}

            def hold():
                time.sleep(1.0)  # let the load get going first
                conn = sqlite3.connect(path, timeout=30, isolation_level=None)
                conn.execute("BEGIN IMMEDIATE")
                window["start"] = time.perf_counter()
                time.sleep(2)
                conn.execute("COMMIT")
                window["end"] = time.perf_counter()
                conn.close()
            holder = threading.Thread(target=hold)
            # Timestamps of each request, to find those that arrived while the lock was held.
            spans = []
            orig = harness.Client.request

            def timed(self, method, p, body=None):
                t0 = time.perf_counter()
                out = orig(self, method, p, body)
                spans.append((t0, time.perf_counter(), out[0]))
                return out
            harness.Client.request = timed
            try:
                holder.start()
                wall = harness.run_inspectors(server.port, setup["tokens"], jobs, tally, dup_rate=0.0,
                                              drop_rate=0.0, seed=SEED)
                holder.join()
            finally:
                harness.Client.request = orig
        # Requests in flight at some moment of the lock: they had to wait for it.
        during = [(a, b, s) for a, b, s in spans if a < window["end"] and b > window["start"]]
        waited = max((b - a for a, b, _ in during), default=0)
        log(f"  {len(jobs)} submissions in {wall:.1f} s; {len(during)} requests were in flight while the lock was "
            f"held; their statuses {sorted({s for *_, s in during})}; longest of them {waited:.2f} s; "
            f"all statuses {tally.statuses}")
        if not during:
            bad.append("lock: no request came in while the lock was held")
        if any(s != 201 for *_, s in during):
            bad.append("lock: a request during the lock did not succeed")
        if waited < 1.0:
            bad.append(f"lock: requests did not wait for the lock (longest {waited:.2f} s)")
        bad += _check_load("lock", url, tally, jobs)
    return bad


SITES_SQL = r"""
import sys, secrets
from wsgi import app
from tracker import district
from tracker.extensions import db
from tracker.models import Site
n = int(sys.argv[1])
with app.app_context():
    d = district.current()
    rows = [{"name": f"부하센터{i}", "business_no": f"9{i // 100000:02d}-{i // 1000 % 100:02d}-{i % 100000:05d}",
             "dong": d.dongs[i % len(d.dongs)], "headcount": 20 + i % 700, "size_band": d.band_for(20 + i % 700),
             "status": "active", "qr_token": secrets.token_urlsafe(24), "address": "", "manager_name": "",
             "manager_phone": ""} for i in range(n)]
    db.session.execute(Site.__table__.insert(), rows)
    db.session.commit()
print("ok")
"""


def _writer_busy(engine, url, path) -> bool:
    """Whether a scheduler transaction is open and writing right now, seen from outside."""
    if engine == "sqlite":
        conn = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            conn.close()
    import psycopg
    from sqlalchemy.engine import make_url
    u = make_url(url)
    with psycopg.connect(host=u.host, port=u.port, user=u.username, dbname=u.database, autocommit=True) as c:
        return bool(c.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                              "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL").fetchone()[0])


def scheduler_kill(engine: str, sites: int = 10000, kills: int = 3) -> list[str]:
    log(f"\n## {engine}: SIGKILL the scheduler in the middle of its catch-up ({sites} sites), then start again")
    tmp = harness.tmpdir(f"tracker-faults-sched-{engine}-")
    bad = []
    with harness.database(engine, tmp) as url:
        env = harness.app_env(url, tmp / "instance", TRACKER_FAKE_NOW=FAKE_NOW, TRACKER_ALLOW_FAKE_NOW=1,
                              TRACKER_SUMMARY_RECIPIENTS=RECIPIENTS)
        harness.flask(["db", "upgrade"], env)
        out = subprocess.run([sys.executable, "-c", SITES_SQL, str(sites)], cwd=harness.ROOT, env=env,
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        path = url.removeprefix("sqlite:///")
        from sqlalchemy import create_engine, text
        eng = create_engine(url)

        def counts():
            with eng.connect() as c:
                return (c.scalar(text("SELECT count(*) FROM task")),
                        c.scalar(text("SELECT count(*) FROM (SELECT DISTINCT site_id, week, kind, slot FROM task) t")),
                        c.scalar(text("SELECT count(*) FROM outbox")))
        killed_mid = 0
        for attempt in range(kills):
            proc = subprocess.Popen([str(harness.BIN / "flask"), "--app", "wsgi", "scheduler"], cwd=harness.ROOT,
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            t0 = time.monotonic()
            mid = False
            while time.monotonic() - t0 < 120 and proc.poll() is None:
                if _writer_busy(engine, url, path):
                    mid = True
                    break
                time.sleep(0.005)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            output = proc.stdout.read()
            proc.stdout.close()
            killed_mid += mid
            c = counts()
            log(f"  start {attempt + 1}: killed after {time.monotonic() - t0:.2f} s, "
                f"{'with a write transaction open' if mid else 'NOT mid-transaction'}; "
                f"tasks {c[0]} (distinct {c[1]}), outbox {c[2]}; caught up before the kill: {'caught up' in output}")
            if c[0] not in (0, sites) or c[0] != c[1]:
                bad.append(f"scheduler: a killed run left {c[0]} tasks ({c[1]} distinct) for {sites} sites")
        proc = subprocess.Popen([str(harness.BIN / "flask"), "--app", "wsgi", "scheduler"], cwd=harness.ROOT,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        t0 = time.monotonic()
        output = ""
        try:
            while "caught up" not in output and time.monotonic() - t0 < 180:
                line = proc.stdout.readline()
                if not line and proc.poll() is not None:
                    break
                output += line
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            proc.stdout.close()
        total, distinct, outbox = counts()
        with eng.connect() as c:
            per_site = c.execute(text("SELECT week, count(*) FROM task WHERE kind = 'weekly_monitoring' "
                                      "GROUP BY week")).all()
            mails = c.execute(text("SELECT kind, period, recipient, count(*) FROM outbox "
                                   "GROUP BY kind, period, recipient")).all()
        eng.dispose()
        log(f"  final start: caught up in {time.monotonic() - t0:.1f} s: {'caught up' in output}; tasks {total} "
            f"(distinct {distinct}) by week {per_site}; outbox {mails}")
        if killed_mid == 0:
            bad.append("scheduler: no kill landed in the middle of a transaction")
        if "caught up" not in output:
            bad.append("scheduler: the restarted scheduler did not catch up:\n" + output[-2000:])
        if total != distinct or per_site != [("2020-W12", sites)]:
            bad.append(f"scheduler: expected one task per site for 2020-W12, got {per_site} ({total}/{distinct})")
        if len(mails) != len(RECIPIENTS.split(",")) or any(m[3] != 1 for m in mails):
            bad.append(f"scheduler: expected one summary per recipient, got {mails}")
    return bad


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engines", default="sqlite,postgres")
    ap.add_argument("--only", default="worker,lock,scheduler")
    args = ap.parse_args(argv)
    log(f"# faults bench {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores")
    steps = {"worker": worker_kill, "lock": write_lock, "scheduler": scheduler_kill}
    bad = []
    t0 = time.monotonic()
    for engine in args.engines.split(","):
        for name in args.only.split(","):
            bad += [f"{engine} {b}" for b in steps[name](engine)]
    log("\nSMTP down: see tests/test_outbox.py::test_server_down_keeps_mail_queued_then_it_arrives_once")
    log(f"\nRESULT ({time.monotonic() - t0:.0f} s): " + ("PASS" if not bad else "FAIL:\n  " + "\n  ".join(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
