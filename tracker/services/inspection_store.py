"""The statements one inspection submit runs, built once, and the published checklist kept per process.

A submit is the field work's hot path: fifty inspectors at once in a busy hour, each waiting on a weak signal.
SQLAlchemy spends more on building and cache-keying a fresh statement than SQLite or PostgreSQL spend on running
it, so these are built once at import, and run through hot_sql.Hot, which also converts their parameters without
SQLAlchemy's per-execution walk; the rows go in as Core INSERTs (no unit of work), and the ORM object the callers
read is made from the same values without another query.
"""
import json
from dataclasses import dataclass
from threading import Lock

from flask import current_app
from sqlalchemy import bindparam, insert, select, text
from sqlalchemy.orm import make_transient_to_detached

from ..extensions import db
from ..hot_sql import Hot
from ..models import Answer, ChecklistItem, ChecklistTemplate, Inspection, ItemModes, Photo, Site


@dataclass(frozen=True)
class Item(ItemModes):
    """A published checklist item: what the submit path needs of ChecklistItem, safe to share between threads."""

    key: str
    label_ko: str
    label_en: str
    category: str
    critical: bool
    modes: str
    position: int


@dataclass(frozen=True)
class Template:
    """A published checklist version: id, version and its items by key, in form order."""

    id: int
    version: int
    items: dict


_SAVED = select(Inspection.id).where(Inspection.client_uuid == bindparam("uuid")).scalar_subquery()
_CURRENT = select(ChecklistTemplate.id).order_by(ChecklistTemplate.version.desc()).limit(1).scalar_subquery()
# The site, the inspection already saved under the client's UUID and the published checklist, in one round trip.
# FOR UPDATE (PostgreSQL; SQLite has one writer anyway): two inspections of one site at the same moment take turns,
# so that the second sees the first's follow-up actions and tasks rather than opening them again. Columns, not the
# mapped Site: the submit reads five of them, and loading an ORM entity costs more than running the query.
_SITE = Site.__table__
_SITE_COLUMNS = (_SITE.c.id, _SITE.c.name, _SITE.c.status, _SITE.c.dong, _SITE.c.size_band)
_SITE_BY_TOKEN = Hot(select(*_SITE_COLUMNS, _SAVED.label("saved_id"), _CURRENT.label("template_id"))
                     .where(_SITE.c.qr_token == bindparam("token")).with_for_update(of=_SITE))
_SITE_BY_ID = Hot(select(*_SITE_COLUMNS, _SAVED.label("saved_id"), _CURRENT.label("template_id"))
                  .where(_SITE.c.id == bindparam("site_id")).with_for_update(of=_SITE))
_CURRENT_ONLY = select(_CURRENT)
_ITEMS = select(ChecklistTemplate.version, ChecklistItem).join(
    ChecklistItem, ChecklistItem.template_id == ChecklistTemplate.id).where(
    ChecklistTemplate.id == bindparam("tpl_id")).order_by(ChecklistItem.position)
_INSERT_INSPECTION = Hot(insert(Inspection.__table__).returning(Inspection.__table__.c.id))
_INSERT_ANSWERS = Hot(insert(Answer.__table__))
# PostgreSQL: all of an inspection's answers in one statement, from one JSON array parameter. An executemany costs
# psycopg and the server a statement per answer, and a VALUES list of 17 answers passes psycopg's 50-parameter
# limit for reusing a converted statement. SQLite's executemany runs in C and is cheaper than reading JSON.
_INSERT_ANSWERS_PG = Hot(text(
    "INSERT INTO answer (inspection_id, item_key, value, note) SELECT :inspection_id, j.value ->> 'item_key', "
    "j.value ->> 'value', j.value ->> 'note' FROM json_array_elements(CAST(:answers AS json)) AS j"))
_INSERT_PHOTOS = insert(Photo.__table__)
_lock = Lock()


def find_site(token: str | None, site_id: int | None, client_uuid: str | None):
    """A row of the site's id, name, status, dong and size_band, the id saved under client_uuid (saved_id) and the
    published template's id (template_id); None when no such site."""
    conn = db.session.connection()
    if token:
        return _SITE_BY_TOKEN.execute(conn, {"token": token, "uuid": client_uuid}).first()
    return _SITE_BY_ID.execute(conn, {"site_id": site_id, "uuid": client_uuid}).first()


def current_template_id() -> int | None:
    """The published template's id."""
    return db.session.scalar(_CURRENT_ONLY)


def template(tpl_id: int | None) -> Template | None:
    """A published template with its items, read once per process: a published version never changes."""
    if tpl_id is None:
        return None
    # Kept on the app, not the module: each app (each test, each bench database) has its own database. The id is
    # a safe key: another transaction sees a template's id only once it is committed, and then it never changes.
    cache = current_app.extensions.setdefault("tracker.templates", {})
    tpl = cache.get(tpl_id)
    if tpl is None:
        rows = db.session.execute(_ITEMS, {"tpl_id": tpl_id}).all()
        if not rows:
            return None
        items = {i.key: Item(i.key, i.label_ko, i.label_en, i.category, bool(i.critical), i.modes, i.position)
                 for _v, i in rows}
        tpl = Template(tpl_id, rows[0][0], items)
        with _lock:
            cache[tpl_id] = tpl
    return tpl


def insert(row: dict, answers: list[dict], photos: list[dict], attach: bool = True) -> Inspection:
    """Write an inspection with its answers and photos; returns it as a persistent ORM object, or with attach=False
    as a plain (transient) one with its id, outside the session.

    Its answers and photos are not loaded: the caller has them as the dicts it passed, and reading them through
    the object loads them, once, only where something wants them.
    """
    # Everything that needs no database is done before the first write: on SQLite that write takes the one write
    # lock, which every other submit then waits for until this one commits.
    insp = Inspection(**row)
    # What was written, kept on the object (not a mapped attribute) for the API's answer to this very request.
    insp.written = {"answers": answers, "photos": photos}
    conn = db.session.connection()  # Core statements: Session.execute would look for ORM work in each
    json_answers = json.dumps(answers, ensure_ascii=False) if answers and conn.dialect.name == "postgresql" else None
    insp.id = insp_id = _INSERT_INSPECTION.execute(conn, row).scalar_one()
    if json_answers:
        _INSERT_ANSWERS_PG.execute(conn, {"inspection_id": insp_id, "answers": json_answers})
    elif answers:
        _INSERT_ANSWERS.executemany(conn, [{"inspection_id": insp_id, **a} for a in answers])
    if photos:
        conn.execute(_INSERT_PHOTOS, [{"inspection_id": insp_id, **p} for p in photos])
    if attach:
        make_transient_to_detached(insp)
        db.session.add(insp)
    return insp
