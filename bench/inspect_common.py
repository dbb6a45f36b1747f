"""Shared set-up of the inspection benches: an app on a throw-away database with the checklist, a site and an
inspector, and (for the browser bench) a real server in a background thread. Loopback only."""
import contextlib
import os
import re
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import harness  # noqa: E402  (bench/ is on sys.path when a bench script runs)
from tracker import create_app  # noqa: E402
from tracker.extensions import db  # noqa: E402

PASSWORD = "bench-password-1"


@contextlib.contextmanager
def bench_app(base_url: str | None = None):
    """(app, site, user) on a new SQLite file, or on a new PostgreSQL database made beside base_url."""
    engine = "postgres" if base_url else "sqlite"
    with tempfile.TemporaryDirectory() as tmp, harness.database(engine, tmp, base_url) as db_url:
        os.environ["TRACKER_INSTANCE_PATH"] = str(Path(tmp) / "instance")
        app = create_app({"SQLALCHEMY_DATABASE_URI": db_url,
                          "SECRET_KEY": "bench", "TRACKER_UPLOAD_DIR": str(Path(tmp) / "uploads")})
        with app.app_context():
            from tracker.services import accounts, checklist, sites
            db.create_all()
            checklist.ensure_default()
            site = sites.create_site({"name": "벤치 콜센터", "business_no": "123-45-67890", "dong": "여의동",
                                      "headcount": 120, "manager_name": "김담당", "manager_phone": "02-000-0000"})
            user = accounts.create_user("bench@example.test", "벤치", "inspector", PASSWORD)
            db.session.commit()
            try:
                yield app, site, user
            finally:
                db.session.remove()
                db.engine.dispose()


def login(client, email="bench@example.test"):
    """Log a Flask test client in through the real form."""
    fresh_request_state()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    resp = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302, resp.status_code


def fresh_request_state():
    """bench_app keeps one app context open, and test-client requests reuse its flask.g: forget what an earlier
    request cached there (the logged-in user, the CSRF token), as a new request in production would."""
    from flask import g
    for name in ("_login_user", "csrf_token"):
        g.pop(name, None)


@contextlib.contextmanager
def live(app):
    """The app behind werkzeug on 127.0.0.1:<free port>, in a thread; yields the base URL."""
    import logging

    from werkzeug.serving import make_server
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


@contextlib.contextmanager
def served():
    """The bench app's database behind gunicorn with the repository's gunicorn.conf.py (2 workers) on a free
    loopback port: (base url, site, qr token). Static files are built first, as `make assets` does."""
    from tracker import assets
    assets.ensure()
    with tempfile.TemporaryDirectory() as tmp, bench_app() as (app, site, _user):
        url = app.config["SQLALCHEMY_DATABASE_URI"]
        with harness.Gunicorn(url, Path(tmp), workers=2) as g:
            yield f"http://127.0.0.1:{g.port}", site.id, site.qr_token


def log_in_page(page, base):
    """Log a Playwright page in as the bench inspector through the real form."""
    page.goto(f"{base}/login")
    page.fill("input[name=email]", "bench@example.test")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/inspect")
