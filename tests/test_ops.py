"""Operations: health check, SQLite settings, backups, security headers."""
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
def test_sqlite_runs_with_wal_busy_timeout_and_foreign_keys(db):
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
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Referrer-Policy"] == "same-origin"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    https = client.get("/login", base_url="https://tracker.test")
    assert "Strict-Transport-Security" in https.headers
