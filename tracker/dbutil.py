"""Small portable helpers over the two engines."""
from .extensions import db

CHUNK = 500


def _insert():
    """The engine's own INSERT construct, which has ON CONFLICT."""
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        raise RuntimeError(f"ON CONFLICT is written for SQLite and PostgreSQL, not {dialect}")
    return insert


def insert_ignore(model, rows: list[dict]) -> int:
    """INSERT … ON CONFLICT DO NOTHING on SQLite and PostgreSQL; returns how many rows were new."""
    if not rows:
        return 0
    dialect_insert = _insert()
    new = 0
    # One multi-row VALUES per chunk keeps under SQLite's limit on bound parameters.
    for i in range(0, len(rows), CHUNK):
        # RETURNING, because psycopg reports no row count for a multi-row INSERT … ON CONFLICT.
        stmt = dialect_insert(model).values(rows[i:i + CHUNK]).on_conflict_do_nothing().returning(model.id)
        new += len(db.session.execute(stmt).all())
    return new


def upsert(model, row: dict, keys: tuple[str, ...]) -> None:
    """INSERT … ON CONFLICT (keys) DO UPDATE with the row's other columns, on SQLite and PostgreSQL: two processes
    writing the same row at once both succeed, and the later write stays."""
    stmt = _insert()(model).values(row)
    db.session.execute(stmt.on_conflict_do_update(index_elements=list(keys),
                                                  set_={k: stmt.excluded[k] for k in row if k not in keys}))
