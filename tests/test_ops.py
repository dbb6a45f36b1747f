"""Operations: health check, SQLite settings, backups, security headers."""
import io
import sqlite3

import pytest
from sqlalchemy import text

from tests.conftest import ENGINE


def test_healthz_is_public_and_reports_the_database(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_says_503_when_the_database_is_gone(tmp_path, monkeypatch):
    from tracker import create_app
    monkeypatch.setenv("TRACKER_INSTANCE_PATH", str(tmp_path / "i"))
    app = create_app({"TESTING": True, "SECRET_KEY": "x",
                      "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none"})
    resp = app.test_client().get("/healthz")
    assert resp.status_code == 503
    assert resp.get_json()["database"] == "unreachable"


@pytest.mark.skipif(ENGINE != "sqlite", reason="SQLite pragmas")
def test_sqlite_runs_with_wal_busy_timeout_and_foreign_keys(app_ctx, db):
    conn = db.session.connection()
    assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 10000
    assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


@pytest.mark.skipif(ENGINE != "sqlite", reason="the backup command copies SQLite")
def test_backup_makes_a_readable_copy(app, site_factory, tmp_path):
    site_factory(name="백업센터")
    dest = tmp_path / "backup.db"
    result = app.test_cli_runner().invoke(args=["backup", str(dest)])
    assert result.exit_code == 0, result.output
    names = [r[0] for r in sqlite3.connect(dest).execute("select name from site")]
    assert names == ["백업센터"]


def test_security_headers(client):
    resp = client.get("/login")
    # Only the app's own origin, for everything; no inline script or style, nothing from another host.
    assert resp.headers["Content-Security-Policy"] == (
        "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; object-src 'none'; "
        "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Referrer-Policy"] == "same-origin"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    https = client.get("/login", base_url="https://tracker.test")
    assert "Strict-Transport-Security" in https.headers


def test_served_over_https_the_cookies_are_secure(tmp_path, monkeypatch, make_user, db_url):
    """With an https:// base URL the session cookie carries Secure (and HttpOnly, SameSite=Lax): it never
    travels in clear. Over plain http (one desk, `make run`) it would never come back, so it is not set there."""
    from tests.conftest import PASSWORD, csrf_from
    from tracker import create_app
    user = make_user("lead")
    for base, secure in (("https://tracker.district.example", True), ("http://127.0.0.1:5000", False)):
        monkeypatch.setenv("TRACKER_BASE_URL", base)
        monkeypatch.setenv("TRACKER_INSTANCE_PATH", str(tmp_path / "i"))
        app = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": db_url})
        client = app.test_client()
        token = csrf_from(client.get("/login", base_url=base).get_data(as_text=True))
        # Over HTTPS Flask-WTF also wants a Referer from this site, as a browser sends it.
        resp = client.post("/login", base_url=base, headers={"Referer": f"{base}/login"},
                           data={"email": user.email, "password": PASSWORD, "csrf_token": token})
        assert resp.status_code == 302
        cookie = next(h for h in resp.headers.getlist("Set-Cookie") if h.startswith("session="))
        assert ("; Secure" in cookie) is secure, cookie
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_a_request_over_the_upload_limit_gets_a_413_page_that_says_so(app, client, login):
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    login("lead")
    resp = client.post("/sites/import", data={"file": (io.BytesIO(b"x" * (2 * 1024 * 1024)), "big.csv")},
                       content_type="multipart/form-data")
    assert resp.status_code == 413
    assert "제한을 넘습니다" in resp.get_data(as_text=True)


def test_only_the_inspection_form_may_show_the_phones_own_shrunk_photos(client, login, default_checklist,
                                                                        site_factory):
    """blob: images are the photos the phone has just shrunk in the page's memory: allowed on the form only."""
    site = site_factory()
    login("inspector")
    form = client.get(f"/inspect/sites/{site.id}")
    assert form.status_code == 200
    assert "img-src 'self' blob:;" in form.headers["Content-Security-Policy"]
    assert "blob:" not in client.get("/inspect").headers["Content-Security-Policy"]


def test_gunicorn_with_the_repos_config_serves_with_several_workers(tmp_path):
    """`make serve`: gunicorn -c gunicorn.conf.py wsgi:app, here with 2 workers on a migrated SQLite file; it
    answers the health check and the login page, logs each request, and starts no scheduler."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    bin_dir = Path(sys.executable).parent
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "TRACKER_INSTANCE_PATH": str(tmp_path / "instance"), "TRACKER_SECRET_KEY": "ops-test",
           "TRACKER_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}", "TRACKER_WORKERS": "2",
           "TRACKER_BIND": f"127.0.0.1:{port}"}
    subprocess.run([str(bin_dir / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=root, env=env, check=True,
                   capture_output=True)
    log = (tmp_path / "gunicorn.log").open("w+")
    proc = subprocess.Popen([str(bin_dir / "gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"], cwd=root, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    assert r.status == 200 and b'"database":"ok"' in r.read().replace(b" ", b"")
                    break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "gunicorn.log").read_text()
                time.sleep(0.3)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as r:
            assert r.status == 200 and "로그인" in r.read().decode()
        time.sleep(1)
        text = (tmp_path / "gunicorn.log").read_text()
        assert text.count("Booting worker") == 2, text
        assert '"GET /healthz HTTP/1.1" 200' in text and '"GET /login HTTP/1.1" 200' in text
        assert "scheduler" not in text.lower()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        log.close()
