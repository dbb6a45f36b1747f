"""The Alembic migrations build the schema on an empty database, and the models match them (`flask db check`).

This is what CI and a deployment run (`flask --app wsgi db upgrade`), done the same way: the real CLI in a
subprocess, on its own empty database (a temp SQLite file, or a new PostgreSQL database under
TRACKER_TEST_ENGINE=postgres), never the test run's shared schema.
"""
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from tracker import models  # noqa: F401  (registers every table on the metadata)
from tracker.extensions import db as _db
from tracker.services.checklist import DEFAULT_ITEMS

ROOT = Path(__file__).resolve().parent.parent
FLASK = str(Path(sys.executable).parent / "flask")
ENGINE = os.environ.get("TRACKER_TEST_ENGINE", "sqlite")


@pytest.fixture
def empty_db_url(tmp_path):
    """A database with no tables at all, dropped afterwards."""
    if ENGINE != "postgres":
        yield f"sqlite:///{tmp_path / 'migrate.db'}"
        return
    base = os.environ.get("TRACKER_TEST_POSTGRES_URL")
    if not base:
        pytest.fail("TRACKER_TEST_ENGINE=postgres needs TRACKER_TEST_POSTGRES_URL")
    name = f"tracker_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _flask(args, url, instance):
    env = {**os.environ, "TRACKER_DATABASE_URL": url, "TRACKER_INSTANCE_PATH": str(instance),
           "TRACKER_SECRET_KEY": "migration-test"}
    return subprocess.run([FLASK, "--app", "wsgi", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=180)


def test_upgrade_on_an_empty_database_matches_the_models(empty_db_url, tmp_path):
    up = _flask(["db", "upgrade"], empty_db_url, tmp_path / "instance")
    assert up.returncode == 0, up.stdout + up.stderr

    engine = create_engine(empty_db_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert "alembic_version" in tables
    # Every table the models declare was made by the migrations (the check below also compares columns,
    # indexes and constraints; this line names what is missing when it fails).
    missing = {t.name for t in _db.metadata.sorted_tables} - tables
    assert not missing, f"models with no migration: {sorted(missing)}"

    check = _flask(["db", "check"], empty_db_url, tmp_path / "instance")
    assert check.returncode == 0, "models and migrations differ:\n" + check.stdout + check.stderr


def _checklists(url) -> list[tuple[int, int]]:
    """(version, number of items) of every published checklist."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(
                "SELECT t.version, COUNT(i.id) FROM checklist_template t "
                "JOIN checklist_item i ON i.template_id = t.id GROUP BY t.version")).all()
    finally:
        engine.dispose()


def test_upgrade_twice_is_a_no_op(empty_db_url, tmp_path):
    for _ in range(2):
        up = _flask(["db", "upgrade"], empty_db_url, tmp_path / "instance")
        assert up.returncode == 0, up.stdout + up.stderr
    engine = create_engine(empty_db_url)
    try:
        with engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    finally:
        engine.dispose()
    assert len(versions) == 1
    # A fresh install has its checklist from the upgrade, once: no page view has to make it.
    assert [tuple(r) for r in _checklists(empty_db_url)] == [(1, len(DEFAULT_ITEMS))]


def test_upgrade_keeps_a_checklist_already_published(empty_db_url, tmp_path):
    """An install that published its own checklist before the default came with the migrations keeps it alone."""
    up = _flask(["db", "upgrade", "a3d9f0c2b7e1"], empty_db_url, tmp_path / "instance")
    assert up.returncode == 0, up.stdout + up.stderr
    engine = create_engine(empty_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO checklist_template (version, name, created_at) "
                              "VALUES (1, '우리 점검표', CURRENT_TIMESTAMP)"))
            conn.execute(text("INSERT INTO checklist_item (template_id, key, label_ko, label_en, category, critical, "
                              "modes, position) SELECT id, 'masks', '마스크', 'Masks', 'hygiene', TRUE, 'onsite', 0 "
                              "FROM checklist_template"))
    finally:
        engine.dispose()
    up = _flask(["db", "upgrade"], empty_db_url, tmp_path / "instance")
    assert up.returncode == 0, up.stdout + up.stderr
    assert [tuple(r) for r in _checklists(empty_db_url)] == [(1, 1)]


def test_upgrade_of_a_database_in_use_keeps_its_rows(empty_db_url, tmp_path):
    """A district's database with users, their logins and a two-factor secret upgrades to the head: SQLite rebuilds a
    table to change a column (batch mode), which its foreign keys must not stop while other rows point at it."""
    up = _flask(["db", "upgrade", "e3a1c5d7f901"], empty_db_url, tmp_path / "instance")
    assert up.returncode == 0, up.stdout + up.stderr
    engine = create_engine(empty_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text('INSERT INTO "user" (email, name, password_hash, role, active, created_at, '
                              "must_change_password, totp_secret, mail_task_reminder, mail_lead_digest) VALUES "
                              "('a@x.test', 'A', 'h', 'lead', TRUE, CURRENT_TIMESTAMP, FALSE, 'JBSWY3DPEHPK3PXP', "
                              "TRUE, TRUE)"))
            conn.execute(text("INSERT INTO user_session (user_id, key_hash, created_at, last_seen_at, user_agent, ip) "
                              "SELECT id, 'k', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, '', '' FROM \"user\""))
    finally:
        engine.dispose()
    up = _flask(["db", "upgrade"], empty_db_url, tmp_path / "instance")
    assert up.returncode == 0, up.stdout + up.stderr
    engine = create_engine(empty_db_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text('SELECT email, totp_secret FROM "user"')).all() == [("a@x.test",
                                                                                          "JBSWY3DPEHPK3PXP")]
            assert conn.execute(text("SELECT count(*) FROM user_session")).scalar() == 1
    finally:
        engine.dispose()
