"""Retention: each kind of personal data is removed once its period (a TRACKER_* setting) has passed.

One step per kind, each a single UPDATE or DELETE over every row that is due (photos also remove their files, after
the commit). The scheduler runs it daily; `flask --app wsgi purge --dry-run` counts the same rows and changes nothing.
"""
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import JSON, String, and_, case, cast, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import JSONB, array

from .. import clock, storage
from ..extensions import db
from ..models import ActionReply, Audit, Inspection, Outbox, Photo, Site

# The officer's contact fields blanked once a site has been closed long enough. A contact column added to Site
# (manager_email) is purged as soon as it exists; another one is one more name here.
CONTACT_FIELDS = ("manager_name", "manager_phone", "manager_email")


@dataclass(frozen=True)
class Kind:
    """A kind of personal data: its key, the setting that holds its period in days, and that setting's default."""

    key: str
    setting: str
    default: int


POSITIONS = Kind("positions", "TRACKER_LOCATION_RETENTION_DAYS", 90)
CLOSED_SITE_CONTACTS = Kind("closed_site_contacts", "TRACKER_CLOSED_SITE_CONTACT_DAYS", 365)
PHOTOS = Kind("photos", "TRACKER_PHOTO_RETENTION_DAYS", 365)
MAIL_BODIES = Kind("mail_bodies", "TRACKER_MAIL_BODY_RETENTION_DAYS", 90)
ACCESS_LOG = Kind("access_log", "TRACKER_ACCESS_LOG_DAYS", 730)
# A login's record (browser, address, times) once it has not been used for this long: it has long ended.
LOGINS = Kind("logins", "TRACKER_LOGIN_RETENTION_DAYS", 365)
# Grants and removals of a role: the 안전성 확보조치 기준 asks for 3 years.
ROLE_HISTORY = Kind("role_history", "TRACKER_ROLE_HISTORY_DAYS", 1095)
# The officer's 확인 서명 on an inspection (issue 16): the hash on the inspection, then the file.
SIGNATURES = Kind("signatures", "TRACKER_SIGNATURE_RETENTION_DAYS", 365)
KINDS = (POSITIONS, CLOSED_SITE_CONTACTS, PHOTOS, MAIL_BODIES, ACCESS_LOG, LOGINS, ROLE_HISTORY, SIGNATURES)


def days(kind: Kind) -> int:
    """The kind's period in days as configured; 0 keeps that kind for good."""
    return int(current_app.config.get(kind.setting, kind.default))


@dataclass
class Report:
    """What a purge removed (or, in a dry run, would remove): {step: rows}, None for a step with nothing stored
    (no such table yet); and the photo files to delete once the removal is committed."""

    dry_run: bool
    counts: dict = field(default_factory=dict)
    files: set = field(default_factory=set)


def _cutoff(kind: Kind) -> datetime | None:
    n = days(kind)
    return clock.now() - timedelta(days=n) if n > 0 else None


def _change(model_or_table, where, values: dict | None, dry_run: bool) -> int:
    """One statement over every due row: UPDATE ... SET values, or DELETE without values; a dry run counts them."""
    if dry_run:
        return db.session.scalar(select(func.count()).select_from(model_or_table).where(where))
    stmt = update(model_or_table).values(**values) if values else delete(model_or_table)
    return db.session.execute(stmt.where(where).execution_options(synchronize_session=False)).rowcount


# --- one step per kind ------------------------------------------------------------------------------------------

def purge_positions(cutoff: datetime, dry_run: bool) -> int:
    """Inspections' lat/lng after TRACKER_LOCATION_RETENTION_DAYS; the inspection itself stays."""
    where = and_(Inspection.submitted_at < cutoff, or_(Inspection.lat.is_not(None), Inspection.lng.is_not(None)))
    return _change(Inspection, where, {"lat": None, "lng": None}, dry_run)


def _contact_columns() -> list[str]:
    return [name for name in CONTACT_FIELDS if name in Site.__table__.c]


def _closed_before(cutoff: datetime):
    """Sites closed before the cutoff: by the latest close in the audit trail (a site closed without one, by its
    last change)."""
    closed_at = (select(func.max(Audit.at)).where(Audit.entity == "site", Audit.entity_id == Site.id,
                                                  Audit.action == "close").correlate(Site).scalar_subquery())
    return and_(Site.status == "closed", func.coalesce(closed_at, Site.updated_at) < cutoff)


def purge_closed_site_contacts(cutoff: datetime, dry_run: bool) -> int:
    """The officer's name, phone (and e-mail) of sites closed for TRACKER_CLOSED_SITE_CONTACT_DAYS."""
    cols = _contact_columns()
    where = and_(_closed_before(cutoff), or_(*(Site.__table__.c[c] != "" for c in cols)))
    return _change(Site, where, {c: "" for c in cols}, dry_run)


def _json_without(col, keys: list[str]):
    """A JSON column's object without some keys, in the engine's own JSON functions."""
    if db.engine.dialect.name == "postgresql":
        return cast(cast(col, JSONB).op("-")(array(keys, type_=String)), JSON)
    return func.json_remove(col, *(f"$.{k}" for k in keys))


def _json_has_any(col, keys: list[str]):
    if db.engine.dialect.name == "postgresql":
        return cast(col, JSONB).has_any(array(keys, type_=String))
    return or_(*(func.json_type(col, f"$.{k}").is_not(None) for k in keys))


def purge_closed_site_history(cutoff: datetime, dry_run: bool) -> int:
    """The same contact fields in those sites' audit trail (each change keeps the values before and after)."""
    keys = _contact_columns()
    sites = select(Site.id).where(_closed_before(cutoff))
    where = and_(Audit.entity == "site", Audit.entity_id.in_(sites),
                 or_(_json_has_any(Audit.before, keys), _json_has_any(Audit.after, keys)))
    # Only an object holding one of the keys is rewritten (PostgreSQL refuses to remove a key from a JSON null).
    values = {c.key: case((_json_has_any(c, keys), _json_without(c, keys)), else_=c) for c in (Audit.before,
                                                                                                Audit.after)}
    return _change(Audit, where, values, dry_run)


def purge_photos(cutoff: datetime, dry_run: bool, report: Report) -> int:
    """Photos of inspections older than TRACKER_PHOTO_RETENTION_DAYS: their rows now, their files once committed
    (a file another kept photo still uses stays: photos are stored once per content)."""
    where = Photo.inspection_id.in_(select(Inspection.id).where(Inspection.submitted_at < cutoff))
    if dry_run:
        return _change(Photo, where, None, True)
    due = set(db.session.scalars(select(Photo.sha256).where(where).distinct()))
    removed = _change(Photo, where, None, False)
    report.files |= due - _still_used(due)
    return removed


def purge_mail_bodies(cutoff: datetime, dry_run: bool) -> int:
    """The bodies of e-mails sent more than TRACKER_MAIL_BODY_RETENTION_DAYS ago; the row (who, when, status)
    stays, so that the outbox still says what was sent."""
    where = and_(Outbox.status == "sent", Outbox.sent_at < cutoff,
                 or_(Outbox.body_text != "", Outbox.body_html != ""))
    return _change(Outbox, where, {"body_text": "", "body_html": ""}, dry_run)


def purge_by_age(table_name: str, column: str, cutoff: datetime, dry_run: bool) -> int | None:
    """Rows of a table older than the cutoff by one of its time columns, or None when the table is not in the
    models (yet): the access log (`access_log.at`) comes here."""
    table = db.metadata.tables.get(table_name)
    if table is None:
        return None
    return _change(table, table.c[column] < cutoff, None, dry_run)


def _still_used(shas: set) -> set:
    """Of these content hashes, those a kept photo, signature or reply photo still names: their files stay."""
    if not shas:
        return set()
    stmts = [select(Photo.sha256).where(Photo.sha256.in_(shas)),
             select(Inspection.signature_sha256).where(Inspection.signature_sha256.in_(shas)),
             select(ActionReply.photo1_sha256).where(ActionReply.photo1_sha256.in_(shas)),
             select(ActionReply.photo2_sha256).where(ActionReply.photo2_sha256.in_(shas))]
    return set(db.session.scalars(stmts[0].union(*stmts[1:])))


def purge_signatures(cutoff: datetime, dry_run: bool, report: Report) -> int:
    """Signatures of inspections older than TRACKER_SIGNATURE_RETENTION_DAYS: the hash on the inspection now, the
    file once committed (stored through the photos' store, by content, as photos are)."""
    where = and_(Inspection.signature_sha256.is_not(None), Inspection.submitted_at < cutoff)
    if dry_run:
        return _change(Inspection, where, None, True)
    due = set(db.session.scalars(select(Inspection.signature_sha256).where(where).distinct()))
    removed = _change(Inspection, where, {"signature_sha256": None}, False)
    report.files |= due - _still_used(due)
    return removed


def purge_reply_photos(cutoff: datetime, dry_run: bool, report: Report) -> int:
    """Photos of the sites' replies (조치 보고) older than TRACKER_PHOTO_RETENTION_DAYS, as inspectors' photos: the
    hashes on the reply now (its note and outcome stay), the files once committed."""
    where = and_(ActionReply.created_at < cutoff,
                 or_(ActionReply.photo1_sha256.is_not(None), ActionReply.photo2_sha256.is_not(None)))
    if dry_run:
        return _change(ActionReply, where, None, True)
    due = {sha for pair in db.session.execute(select(ActionReply.photo1_sha256, ActionReply.photo2_sha256)
                                              .where(where)) for sha in pair if sha}
    removed = _change(ActionReply, where, {"photo1_sha256": None, "photo2_sha256": None}, False)
    report.files |= due - _still_used(due)
    return removed


# --- the whole purge --------------------------------------------------------------------------------------------

# Each step with the kind whose period it follows, in the order they run.
STEPS = {"positions": POSITIONS, "closed_site_contacts": CLOSED_SITE_CONTACTS,
         "closed_site_history": CLOSED_SITE_CONTACTS, "photos": PHOTOS, "reply_photos": PHOTOS,
         "signatures": SIGNATURES, "mail_bodies": MAIL_BODIES, "access_log": ACCESS_LOG, "logins": LOGINS,
         "role_history": ROLE_HISTORY}


def purge(dry_run: bool = False) -> Report:
    """Remove (or, dry, count) every kind of personal data past its period; flushes, never commits. After the
    commit, call remove_files(report) for the photo files."""
    report = Report(dry_run)
    run = {"positions": purge_positions, "closed_site_contacts": purge_closed_site_contacts,
           "closed_site_history": purge_closed_site_history,
           "photos": lambda cutoff, dry: purge_photos(cutoff, dry, report), "mail_bodies": purge_mail_bodies,
           "reply_photos": lambda cutoff, dry: purge_reply_photos(cutoff, dry, report),
           "signatures": lambda cutoff, dry: purge_signatures(cutoff, dry, report),
           "access_log": lambda cutoff, dry: purge_by_age("access_log", "at", cutoff, dry),
           "logins": lambda cutoff, dry: purge_by_age("user_session", "last_seen_at", cutoff, dry),
           "role_history": lambda cutoff, dry: purge_by_age("role_change", "at", cutoff, dry)}
    for name, kind in STEPS.items():
        cutoff = _cutoff(kind)
        report.counts[name] = run[name](cutoff, dry_run) if cutoff else 0
    return report


def describe(report: Report) -> list[str]:
    """The report as lines: each step, its count and its period."""
    lines = ["dry run: nothing changed; would remove" if report.dry_run else "removed"]
    for name, count in report.counts.items():
        kind = STEPS.get(name)
        if kind and not days(kind):
            lines.append(f"  {name:<21} kept for good ({kind.setting}=0)")
        else:
            after = f" (older than {days(kind)} days)" if kind else ""
            lines.append(f"  {name:<21} {'nothing stored' if count is None else count}{after}")
    return lines


def remove_files(report: Report) -> int:
    """Delete the photo, signature and reply-photo files a committed purge left unnamed; how many were there."""
    # Looked at again now: a submission of the same picture since the purge's commit names the same file (keys are
    # content hashes), and its photo must not lose it. One query, just before the deletes.
    used = _still_used(report.files)
    removed = 0
    for sha in sorted(report.files - used):
        removed += _remove_photo_file(sha)
    return removed


def _remove_photo_file(sha256: str) -> int:
    # Through the storage interface, so a folder and an S3 bucket are purged alike.
    store = storage.current()
    key = storage.photo_key(sha256)
    if store.size(key) is None:
        return 0
    store.delete(key)
    return 1


def periods() -> dict[str, int]:
    """Each kind's period in days, for the privacy page."""
    return {kind.key: days(kind) for kind in KINDS}
