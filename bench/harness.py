"""Shared pieces of bench/load.py and bench/faults.py: a database of either engine, a gunicorn under test,
seeded users and tokens, and simulated inspectors that submit over plain http.client.

Loopback only; every process started here is stopped here, by its own pid.
"""
import contextlib
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PG_BASE = os.environ.get("TRACKER_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
HTTP_TIMEOUT = 30


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def database(engine: str, tmp: Path, pg_base: str | None = None):
    """A new, empty database: a SQLite file under tmp, or a PostgreSQL database of its own, dropped after."""
    if engine == "sqlite":
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    base = pg_base or PG_BASE
    name = f"tracker_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def app_env(url: str, instance: Path, **extra) -> dict:
    env = {**os.environ, "TRACKER_DATABASE_URL": url, "TRACKER_INSTANCE_PATH": str(instance),
           "TRACKER_SECRET_KEY": "bench-secret-key", "TRACKER_SMTP_PORT": "1", "PYTHONUNBUFFERED": "1"}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def flask(args, env, timeout=300) -> str:
    out = subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    return out.stdout


SETUP = r"""
import json, sys
from wsgi import app
from tracker.extensions import db
from tracker.models import Site
from tracker.services import accounts, demo
n = int(sys.argv[1])
with app.app_context():
    demo.seed(out=lambda *a, **k: None)
    db.session.commit()
    tokens = []
    for i in range(n):
        email = f"bench-inspector-{i}@example.test"
        user = accounts.find_user(email) or accounts.create_user(email, f"Bench {i}", "inspector", "bench-password-1")
        tokens.append(accounts.create_token(user))
    lead = accounts.find_user("bench-lead@example.test") or accounts.create_user(
        "bench-lead@example.test", "Bench lead", "lead", "bench-password-1")
    lead_token = accounts.create_token(lead)
    db.session.commit()
    sites = [{"id": s.id, "qr_token": s.qr_token} for s in db.session.scalars(
        db.select(Site).where(Site.status == "active"))]
print("SETUP=" + json.dumps({"tokens": tokens, "lead_token": lead_token, "sites": sites}))
"""


def prepare(url: str, instance: Path, inspectors: int) -> dict:
    """Migrate an empty database, add what the migrations lack, seed the demo, make inspector tokens."""
    env = app_env(url, instance)
    t0 = time.monotonic()
    flask(["db", "upgrade"], env)
    out = subprocess.run([sys.executable, "-c", SETUP, str(inspectors)], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
    if out.returncode != 0:
        raise RuntimeError(f"setup failed:\n{out.stdout}\n{out.stderr}")
    line = next(ln for ln in out.stdout.splitlines() if ln.startswith("SETUP="))
    data = json.loads(line[len("SETUP="):])
    data["setup_seconds"] = time.monotonic() - t0
    return data


class Gunicorn:
    """gunicorn -c gunicorn.conf.py wsgi:app on a free loopback port, stopped by its own pid."""

    def __init__(self, url: str, instance: Path, workers: int = 4, log: Path | None = None):
        self.port = free_port()
        self.log_path = log or instance / "gunicorn.log"
        self.env = app_env(url, instance, TRACKER_WORKERS=workers, TRACKER_BIND=f"127.0.0.1:{self.port}",
                           TRACKER_ACCESS_LOG=str(instance / "access.log"))
        self.proc = None

    def start(self, timeout=60):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
                                     env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited early; see {self.log_path}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200 and len(self.worker_pids()) >= int(self.env["TRACKER_WORKERS"]):
                    conn.close()
                    return self
                conn.close()
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer /healthz in time")

    def worker_pids(self) -> list[int]:
        """The master's children, read from /proc."""
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                if ppid == self.proc.pid:
                    pids.append(int(entry.name))
        return sorted(pids)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Client:
    """One simulated phone: a keep-alive connection, reopened after any network error."""

    def __init__(self, port: int, token: str):
        self.port, self.token, self.conn = port, token, None

    def _conn(self):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HTTP_TIMEOUT)
        return self.conn

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method: str, path: str, body=None) -> tuple[int, dict | None, float]:
        """(status, JSON body or None, seconds); raises OSError/HTTPException when the network fails."""
        headers = {"Authorization": f"Bearer {self.token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        t0 = time.perf_counter()
        try:
            conn = self._conn()
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        elapsed = time.perf_counter() - t0
        if resp.getheader("Connection", "").lower() == "close":
            self.close()
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = None
        return resp.status, payload, elapsed

    def send_and_drop(self, path: str, body) -> None:
        """Send a whole POST on a fresh socket and close it at once, as a phone losing its signal does."""
        data = json.dumps(body).encode()
        head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nAuthorization: Bearer {self.token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\nConnection: close\r\n\r\n")
        with socket.create_connection(("127.0.0.1", self.port), timeout=HTTP_TIMEOUT) as s:
            s.sendall(head.encode() + data)
            # A plain close right after sending: the server still reads and saves the request, and its answer
            # goes nowhere. The phone never learns whether it was saved, so it retries with the same client_uuid.


def checklist_items(port: int, token: str) -> list[dict]:
    status, body, _ = Client(port, token).request("GET", "/api/v1/checklist")
    assert status == 200, (status, body)
    return body["items"]


def make_payload(rng: random.Random, sites: list[dict], items: list[dict]) -> dict:
    """A valid submission: every item that applies to the mode answered, mostly yes."""
    site = rng.choice(sites)
    mode = rng.choice(["onsite", "phone"])
    answers = {}
    for item in items:
        if mode in item["modes"]:
            value = rng.choices(["yes", "no", "na"], weights=[85, 10, 5])[0]
            answers[item["key"]] = {"value": value, "note": "" if value == "yes" else "bench"}
    body = {"client_uuid": str(uuid.uuid4()), "mode": mode, "answers": answers}
    if mode == "onsite":
        body["qr_token"] = site["qr_token"]
    else:
        body.update(site_id=site["id"], contact_name="방역담당자")
    return body


class Tally:
    """What the simulated inspectors saw, gathered across threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.acked: dict[str, int] = {}      # client_uuid -> inspection id from a 2xx
        self.mismatched: list[str] = []      # a replay answered with another id
        self.network_errors = 0
        self.dropped = 0
        self.duplicates = 0
        self.gave_up: list[str] = []

    def record(self, status, elapsed):
        with self.lock:
            self.latencies.append(elapsed)
            self.statuses[status] = self.statuses.get(status, 0) + 1

    def ack(self, client_uuid, inspection_id):
        with self.lock:
            prev = self.acked.setdefault(client_uuid, inspection_id)
            if prev != inspection_id:
                self.mismatched.append(client_uuid)


def submit_until_saved(client: Client, body: dict, tally: Tally, attempts: int = 20) -> bool:
    """POST until a 2xx, retrying with the same client_uuid after network errors, 5xx or 503s."""
    for n in range(attempts):
        try:
            status, payload, elapsed = client.request("POST", "/api/v1/inspections", body)
        except (OSError, http.client.HTTPException):
            with tally.lock:
                tally.network_errors += 1
            time.sleep(min(0.05 * 2 ** n, 1.0))
            continue
        tally.record(status, elapsed)
        if status in (200, 201):
            tally.ack(body["client_uuid"], payload["id"])
            return True
        if status < 500:
            raise AssertionError(f"submission refused: {status} {payload}")
        time.sleep(min(0.05 * 2 ** n, 1.0))
    tally.gave_up.append(body["client_uuid"])
    return False


def run_inspectors(port: int, tokens: list[str], jobs: list[dict], tally: Tally, dup_rate=0.10, drop_rate=0.05,
                   seed=7, deadline_s=300, on_progress=None) -> float:
    """Threads, one per token, share the jobs; returns the wall time. Some are sent twice, some dropped first."""
    lock = threading.Lock()
    todo = list(enumerate(jobs))
    done = [0]
    stop_at = time.monotonic() + deadline_s

    def worker(idx):
        rng = random.Random(seed * 1000 + idx)
        client = Client(port, tokens[idx])
        try:
            while time.monotonic() < stop_at:
                with lock:
                    if not todo:
                        return
                    _, body = todo.pop()
                if rng.random() < drop_rate:
                    try:
                        client.send_and_drop("/api/v1/inspections", body)
                    except OSError:
                        pass
                    with tally.lock:
                        tally.dropped += 1
                if submit_until_saved(client, body, tally) and rng.random() < dup_rate:
                    with tally.lock:
                        tally.duplicates += 1
                    submit_until_saved(client, body, tally)  # a double tap: must come back 200, same id
                with lock:
                    done[0] += 1
                    if on_progress:
                        on_progress(done[0])
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(len(tokens))]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(1, stop_at - time.monotonic() + 5))
    return time.perf_counter() - t0


def run_trivial(port: int, tokens: list[str], count: int, path="/healthz") -> tuple[float, list[float], dict]:
    """The same threads and connections, GETting a trivial endpoint count times."""
    lock = threading.Lock()
    left = [count]
    latencies, statuses = [], {}

    def worker(idx):
        client = Client(port, tokens[idx])
        try:
            while True:
                with lock:
                    if left[0] <= 0:
                        return
                    left[0] -= 1
                status, _, elapsed = client.request("GET", path)
                with lock:
                    latencies.append(elapsed)
                    statuses[status] = statuses.get(status, 0) + 1
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(len(tokens))]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    return time.perf_counter() - t0, latencies, statuses


def cpu_seconds(pids) -> float:
    """User + system CPU seconds the given processes have used so far (Linux /proc)."""
    hz, total = os.sysconf("SC_CLK_TCK"), 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / hz


def postgres_backends(database_hint: str = "tracker_bench") -> list[int]:
    """The PostgreSQL server processes serving a bench database (their command line names it)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if cmd.startswith(b"postgres:") and database_hint.encode() in cmd:
                pids.append(int(entry.name))
    return pids


class CpuMeter:
    """CPU used per phase by the gunicorn workers, the PostgreSQL backends and this load generator itself."""

    def __init__(self, server):
        self.server = server
        self.totals: dict[str, list[float]] = {}

    def _now(self):
        import resource
        me = resource.getrusage(resource.RUSAGE_SELF)
        return (cpu_seconds(self.server.worker_pids()), cpu_seconds(postgres_backends()), me.ru_utime + me.ru_stime)

    def measure(self, phase: str, fn):
        before = self._now()
        result = fn()
        after = self._now()
        acc = self.totals.setdefault(phase, [0.0, 0.0, 0.0])
        for i in range(3):
            acc[i] += max(0.0, after[i] - before[i])
        return result

    def per_request_ms(self, phase: str, requests: int) -> dict:
        server, pg, client = self.totals.get(phase, [0.0, 0.0, 0.0])
        return {k: round(1000 * v / requests, 2) if requests else None
                for k, v in (("server", server), ("postgres", pg), ("client", client))}


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"p50": None, "p95": None, "p99": None}
    s = sorted(values)

    def p(q):
        return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))] * 1000
    return {"p50": round(p(50), 1), "p95": round(p(95), 1), "p99": round(p(99), 1)}


def verify(url: str, tally: Tally, expected_uuids: set[str]) -> dict:
    """Straight from the database: nothing acknowledged is missing, nothing is saved twice."""
    from sqlalchemy import create_engine, text
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT client_uuid, id FROM inspection")).all()
            answers_orphaned = conn.scalar(text(
                "SELECT count(*) FROM answer a LEFT JOIN inspection i ON i.id = a.inspection_id WHERE i.id IS NULL"))
    finally:
        engine.dispose()
    saved = {}
    for cu, iid in rows:
        saved.setdefault(cu, []).append(iid)
    lost = [cu for cu in tally.acked if cu not in saved]
    wrong_id = [cu for cu, iid in tally.acked.items() if cu in saved and saved[cu] != [iid]]
    return {
        "rows": len(rows),
        "distinct_client_uuids": len(saved),
        "duplicated": len(rows) - len(saved),
        "lost": len(lost),
        "acked_with_other_id": len(wrong_id) + len(tally.mismatched),
        "never_saved": len(expected_uuids - set(saved)),
        "unexpected": len(set(saved) - expected_uuids),
        "answers_orphaned": answers_orphaned,
        "five_xx": sum(n for s, n in tally.statuses.items() if s >= 500),
        "gave_up": len(tally.gave_up),
    }


def tmpdir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))
