"""Small portable helpers over the two engines."""
from sqlalchemy.dialects import postgresql, sqlite

from .extensions import db

CHUNK = 500
_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def upsert(model):
    """The session's database's own INSERT, the one with ON CONFLICT (SQLite and PostgreSQL)."""
    dialect = db.session.get_bind().dialect.name
    if dialect not in _INSERTS:
        raise RuntimeError(f"ON CONFLICT is written for SQLite and PostgreSQL, not {dialect}")
    return _INSERTS[dialect](model)


def insert_ignore(model, rows: list[dict]) -> int:
    """INSERT … ON CONFLICT DO NOTHING on SQLite and PostgreSQL; returns how many rows were new."""
    if not rows:
        return 0
    new = 0
    # One multi-row VALUES per chunk keeps under SQLite's limit on bound parameters.
    for i in range(0, len(rows), CHUNK):
        # RETURNING, because psycopg reports no row count for a multi-row INSERT … ON CONFLICT.
        stmt = upsert(model).values(rows[i:i + CHUNK]).on_conflict_do_nothing().returning(model.id)
        new += len(db.session.execute(stmt).all())
    return new
