"""Two machines on this one (issue 17): two app servers (gunicorn with gunicorn.conf.py, as `make serve`), each with
an instance folder of its own, and three `flask --app wsgi scheduler` processes, all sharing one PostgreSQL database
and one S3 server (moto's, behind a gate the test can close), as the README's Deploying section sets them up.

Phones submit inspections with photos to both servers and read each photo back from the other; the leading
scheduler is SIGKILLed and another takes over within 30 s, the week's tasks and one summary per recipient existing
once; the photo store goes away in the middle of the submissions, and nothing is lost, half-saved or saved twice."""
import http.cookiejar
import io
import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from hashlib import sha256
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tests import test_scheduler_processes as sched
from tests.conftest import PASSWORD, csrf_from
from tests.s3server import free_port
from tracker.extensions import db as _db
from tracker.models import Answer, Inspection, Outbox, Photo, Task

pytestmark = pytest.mark.skipif(not sched.ON_POSTGRES,
                                reason="several machines share a PostgreSQL; SQLite is one machine's")

GUNICORN = str(Path(sys.executable).parent / "gunicorn")
WEEK, LAST_WEEK = "2020-W12", "2020-W11"  # MONDAY_MORNING's week: its round and last week's summary are due


def _machine_env(db_url, instance, store_url, s3):
    """What every process of a machine is given: the shared database, secret key and bucket; its own instance."""
    return sched._env(db_url, instance, sched.MONDAY_MORNING, **s3.env, TRACKER_STORAGE_URL=store_url,
                      TRACKER_SUMMARY_RECIPIENTS=sched.RECIPIENTS, TRACKER_SCHEDULER_INTERVAL="5")


class AppServer:
    """gunicorn -c gunicorn.conf.py wsgi:app on a free port (`make serve`); one worker, to spare the test's CPU."""

    def __init__(self, env):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = sched.Proc([GUNICORN, "-c", "gunicorn.conf.py", "wsgi:app"],
                               {**env, "TRACKER_BIND": f"127.0.0.1:{self.port}", "TRACKER_WORKERS": "1"})

    def wait_ready(self, deadline):
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=5) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            assert self.proc.p.poll() is None and time.monotonic() < deadline, self.proc.log
            time.sleep(0.2)


class Phone:
    """An inspector's phone: one cookie jar for both servers, as behind one load balancer (the cookie names no port)."""

    def __init__(self, user):
        self.user = user
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.results = []  # (client_uuid, status) of every submit, in order

    def request(self, url, body=None, headers=None):
        """(status, body bytes), 4xx and 5xx included."""
        req = urllib.request.Request(url, data=body, headers=headers or {})
        try:
            with self.opener.open(req, timeout=30) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            with err:
                return err.code, err.read()

    def log_in(self, server):
        _status, page = self.request(f"{server.url}/login")
        body, ctype = _multipart({"email": self.user.email, "password": PASSWORD,
                                  "csrf_token": csrf_from(page.decode())})
        status, page = self.request(f"{server.url}/login", body, {"Content-Type": ctype})
        assert status == 200 and b'name="password"' not in page, page.decode()[:2000]  # followed to the home page

    def open_form(self, server, site):
        """Scan the site's QR code: the on-site form, with its client_uuid and the scan's signed proof."""
        status, page = self.request(f"{server.url}/s/{site.qr_token}")
        assert status == 200, page.decode()[:2000]
        html = page.decode()
        return {"csrf_token": csrf_from(html), "mode": "onsite",
                "client_uuid": re.search(r'name="client_uuid" value="([^"]+)"', html).group(1),
                "scan_token": re.search(r'name="scan_token" value="([^"]+)"', html).group(1),
                "form_token": re.search(r'name="form_token" value="([^"]+)"', html).group(1)}

    def submit(self, server, site, form, answers, photo):
        """Post the form as the phone's script does (JSON answer); (status, JSON)."""
        fields = {**form, **{f"a-{key}": "yes" for key in answers}}
        fields[f"p-{answers[0]}"] = FileStorage(io.BytesIO(photo), filename="photo.jpg", content_type="image/jpeg")
        body, ctype = _multipart(fields)
        status, raw = self.request(f"{server.url}/inspect/sites/{site.id}", body,
                                   {"Content-Type": ctype, "Accept": "application/json"})
        self.results.append((form["client_uuid"], status))
        return status, json.loads(raw)

    def photo(self, server, sha):
        return self.request(f"{server.url}/photos/{sha}.jpg")


def _multipart(fields):
    boundary, body = encode_multipart(fields)
    return body, f"multipart/form-data; boundary={boundary}"


def jpeg(n: int) -> bytes:
    """A photo of its own colour for the n-th submission (photos are content-addressed)."""
    buf = io.BytesIO()
    Image.new("RGB", (96, 64), (n * 37 % 256, n * 91 % 256, 200)).save(buf, "JPEG")
    return buf.getvalue()


def _saved(app, uuids):
    """{client_uuid: (rows, photo sha256s)} of the inspections saved under these client_uuids."""
    with app.app_context():
        rows = _db.session.execute(select(Inspection.client_uuid, func.count(Inspection.id.distinct()),
                                          func.array_agg(Photo.sha256))
                                   .outerjoin(Photo, Photo.inspection_id == Inspection.id)
                                   .where(Inspection.client_uuid.in_(list(uuids)))
                                   .group_by(Inspection.client_uuid)).all()
    return {u: (n, [s for s in shas if s]) for u, n, shas in rows}


def _until_saved(phone, server, site, form, answers, photo, refused: threading.Event):
    """The phone's outbox: the same submission (same client_uuid) again until it is saved."""
    while (answer := phone.submit(server, site, form, answers, photo))[0] == 503:
        assert answer[1]["error"] == "unavailable", answer  # the store, not the inspection: send it again later
        refused.set()
        time.sleep(0.3)
    assert answer[0] == 201, (phone.results, answer)


def _photos_cross_machines(app, phones, reader, servers, sites, answers):
    """Step 1: each phone submits to its own machine; its photo is read back from the other one, by the phone and by
    a lead, and not by the other inspector."""
    first = {}
    for n, (phone, server) in enumerate(zip(phones, servers)):
        form = phone.open_form(server, sites[n])
        status, body = phone.submit(server, sites[n], form, answers, jpeg(n))
        assert status == 201 and body["created"], body
        first[form["client_uuid"]] = (phone, servers[1 - n])
    saved = _saved(app, first)
    assert sorted(saved) == sorted(first)
    for uuid, (rows, shas) in saved.items():
        phone, other = first[uuid]
        assert rows == 1 and len(shas) == 1
        for who in (phone, reader):
            status, raw = who.photo(other, shas[0])
            assert status == 200 and sha256(raw).hexdigest() == shas[0]
        assert phones[1 - phones.index(phone)].photo(other, shas[0])[0] == 404  # not the other inspector's


def _leader_killed(schedulers, env, deadline, n_sites, site_factory):
    """Step 2: one scheduler leads and made the week's round; SIGKILL it: another leads within 30 s (as
    scheduler-status says) and catches up the sites added meanwhile. Returns those sites."""
    leader = sched._leading(schedulers, deadline)
    leader.wait_for("caught up", deadline)
    assert sched._made(leader.log) == n_sites
    later = [site_factory() for _ in range(2)]
    leader.stop(signal.SIGKILL)
    killed_at = time.monotonic()
    successor = sched._leading(schedulers, killed_at + 30, exclude=(leader,))
    assert successor.seen("scheduler: leading") - killed_at < 30
    successor.wait_for("caught up", time.monotonic() + 60)
    assert sched._made(successor.log) == len(later)
    status = json.loads(subprocess.run([sched.FLASK, "--app", "wsgi", "scheduler-status"], cwd=sched.ROOT,
                                       env=env, capture_output=True, text=True, check=True, timeout=60).stdout)
    assert status["leader"]["pid"] == successor.pid
    alive = [p.pid for p in schedulers if p not in (leader, successor)]
    assert set(alive) <= {f["pid"] for f in status["followers"]}
    return later


def _submit_through_an_outage(app, s3_server, batch, forms, answers):
    """Step 3: the phones submit their batch; after two each the store goes away, and comes back once each phone has
    been refused. While it is down, a refused submission has no row. Returns the refused client_uuids."""
    phones = list(dict.fromkeys(b[0] for b in batch))
    refused = {p: threading.Event() for p in phones}
    submitted = {p: threading.Event() for p in phones}
    store_down = threading.Event()

    def run(phone):
        mine = [(b, f) for b, f in zip(batch, forms) if b[0] is phone]
        for n, ((_phone, server, site, photo), form) in enumerate(mine):
            if n == 2:  # two saved: the store goes away before the third
                submitted[phone].set()
                store_down.wait(30)
            _until_saved(phone, server, site, form, answers, photo, refused[phone])

    threads = [threading.Thread(target=run, args=(p,), daemon=True) for p in phones]
    for t in threads:
        t.start()
    for p in phones:
        assert submitted[p].wait(30)
    with s3_server.down():
        store_down.set()
        for p in phones:
            assert refused[p].wait(30), p.results
        turned_away = {u for p in phones for u, s in p.results if s == 503}
        # No inspection (hence no answer and no photo row) of a refused submission.
        assert _saved(app, turned_away) == {}
        with app.app_context():
            assert _db.session.scalar(select(func.count()).select_from(Answer).join(Inspection).where(
                Inspection.client_uuid.in_(turned_away))) == 0
        time.sleep(1)  # a few more of the phones' retries meet the closed store
    for t in threads:
        t.join(60)
        assert not t.is_alive()
    return turned_away


def test_two_machines_share_photos_and_a_scheduler_survives_the_leader_and_the_store_going_away(
        app, db_url, tmp_path, s3_server, default_checklist, make_user, site_factory):
    answers = [i.key for i in default_checklist.items if i.applies_to("onsite")]
    sites = [site_factory() for _ in range(16)]
    inspectors = [make_user("inspector") for _ in range(2)]
    lead = make_user("lead")
    store_url = f"s3://{s3_server.new_bucket()}/photos"
    env = {m: _machine_env(db_url, tmp_path / m, store_url, s3_server) for m in ("a", "b", "c")}
    # Machine a and machine b each run an app server and a scheduler; a third scheduler stands for a third machine.
    servers = [AppServer(env["a"]), AppServer(env["b"])]
    schedulers = [sched.Proc([sched.FLASK, "--app", "wsgi", "scheduler"], env[m]) for m in ("a", "b", "c")]
    try:
        deadline = time.monotonic() + 90
        for server in servers:
            server.wait_ready(deadline)
        phones = [Phone(user) for user in inspectors]
        for phone, server in zip(phones, servers):
            phone.log_in(server)
        reader = Phone(lead)
        reader.log_in(servers[1])
        _photos_cross_machines(app, phones, reader, servers, sites, answers)
        later = _leader_killed(schedulers, env["a"], deadline, len(sites), site_factory)

        batch = [(phones[n % 2], servers[n % 2], sites[2 + n], jpeg(2 + n)) for n in range(12)]
        forms = [phone.open_form(server, site) for phone, server, site, _photo in batch]
        turned_away = _submit_through_an_outage(app, s3_server, batch, forms, answers)
        # Nothing lost, nothing twice: every submission ended with one 201, after any number of 503s and nothing else.
        uuids = [f["client_uuid"] for f in forms]
        saved = _saved(app, uuids)
        assert sorted(saved) == sorted(uuids) and all(rows == 1 and len(shas) == 1 for rows, shas in saved.values())
        for phone in phones:
            outcome = {}
            for uuid, status in phone.results:
                outcome.setdefault(uuid, []).append(status)
            assert all(set(s[:-1]) <= {503} and s[-1] == 201 for s in outcome.values()), phone.results
        # A retry that arrives once more (the answer was lost, say) gets the saved inspection back.
        (phone, server, site, photo), form = next((b, f) for b, f in zip(batch, forms)
                                                  if f["client_uuid"] in turned_away)
        status, body = phone.submit(server, site, form, answers, photo)
        assert status == 200 and body["created"] is False
        assert _saved(app, [form["client_uuid"]])[form["client_uuid"]][0] == 1

        # Every photo a row names is in the bucket, and each comes back from the machine that did not take it.
        bucket, prefix = store_url.removeprefix("s3://").split("/", 1)
        in_bucket = {o["Key"] for o in s3_server.client().list_objects_v2(Bucket=bucket)["Contents"]}
        for (phone, server, _site, _photo), form in zip(batch, forms):
            (sha,) = saved[form["client_uuid"]][1]
            assert f"{prefix}/{sha}.jpg" in in_bucket
            status, raw = phone.photo(servers[1 - servers.index(server)], sha)
            assert status == 200 and sha256(raw).hexdigest() == sha
    finally:
        for proc in schedulers + [s.proc for s in servers]:
            proc.stop()
    sched._no_failed_job(schedulers + [s.proc for s in servers])

    # The week's tasks exist once per active site, and last week's summary once per recipient (the leads, and
    # TRACKER_SUMMARY_RECIPIENTS).
    with app.app_context():
        total, distinct = sched._counts(_db)
        assert total == distinct == len(sites) + len(later)
        assert set(_db.session.scalars(select(Task.week))) == {WEEK}
        mails = _db.session.execute(select(Outbox.kind, Outbox.period, Outbox.recipient, func.count())
                                    .group_by(Outbox.kind, Outbox.period, Outbox.recipient)).all()
    recipients = [*sched.RECIPIENTS.split(","), lead.email]
    assert sorted(mails) == sorted(("weekly_summary", LAST_WEEK, r, 1) for r in recipients)
