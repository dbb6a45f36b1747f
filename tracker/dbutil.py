"""Small portable helpers over the two engines."""
from .extensions import db

CHUNK = 500


def insert_ignore(model, rows: list[dict]) -> int:
    """INSERT … ON CONFLICT DO NOTHING on SQLite and PostgreSQL; returns how many rows were new."""
    if not rows:
        return 0
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:
        raise RuntimeError(f"insert_ignore supports SQLite and PostgreSQL, not {dialect}")
    new = 0
    # One multi-row VALUES per chunk keeps under SQLite's limit on bound parameters.
    for i in range(0, len(rows), CHUNK):
        # RETURNING, because psycopg reports no row count for a multi-row INSERT … ON CONFLICT.
        stmt = dialect_insert(model).values(rows[i:i + CHUNK]).on_conflict_do_nothing().returning(model.id)
        new += len(db.session.execute(stmt).all())
    return new
