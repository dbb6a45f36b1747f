"""E-mail through an outbox: rendering queues one row per (kind, period, recipient); delivery claims and sends.

This module offers the pieces (due_ids, claim, Delivery.send) and never commits; the caller is the edge
(jobs.send_due_mail). Delivery is at-least-once. The only window for a duplicate is between the SMTP server
accepting a message and the row being marked sent, a single UPDATE that the edge commits straight after; a process
killed inside that window leaves the row in 'sending', and it is retried only after STALE_CLAIM, with the same
Message-ID, so that mail clients fold it.
"""
import smtplib
import ssl
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from flask import current_app
from sqlalchemy import or_, select, update

from .. import clock
from ..dbutil import insert_ignore
from ..extensions import db
from ..models import Outbox

# 2 + 4 + 8 + 16 + 32 + 60 × 4 minutes: a summary queued on Monday 08:00 outlives a five-hour mail-server outage
# before it is marked failed (and shown to admins with a resend button).
MAX_ATTEMPTS = 10
BACKOFF_CAP = timedelta(hours=1)
STALE_CLAIM = timedelta(minutes=10)
BATCH = 50


class ServerError(Exception):
    """The server, not the message, is the trouble (down, TLS, login): every message waits and is retried."""


def queue(kind: str, period: str, messages: list[dict]) -> int:
    """Queue messages ({recipient, subject, body_text, body_html}, and optionally not_before, inspection_id and
    attachment); one row per recipient, never twice."""
    domain = current_app.config["TRACKER_MAIL_FROM"].rpartition("@")[2] or "localhost"
    now = clock.now()
    rows = [{"kind": kind, "period": period, "recipient": m["recipient"].strip().lower(), "subject": m["subject"],
             "body_text": m["body_text"], "body_html": m["body_html"], "status": "pending", "attempts": 0,
             "next_attempt_at": m.get("not_before") or now, "not_before": m.get("not_before"),
             "inspection_id": m.get("inspection_id"), "attachment": m.get("attachment", ""),
             "created_at": now, "last_error": "",
             # Made once, here: every retry and resend of the row carries it, so clients fold any duplicate.
             "message_id": make_msgid(idstring=f"{kind}.{period}", domain=domain)} for m in messages]
    return insert_ignore(Outbox, rows)


def backoff(attempts: int) -> timedelta:
    """How long a message waits after its n-th failed attempt: 2, 4, 8 … minutes, at most BACKOFF_CAP."""
    return min(BACKOFF_CAP, timedelta(minutes=2 ** attempts))


def _due(now):
    return or_((Outbox.status == "pending") & (Outbox.next_attempt_at <= now)
               & or_(Outbox.not_before.is_(None), Outbox.not_before <= now),
               (Outbox.status == "sending") & (Outbox.claimed_at < now - STALE_CLAIM))


def due_ids() -> list[int]:
    """The ids of the next batch of rows due for delivery, oldest first."""
    return list(db.session.scalars(select(Outbox.id).where(_due(clock.now())).order_by(Outbox.id).limit(BATCH)))


def claim(row_id: int) -> bool:
    """Take a due row for this process with a conditional UPDATE; False when another process has it or has just
    tried it. The caller commits the claim before sending, so that other processes see it."""
    # The same condition as the pick: a row another process tried and put back to wait is not due any more.
    now = clock.now()
    return db.session.execute(
        update(Outbox).where(Outbox.id == row_id, _due(now))
        .values(status="sending", claimed_at=now, attempts=Outbox.attempts + 1)
        .execution_options(synchronize_session=False)).rowcount == 1


def build_message(row: Outbox) -> EmailMessage:
    """The MIME message of an outbox row: plain text with an HTML alternative; RFC 2047 subject, base64 bodies."""
    cfg = current_app.config
    msg = EmailMessage()
    msg["Subject"] = row.subject
    msg["From"] = cfg["TRACKER_MAIL_FROM"]
    msg["To"] = row.recipient
    msg["Date"] = format_datetime(clock.local())
    msg["Message-ID"] = row.message_id
    # base64, not raw 8-bit: Korean survives relays without 8BITMIME, and is smaller than quoted-printable.
    msg.set_content(row.body_text, charset="utf-8", cte="base64")
    msg.add_alternative(row.body_html, subtype="html", charset="utf-8", cte="base64")
    if row.attachment:
        # Made now, not when queued: the PDF shows the inspection and its actions as they are when it leaves.
        name, maintype, subtype, data = _attachment(row)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg


def _attachment(row: Outbox) -> tuple[str, str, str, bytes]:
    """(file name, main type, subtype, bytes) of a row's attachment."""
    if row.attachment == "report" and row.inspection_id:
        from . import documents, inspections
        insp = inspections.get(row.inspection_id)
        return documents.pdf_filename(insp), "application", "pdf", documents.inspection_pdf(insp)
    raise ValueError(f"unknown attachment {row.attachment!r}")


def _describe(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error
        return f"{exc.smtp_code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
    return f"{type(exc).__name__}: {exc}"


def _connect() -> smtplib.SMTP:
    cfg = current_app.config
    stage, smtp = "connect", None
    try:
        smtp = smtplib.SMTP(cfg["TRACKER_SMTP_HOST"], cfg["TRACKER_SMTP_PORT"], timeout=20)
        if cfg["TRACKER_SMTP_STARTTLS"]:
            stage = "tls"
            # Verifies the certificate and the host name; a district's own CA can be added by file.
            context = ssl.create_default_context(cafile=cfg.get("TRACKER_SMTP_CAFILE") or None)
            smtp.starttls(context=context)
        if cfg["TRACKER_SMTP_USER"]:
            stage = "auth"
            smtp.login(cfg["TRACKER_SMTP_USER"], cfg["TRACKER_SMTP_PASSWORD"] or "")
    # ssl.SSLError is an OSError; UnicodeError: smtplib sends a login only in ASCII.
    except (OSError, smtplib.SMTPException, UnicodeError) as exc:
        _drop(smtp)
        raise ServerError(f"{stage}: {_describe(exc)}") from exc
    return smtp


def _finish(row_id: int, **values) -> None:
    db.session.execute(update(Outbox).where(Outbox.id == row_id).values(**values)
                       .execution_options(synchronize_session=False))


def _retry_or_fail(row: Outbox, error: str, counts: dict) -> None:
    if row.attempts >= MAX_ATTEMPTS:
        _finish(row.id, status="failed", last_error=error)
        counts["failed"] += 1
    else:
        _finish(row.id, status="pending", last_error=error, next_attempt_at=clock.now() + backoff(row.attempts))
        counts["retry"] += 1


def _refused(row: Outbox, exc: smtplib.SMTPResponseException, counts: dict) -> None:
    error = _describe(exc)
    if 500 <= int(exc.smtp_code) < 600:  # permanent: retrying will not help, a person must look
        _finish(row.id, status="failed", last_error=error)
        counts["failed"] += 1
    else:  # 4xx: the server asks us to come back later
        _retry_or_fail(row, error, counts)


class Delivery:
    """One delivery run's SMTP connection, opened for its first message; with its counts of sent, retry, failed."""

    def __init__(self):
        self.smtp = None
        self.server_error = None
        self.counts = {"sent": 0, "retry": 0, "failed": 0}

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        self.smtp = _drop(self.smtp)

    def send(self, row_id: int) -> None:
        """Send one claimed row and record the outcome on it: sent, back to pending for a retry, or failed."""
        row = db.session.get(Outbox, row_id)
        if self.server_error:  # one connection attempt a run: a wrong password is not tried fifty times
            _retry_or_fail(row, self.server_error, self.counts)
            return
        try:
            message = build_message(row)
        except (ValueError, TypeError, UnicodeError) as exc:
            # The row itself cannot make a message (an address with CR/LF stored before addresses were checked):
            # no retry will change that, so it fails at once, by name, and the rest of the batch goes on.
            _finish(row.id, status="failed", last_error=_describe(exc))
            self.counts["failed"] += 1
            return
        except Exception as exc:  # an attachment that cannot be made now (a font, a file): this message waits
            _retry_or_fail(row, f"build: {_describe(exc)}", self.counts)
            return
        try:
            if self.smtp is None:
                self.smtp = _connect()
            self.smtp.send_message(message)
        except ServerError as exc:
            self.server_error = str(exc)
            _retry_or_fail(row, self.server_error, self.counts)
        except smtplib.SMTPRecipientsRefused as exc:
            _refused(row, smtplib.SMTPResponseException(*next(iter(exc.recipients.values()))), self.counts)
        except smtplib.SMTPResponseException as exc:
            _refused(row, exc, self.counts)
            self.smtp = _drop(self.smtp)
        except Exception as exc:  # noqa: BLE001 (anything else: the row records it and waits its turn again)
            _retry_or_fail(row, _describe(exc), self.counts)
            self.smtp = _drop(self.smtp)
        else:
            _finish(row.id, status="sent", sent_at=clock.now(), last_error="")
            self.counts["sent"] += 1


def _drop(smtp):
    if smtp is not None:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
    return None


def resend(row_id: int) -> bool:
    """Put a failed message back in the queue, now; False, with nothing changed, when it is not failed."""
    # Conditional, so that a double click or two admins at once queue it once, and a sent message never again.
    return db.session.execute(
        update(Outbox).where(Outbox.id == row_id, Outbox.status == "failed")
        .values(status="pending", attempts=0, next_attempt_at=clock.now(), claimed_at=None, last_error="")
        .execution_options(synchronize_session=False)).rowcount == 1


def outbox_stmt(status: str | None = None):
    """Outbox rows, newest first."""
    stmt = select(Outbox).order_by(Outbox.created_at.desc(), Outbox.id.desc())
    return stmt.where(Outbox.status == status) if status else stmt


def queue_weekly_summary(week: str) -> int:
    """Render the week's summary for every recipient into the outbox; returns how many rows were new."""
    from . import weekly_mail
    return queue("weekly_summary", week, weekly_mail.render_all(week))
