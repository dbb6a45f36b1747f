"""E-mail through an outbox: rendering queues one row per (kind, period, recipient); delivery claims and sends.

Delivery is at-least-once. The only window for a duplicate is between the SMTP server accepting a message and
the row being marked sent, a single UPDATE committed straight after; a process killed inside that window leaves the
row in 'sending', and it is retried only after STALE_CLAIM, with the same Message-ID, so that mail clients fold it.
"""
import smtplib
import socket
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from flask import current_app
from sqlalchemy import or_, select, update

from .. import clock
from ..dbutil import insert_ignore
from ..extensions import db
from ..models import Outbox

MAX_ATTEMPTS = 5
STALE_CLAIM = timedelta(minutes=10)
BATCH = 50


def queue(kind: str, period: str, messages: list[dict]) -> int:
    """Queue messages ({recipient, subject, body_text, body_html}); one row per recipient, never twice."""
    domain = current_app.config["TRACKER_MAIL_FROM"].rpartition("@")[2] or "localhost"
    now = clock.now()
    rows = [{"kind": kind, "period": period, "recipient": m["recipient"].strip().lower(), "subject": m["subject"],
             "body_text": m["body_text"], "body_html": m["body_html"], "status": "pending", "attempts": 0,
             "next_attempt_at": now, "created_at": now, "last_error": "",
             "message_id": make_msgid(idstring=f"{kind}.{period}", domain=domain)} for m in messages]
    return insert_ignore(Outbox, rows)


def _backoff(attempts: int) -> timedelta:
    return timedelta(minutes=min(60, 2 ** attempts))


def _claim(row_id: int) -> bool:
    now = clock.now()
    claimed = db.session.execute(
        update(Outbox).where(Outbox.id == row_id, or_(
            Outbox.status == "pending",
            (Outbox.status == "sending") & (Outbox.claimed_at < now - STALE_CLAIM)))
        .values(status="sending", claimed_at=now, attempts=Outbox.attempts + 1)
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return claimed == 1


def build_message(row: Outbox) -> EmailMessage:
    """The MIME message of an outbox row: plain text with an HTML alternative, UTF-8 headers."""
    cfg = current_app.config
    msg = EmailMessage()
    msg["Subject"] = row.subject
    msg["From"] = cfg["TRACKER_MAIL_FROM"]
    msg["To"] = row.recipient
    msg["Date"] = format_datetime(clock.local())
    msg["Message-ID"] = row.message_id
    msg.set_content(row.body_text, charset="utf-8")
    msg.add_alternative(row.body_html, subtype="html", charset="utf-8")
    return msg


def _connect() -> smtplib.SMTP:
    cfg = current_app.config
    smtp = smtplib.SMTP(cfg["TRACKER_SMTP_HOST"], cfg["TRACKER_SMTP_PORT"], timeout=20)
    if cfg["TRACKER_SMTP_STARTTLS"]:
        smtp.starttls()
    if cfg["TRACKER_SMTP_USER"]:
        smtp.login(cfg["TRACKER_SMTP_USER"], cfg["TRACKER_SMTP_PASSWORD"] or "")
    return smtp


def _finish(row_id: int, **values) -> None:
    db.session.execute(update(Outbox).where(Outbox.id == row_id).values(**values)
                       .execution_options(synchronize_session=False))
    db.session.commit()


def _retry_or_fail(row: Outbox, error: str) -> None:
    if row.attempts >= MAX_ATTEMPTS:
        _finish(row.id, status="failed", last_error=error)
    else:
        _finish(row.id, status="pending", last_error=error, next_attempt_at=clock.now() + _backoff(row.attempts))


def deliver_due() -> dict:
    """Send what is due. This loop is its own edge: it commits each claim and each result at once."""
    now = clock.now()
    ids = db.session.scalars(select(Outbox.id).where(or_(
        (Outbox.status == "pending") & (Outbox.next_attempt_at <= now),
        (Outbox.status == "sending") & (Outbox.claimed_at < now - STALE_CLAIM)))
        .order_by(Outbox.id).limit(BATCH)).all()
    db.session.commit()
    counts = {"sent": 0, "retry": 0, "failed": 0}
    smtp = None
    try:
        for row_id in ids:
            if not _claim(row_id):
                continue  # another process has it
            row = db.session.get(Outbox, row_id)
            try:
                if smtp is None:
                    smtp = _connect()
                smtp.send_message(build_message(row))
            except smtplib.SMTPRecipientsRefused as exc:
                code, text = next(iter(exc.recipients.values()))
                _refused(row, code, text, counts)
            except smtplib.SMTPResponseException as exc:
                _refused(row, exc.smtp_code, exc.smtp_error, counts)
                smtp = _drop(smtp)
            except (OSError, smtplib.SMTPException, socket.timeout) as exc:
                _retry_or_fail(row, f"{type(exc).__name__}: {exc}")
                counts["failed" if row.attempts >= MAX_ATTEMPTS else "retry"] += 1
                smtp = _drop(smtp)
            else:
                _finish(row.id, status="sent", sent_at=clock.now(), last_error="")
                counts["sent"] += 1
    finally:
        _drop(smtp)
    return counts


def _refused(row, code, text, counts) -> None:
    error = f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
    if 500 <= int(code) < 600:  # permanent: retrying will not help, a person must look
        _finish(row.id, status="failed", last_error=error)
        counts["failed"] += 1
    else:
        _retry_or_fail(row, error)
        counts["failed" if row.attempts >= MAX_ATTEMPTS else "retry"] += 1


def _drop(smtp):
    if smtp is not None:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            pass
    return None


def resend(row: Outbox) -> None:
    """Put a failed message back in the queue, now."""
    row.status, row.attempts, row.next_attempt_at, row.last_error = "pending", 0, clock.now(), ""


def outbox_stmt(status: str | None = None):
    """Outbox rows, newest first."""
    stmt = select(Outbox).order_by(Outbox.created_at.desc(), Outbox.id.desc())
    return stmt.where(Outbox.status == status) if status else stmt


def queue_weekly_summary(week: str) -> int:
    """Render the week's summary for every recipient into the outbox; returns how many rows were new."""
    from . import weekly_mail
    return queue("weekly_summary", week, weekly_mail.render_all(week))
