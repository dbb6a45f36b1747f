"""The outbox against a real SMTP server (aiosmtpd): once, never lost, retried with backoff, refused mail visible
and resendable, headers and bodies encoded for any relay, STARTTLS with a verified certificate and a login."""
import email
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import threading
from datetime import datetime, timedelta, timezone
from email import policy
from email.header import decode_header, make_header
from email.utils import parsedate_to_datetime

import pytest
from sqlalchemy import func, select

from tests.conftest import SMTPServer, close_context, csrf_from, loaded
from tracker import jobs
from tracker.models import Outbox
from tracker.services import mail

T0 = datetime(2020, 5, 11, 0, 0, tzinfo=timezone.utc)
SUBJECT = "[영등포구] 콜센터 방역 점검 주간 요약 2020-W19 (05.04~05.10)"


def _msg(to, n=1):
    return {"recipient": to, "subject": f"[영등포구] 주간 점검 요약 {n}", "body_text": f"본문 {n}: 점검 완료",
            "body_html": f"<p>본문 {n}: 점검 완료</p>"}


def _status(db):
    db.session.expire_all()
    return dict(db.session.execute(select(Outbox.recipient, Outbox.status)).all())


def _row(db, recipient):
    db.session.expire_all()
    return db.session.scalar(select(Outbox).where(Outbox.recipient == recipient))


class Scripted:
    """An aiosmtpd handler that keeps the raw bytes of every DATA it is given, and answers as the test says:
    a reply per recipient at RCPT, and replies for the next DATA commands (then 250)."""

    def __init__(self):
        self.raw, self.messages, self.sessions = [], [], []
        self.rcpt_replies: dict[str, str] = {}
        self.data_replies: list[str] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.rcpt_replies:
            return self.rcpt_replies[address.lower()]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.raw.append(envelope.original_content)
        self.sessions.append({"tls": session.ssl is not None, "authenticated": bool(session.authenticated)})
        if self.data_replies:
            return self.data_replies.pop(0)
        self.messages.append(email.message_from_bytes(envelope.original_content, policy=policy.default))
        return "250 Message accepted for delivery"


@pytest.fixture
def scripted(app):
    """aiosmtpd with the Scripted handler on a free port, the app pointed at it."""
    server = SMTPServer()
    server.handler = Scripted()
    server.start()
    app.config.update(TRACKER_SMTP_HOST="127.0.0.1", TRACKER_SMTP_PORT=server.port,
                      TRACKER_MAIL_FROM="tracker@district.example")
    yield server
    server.stop()


def _queue(db, *recipients):
    mail.queue("weekly_summary", "2020-W19", [_msg(r, i) for i, r in enumerate(recipients, 1)])
    db.session.commit()


# --- once, never lost ----------------------------------------------------------------------------------------

def test_queue_twice_makes_one_row_per_recipient(clock_at, app_ctx, db):
    clock_at(T0)
    assert mail.queue("weekly_summary", "2020-W19", [_msg("a@x.test"), _msg("b@x.test")]) == 2
    assert mail.queue("weekly_summary", "2020-W19", [_msg("a@x.test"), _msg("B@x.test")]) == 0
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Outbox)) == 2


def test_delivery_sends_each_once(clock_at, app_ctx, db, smtp_server):
    clock_at(T0)
    _queue(db, "a@x.test", "b@x.test")
    assert jobs.send_due_mail() == {"sent": 2, "retry": 0, "failed": 0}
    assert jobs.send_due_mail() == {"sent": 0, "retry": 0, "failed": 0}
    assert sorted(m["To"] for m in smtp_server.messages) == ["a@x.test", "b@x.test"]
    msg = next(m for m in smtp_server.messages if m["To"] == "a@x.test")
    assert msg["Subject"] == "[영등포구] 주간 점검 요약 1"
    assert "본문 1: 점검 완료" in msg.get_body(("plain",)).get_content()
    assert "<p>본문 1: 점검 완료</p>" in msg.get_body(("html",)).get_content()
    assert set(_status(db).values()) == {"sent"}


def test_server_down_keeps_mail_queued_then_it_arrives_once(clock_at, app_ctx, db, smtp_server):
    clock_at(T0)
    _queue(db, "a@x.test")
    smtp_server.stop()
    assert jobs.send_due_mail() == {"sent": 0, "retry": 1, "failed": 0}
    row = _row(db, "a@x.test")
    assert row.status == "pending" and row.attempts == 1
    assert row.last_error.startswith("connect: ConnectionRefusedError")
    assert row.next_attempt_at == T0 + timedelta(minutes=2)
    assert jobs.send_due_mail() == {"sent": 0, "retry": 0, "failed": 0}  # not due yet: nothing is hammered
    smtp_server.start()
    clock_at(T0 + timedelta(minutes=2))
    assert jobs.send_due_mail() == {"sent": 1, "retry": 0, "failed": 0}
    assert jobs.send_due_mail()["sent"] == 0
    assert len(smtp_server.messages) == 1


def test_two_deliveries_at_once_send_each_message_once(clock_at, app_ctx, app, db, smtp_server):
    clock_at(T0)
    mail.queue("weekly_summary", "2020-W19", [_msg(f"r{i}@x.test", i) for i in range(12)])
    db.session.commit()
    barrier = threading.Barrier(2)
    errors = []

    def worker():
        with app.app_context():
            try:
                barrier.wait()
                jobs.send_due_mail()
            except Exception as exc:  # surfaced below
                errors.append(exc)
            finally:
                from tracker.extensions import db as _db
                _db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sorted(m["To"] for m in smtp_server.messages) == sorted(f"r{i}@x.test" for i in range(12))
    assert set(_status(db).values()) == {"sent"}


def test_a_claim_left_by_a_crash_is_retried_only_after_it_goes_stale(clock_at, app_ctx, db, smtp_server):
    clock_at(T0)
    _queue(db, "a@x.test")
    row = db.session.scalar(select(Outbox))
    # A process claimed the row and died before marking it sent.
    row.status, row.claimed_at, row.attempts = "sending", T0, 1
    db.session.commit()
    assert jobs.send_due_mail()["sent"] == 0
    clock_at(T0 + mail.STALE_CLAIM + timedelta(seconds=1))
    assert jobs.send_due_mail()["sent"] == 1
    assert len(smtp_server.messages) == 1


# --- retries and backoff -------------------------------------------------------------------------------------

def test_backoff_grows_2_4_8_minutes_capped_at_an_hour_then_fails(clock_at, app_ctx, db, smtp_server, monkeypatch):
    """With the server down, each failed attempt waits twice as long as the one before, at most an hour; a run
    one second before a row is due leaves it alone; after MAX_ATTEMPTS attempts it is failed."""
    monkeypatch.setattr(mail, "MAX_ATTEMPTS", 8)  # long enough to reach the cap
    smtp_server.stop()
    clock_at(T0)
    _queue(db, "a@x.test")
    delays, now = [], T0
    for attempt in range(1, 8):
        clock_at(now)
        assert jobs.send_due_mail() == {"sent": 0, "retry": 1, "failed": 0}
        row = _row(db, "a@x.test")
        assert (row.status, row.attempts) == ("pending", attempt)
        delays.append((row.next_attempt_at - now) / timedelta(minutes=1))
        now = row.next_attempt_at
        clock_at(now - timedelta(seconds=1))
        assert jobs.send_due_mail() == {"sent": 0, "retry": 0, "failed": 0}
        assert _row(db, "a@x.test").attempts == attempt
    assert delays == [2, 4, 8, 16, 32, 60, 60]
    clock_at(now)
    assert jobs.send_due_mail() == {"sent": 0, "retry": 0, "failed": 1}
    row = _row(db, "a@x.test")
    assert (row.status, row.attempts) == ("failed", 8) and row.last_error.startswith("connect:")


def test_after_max_attempts_it_is_failed_and_shown_with_a_resend_button(clock_at, app, db, client, login, smtp_server):
    smtp_server.stop()
    clock_at(T0)
    with app.app_context():
        _queue(db, "a@x.test")
        now = T0
        for _ in range(mail.MAX_ATTEMPTS):
            clock_at(now)
            jobs.send_due_mail()
            now = _row(db, "a@x.test").next_attempt_at
        row = _row(db, "a@x.test")
        assert (row.status, row.attempts) == ("failed", mail.MAX_ATTEMPTS)
    login("admin")
    page = client.get("/admin/outbox/?status=failed").get_data(as_text=True)
    assert "a@x.test" in page and "ConnectionRefusedError" in page
    assert f"{mail.MAX_ATTEMPTS} / {mail.MAX_ATTEMPTS}" in page
    assert f'action="/admin/outbox/{row.id}/resend?status=failed"' in page


def test_a_row_is_claimed_only_when_due(clock_at, app_ctx, db, smtp_server):
    """A process that picked a row as due, but reaches it after another process has tried it and put it back to
    wait, must not claim it: the conditional claim re-checks next_attempt_at."""
    clock_at(T0)
    _queue(db, "a@x.test")
    row_id = db.session.scalar(select(Outbox.id))  # process A's pick
    smtp_server.stop()
    assert jobs.send_due_mail()["retry"] == 1  # process B tries it and puts it back for 2 minutes
    assert mail.claim(row_id) is False  # process A is too late
    db.session.commit()
    row = _row(db, "a@x.test")
    assert (row.status, row.attempts) == ("pending", 1)
    clock_at(T0 + timedelta(minutes=2))
    assert mail.claim(row_id) is True
    db.session.commit()
    assert _row(db, "a@x.test").status == "sending"


def test_a_temporary_refusal_is_retried_and_a_permanent_one_fails_at_once(clock_at, app_ctx, db, scripted):
    clock_at(T0)
    scripted.handler.rcpt_replies = {"busy@x.test": "451 4.3.0 Mailbox busy, try later",
                                     "gone@x.test": "550 5.1.1 Mailbox unavailable"}
    _queue(db, "busy@x.test", "gone@x.test", "ok@x.test")
    assert jobs.send_due_mail() == {"sent": 1, "retry": 1, "failed": 1}
    busy, gone = _row(db, "busy@x.test"), _row(db, "gone@x.test")
    assert (busy.status, busy.attempts, busy.last_error) == ("pending", 1, "451 4.3.0 Mailbox busy, try later")
    assert busy.next_attempt_at == T0 + timedelta(minutes=2)
    assert (gone.status, gone.attempts, gone.last_error) == ("failed", 1, "550 5.1.1 Mailbox unavailable")
    scripted.handler.rcpt_replies.pop("busy@x.test")
    clock_at(T0 + timedelta(minutes=2))
    assert jobs.send_due_mail() == {"sent": 1, "retry": 0, "failed": 0}  # the 550 is not tried again
    assert sorted(m["To"] for m in scripted.messages) == ["busy@x.test", "ok@x.test"]
    assert _status(db) == {"busy@x.test": "sent", "gone@x.test": "failed", "ok@x.test": "sent"}


# --- headers and encoding ------------------------------------------------------------------------------------

def test_headers_and_bodies_are_encoded_for_any_relay(clock_at, app_ctx, app, db, scripted):
    """On the wire: 7-bit only (no raw 8-bit bytes), an RFC 2047 subject that decodes to the Korean one, base64
    bodies that decode to the Korean text, a Date that is the clock's time, and a Message-ID of a fixed shape."""
    clock_at(T0)
    mail.queue("weekly_summary", "2020-W19", [{"recipient": "a@x.test", "subject": SUBJECT,
                                              "body_text": "점검한 사업장: 2 / 3개소",
                                              "body_html": "<p>마바센터 미실시</p>"}])
    db.session.commit()
    assert jobs.send_due_mail()["sent"] == 1
    raw = scripted.handler.raw[0]
    assert max(raw) < 128, "raw 8-bit bytes on the wire"
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    subject_line = re.search(r"^Subject: ([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", head, re.M).group(1).replace("\r\n", "")
    assert subject_line.lower().startswith("=?utf-8?")
    assert str(make_header(decode_header(subject_line))) == SUBJECT
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert parsedate_to_datetime(msg["Date"]) == T0
    assert msg["Date"].endswith("+0900")  # the district's zone
    assert re.fullmatch(r"<\d+\.\d+\.\d+\.weekly_summary\.2020-W19@district\.example>", msg["Message-ID"])
    assert msg["Message-ID"] == _row(db, "a@x.test").message_id
    parts = {p.get_content_type(): p for p in msg.walk() if not p.is_multipart()}
    assert set(parts) == {"text/plain", "text/html"}
    for part in parts.values():
        assert part["Content-Transfer-Encoding"] == "base64"
        assert part.get_content_charset() == "utf-8"
    assert parts["text/plain"].get_content().strip() == "점검한 사업장: 2 / 3개소"
    assert parts["text/html"].get_content().strip() == "<p>마바센터 미실시</p>"


def test_a_retry_and_a_resend_keep_the_message_id(clock_at, app, db, client, login, scripted):
    """The server takes the message's data and answers 451: the retry carries the same Message-ID. Then it takes
    the data and answers 554: the admin resends, and that copy carries it too (so clients fold duplicates)."""
    clock_at(T0)
    with app.app_context():
        _queue(db, "a@x.test")
        scripted.handler.data_replies = ["451 4.7.1 Greylisted, come back later"]
        assert jobs.send_due_mail() == {"sent": 0, "retry": 1, "failed": 0}
        clock_at(T0 + timedelta(minutes=2))
        assert jobs.send_due_mail() == {"sent": 1, "retry": 0, "failed": 0}
        mid = _row(db, "a@x.test").message_id
        ids = [email.message_from_bytes(r, policy=policy.default)["Message-ID"] for r in scripted.handler.raw]
        assert ids == [mid, mid]

        assert mail.queue("weekly_summary", "2020-W20", [_msg("a@x.test", 2)]) == 1
        db.session.commit()
        scripted.handler.data_replies = ["554 5.6.0 Message content rejected"]
        assert jobs.send_due_mail() == {"sent": 0, "retry": 0, "failed": 1}
        row = loaded(db.session.scalar(select(Outbox).where(Outbox.period == "2020-W20")))
        assert row.status == "failed" and row.last_error.startswith("554")
    login("admin")
    page = client.get("/admin/outbox/").get_data(as_text=True)
    client.post(f"/admin/outbox/{row.id}/resend", data={"csrf_token": csrf_from(page)})
    with app.app_context():
        assert jobs.send_due_mail()["sent"] == 1
    ids = [email.message_from_bytes(r, policy=policy.default)["Message-ID"] for r in scripted.handler.raw[2:]]
    assert ids == [row.message_id, row.message_id] and row.message_id != mid


# --- resend --------------------------------------------------------------------------------------------------

def test_refused_recipient_fails_is_visible_and_can_be_resent_once(clock_at, app, db, client, login, smtp_server):
    clock_at(T0)
    smtp_server.handler.refuse.add("gone@x.test")
    with app.app_context():
        _queue(db, "gone@x.test", "ok@x.test")
        assert jobs.send_due_mail() == {"sent": 1, "retry": 0, "failed": 1}
        row = loaded(_row(db, "gone@x.test"))
        assert row.status == "failed" and row.last_error.startswith("550")
    login("admin")
    page = client.get("/admin/outbox/?status=failed").get_data(as_text=True)
    assert "gone@x.test" in page and "550" in page and "ok@x.test" not in page
    assert "메일 서버가 거부했습니다: 주소를 확인한 뒤 다시 보내세요." in page
    smtp_server.handler.refuse.clear()
    token = csrf_from(page)
    resp = client.post(f"/admin/outbox/{row.id}/resend?status=failed", data={"csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/outbox/?status=failed")
    with app.app_context():
        row = loaded(_row(db, "gone@x.test"))
        assert (row.status, row.attempts, row.last_error) == ("pending", 0, "")
    # A second click (or a second admin) before delivery queues nothing more.
    resp = client.post(f"/admin/outbox/{row.id}/resend", data={"csrf_token": token}, follow_redirects=True)
    assert ("gone@x.test에게 가는 메일은 지금 &#39;대기&#39; 상태라서 다시 넣지 않았습니다."
            in resp.get_data(as_text=True))
    with app.app_context():
        assert jobs.send_due_mail()["sent"] == 1
        assert jobs.send_due_mail()["sent"] == 0
    assert sorted(m["To"] for m in smtp_server.messages) == ["gone@x.test", "ok@x.test"]


@pytest.mark.parametrize("status", ["sent", "sending"])
def test_resending_a_sent_or_sending_message_queues_no_duplicate(clock_at, app, db, client, login, smtp_server, status):
    clock_at(T0)
    with app.app_context():
        _queue(db, "a@x.test")
        assert jobs.send_due_mail()["sent"] == 1
        row = _row(db, "a@x.test")
        if status == "sending":  # another process is sending it right now
            row.status, row.claimed_at = "sending", T0
            db.session.commit()
        loaded(row)
    login("admin")
    page = client.get("/admin/outbox/").get_data(as_text=True)
    resp = client.post(f"/admin/outbox/{row.id}/resend", data={"csrf_token": csrf_from(page)},
                       follow_redirects=True)
    label = {"sent": "보냄", "sending": "보내는 중"}[status]
    assert (f"a@x.test에게 가는 메일은 지금 &#39;{label}&#39; 상태라서 다시 넣지 않았습니다. "
            "실패한 메일만 다시 보낼 수 있습니다.") in resp.get_data(as_text=True)
    with app.app_context():
        row = _row(db, "a@x.test")
        assert (row.status, row.attempts) == (status, 1)
        assert jobs.send_due_mail()["sent"] == 0
    assert len(smtp_server.messages) == 1


def test_resend_needs_an_admin_and_a_csrf_token(clock_at, app, db, client, login, smtp_server):
    clock_at(T0)
    smtp_server.handler.refuse.add("gone@x.test")
    with app.app_context():
        _queue(db, "gone@x.test")
        jobs.send_due_mail()
        row = loaded(_row(db, "gone@x.test"))
    login("lead")
    page = client.get("/mail/preview?week=2020-W19").get_data(as_text=True)
    assert client.post(f"/admin/outbox/{row.id}/resend", data={"csrf_token": csrf_from(page)}).status_code == 403
    assert client.get("/admin/outbox/").status_code == 403
    client.post("/logout", data={"csrf_token": csrf_from(page)})
    login("admin")
    assert client.post(f"/admin/outbox/{row.id}/resend", data={}).status_code == 400
    with app.app_context():
        assert _row(db, "gone@x.test").status == "failed"


# --- the admin page ------------------------------------------------------------------------------------------

def test_outbox_page_marks_the_filter_and_says_when_a_queued_row_is_tried_next(clock_at, app, db, client, login,
                                                                                smtp_server):
    clock_at(T0)
    smtp_server.stop()
    with app.app_context():
        _queue(db, "a@x.test")
        jobs.send_due_mail()  # refused connection: next try at T0 + 2 min = 09:02 in Seoul
        mail.queue("weekly_summary", "2020-W20", [_msg("b@x.test")])
        db.session.commit()
    login("admin")
    page = client.get("/admin/outbox/?status=pending").get_data(as_text=True)
    assert re.search(r'href="/admin/outbox/\?status=pending" aria-current="page"', page)
    assert re.search(r'href="/admin/outbox/\?status=failed">', page)  # the other filters are not marked
    assert re.search(r'href="/admin/outbox/">', page)
    assert "다음 시도 2020-05-11 09:02" in page
    assert "다음 발송 때 보냅니다 (2분마다)" in page  # b@ is due now
    assert "메일 서버에 연결할 수 없습니다" in page
    everything = client.get("/admin/outbox/?status=nonsense").get_data(as_text=True)
    assert re.search(r'href="/admin/outbox/" aria-current="page"', everything)


# --- STARTTLS and AUTH ---------------------------------------------------------------------------------------

USER, PASSWORD = "tracker", "s3cret-passw0rd"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1, made with the openssl command line."""
    openssl = shutil.which("openssl")
    if not openssl:
        pytest.fail("the openssl command is missing: apt-get install openssl")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem"), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return d / "cert.pem", d / "key.pem"


@pytest.fixture
def tls_server(app, certificate):
    """aiosmtpd that offers STARTTLS with the certificate and AUTH only after it, checking the credentials."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append({"session": session, "tls": session.ssl is not None, "login": auth_data.login})
        ok = auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
        return AuthResult(success=ok, handled=False)  # not handled: the server itself answers 235 or 535

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    handler = Scripted()
    controller = Controller(handler, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                            authenticator=authenticator, auth_require_tls=True)
    controller.start()
    app.config.update(TRACKER_SMTP_HOST="127.0.0.1", TRACKER_SMTP_PORT=port, TRACKER_SMTP_STARTTLS=True,
                      TRACKER_SMTP_USER=USER, TRACKER_SMTP_PASSWORD=PASSWORD, TRACKER_SMTP_CAFILE=str(cert),
                      TRACKER_MAIL_FROM="tracker@district.example")
    handler.logins = logins
    yield handler
    controller.stop()


def test_starttls_and_login_deliver(clock_at, app_ctx, db, tls_server):
    clock_at(T0)
    _queue(db, "a@x.test")
    assert jobs.send_due_mail() == {"sent": 1, "retry": 0, "failed": 0}
    assert [m["To"] for m in tls_server.messages] == ["a@x.test"]
    assert tls_server.sessions == [{"tls": True, "authenticated": True}]
    assert all(entry["tls"] for entry in tls_server.logins)  # the password crossed only inside TLS


def test_a_wrong_password_leaves_mail_queued_with_a_clear_error(clock_at, app, db, client, login, tls_server):
    app.config["TRACKER_SMTP_PASSWORD"] = "wrong"
    clock_at(T0)
    with app.app_context():
        _queue(db, "a@x.test", "b@x.test", "c@x.test")
        assert jobs.send_due_mail() == {"sent": 0, "retry": 3, "failed": 0}
        assert tls_server.raw == []
        for r in ("a@x.test", "b@x.test", "c@x.test"):
            row = _row(db, r)
            assert (row.status, row.attempts) == ("pending", 1)
            assert row.last_error.startswith("auth: 535 5.7.8 Authentication credentials invalid"), row.last_error
    # One connection, one login, for the whole run: three messages do not try the password three times.
    assert len({id(entry["session"]) for entry in tls_server.logins}) == 1
    login("admin")
    page = client.get("/admin/outbox/").get_data(as_text=True)
    assert "메일 서버 로그인에 실패했습니다: TRACKER_SMTP_USER와 TRACKER_SMTP_PASSWORD를 확인하세요." in page
    app.config["TRACKER_SMTP_PASSWORD"] = PASSWORD
    clock_at(T0 + timedelta(minutes=2))
    with app.app_context():
        assert jobs.send_due_mail() == {"sent": 3, "retry": 0, "failed": 0}


def test_an_untrusted_certificate_is_refused_before_any_password_is_sent(clock_at, app_ctx, app, db, tls_server):
    app.config["TRACKER_SMTP_CAFILE"] = None  # the system's CAs only: the self-signed certificate is not trusted
    clock_at(T0)
    _queue(db, "a@x.test")
    assert jobs.send_due_mail() == {"sent": 0, "retry": 1, "failed": 0}
    row = _row(db, "a@x.test")
    assert row.status == "pending"
    assert row.last_error.startswith("tls: SSLCertVerificationError") and "certificate verify failed" in row.last_error
    assert tls_server.logins == [] and tls_server.raw == []


def test_no_login_without_tls(clock_at, app_ctx, app, db, tls_server):
    """With STARTTLS off the server does not offer AUTH (auth_require_tls): the mail waits, the password unsent."""
    app.config["TRACKER_SMTP_STARTTLS"] = False
    clock_at(T0)
    _queue(db, "a@x.test")
    assert jobs.send_due_mail()["retry"] == 1
    assert _row(db, "a@x.test").last_error.startswith("auth: SMTPNotSupportedError")
    assert tls_server.logins == [] and tls_server.raw == []


def test_the_config_reads_the_ca_file_setting(monkeypatch, tmp_path):
    from tracker import config
    assert config.load(tmp_path)["TRACKER_SMTP_CAFILE"] is None
    monkeypatch.setenv("TRACKER_SMTP_CAFILE", "/etc/ssl/district-ca.pem")
    assert config.load(tmp_path)["TRACKER_SMTP_CAFILE"] == "/etc/ssl/district-ca.pem"


# --- the page in Debian's Chromium, at phone and desk size ----------------------------------------------------



def open_as(browser, base, user, viewport, phone):
    """A logged-in page in a new context of the given size."""
    from tests.conftest import PASSWORD as LOGIN_PASSWORD
    ctx = browser.new_context(viewport=viewport, is_mobile=phone, has_touch=phone, locale="ko-KR")
    page = ctx.new_page()
    page.set_default_timeout(15000)
    page.goto(f"{base}/login")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", LOGIN_PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    return ctx, page




def test_outbox_on_a_phone_is_cards_with_status_error_and_resend_first(clock_at, app_ctx, db, browser, live_server,
                                                                      make_user, smtp_server):
    import os
    clock_at(T0)
    smtp_server.handler.refuse.add("gone.with.a.rather.long.address@district-office.example")
    _queue(db, "gone.with.a.rather.long.address@district-office.example", "ok@x.test")
    jobs.send_due_mail()
    mail.queue("weekly_summary", "2020-W20", [_msg("later@x.test")])
    db.session.commit()
    admin = make_user("admin")
    shots = os.environ.get("TRACKER_SHOTS_DIR")
    for name, viewport, phone in (("phone", {"width": 390, "height": 844}, True),
                                  ("desk", {"width": 1280, "height": 800}, False)):
        ctx, page = open_as(browser, live_server, admin, viewport, phone)
        page.goto(f"{live_server}/admin/outbox/")
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        card = page.locator("tr[data-status=failed]")
        button = card.get_by_role("button", name="다시 보내기")
        box, to = button.bounding_box(), card.locator(".o-to").bounding_box()
        status, error = card.locator(".o-status").bounding_box(), card.locator(".o-error").bounding_box()
        assert box["x"] + box["width"] <= viewport["width"]  # the button is in sight, not cut off
        assert card.locator(".o-error").is_visible() and "550" in card.locator(".o-error").inner_text()
        if phone:
            assert page.locator("table.outbox thead").is_hidden()
            assert status["y"] < to["y"] and box["y"] < to["y"] and error["y"] < to["y"]
        else:
            assert page.locator("table.outbox thead").is_visible()
        if shots:
            page.screenshot(path=f"{shots}/outbox-{name}.png", full_page=True)
        close_context(ctx)


# --- a bad row never stalls the batch (issue 14 item 7) --------------------------------------------------------

@pytest.mark.parametrize("bad", ["lead@x.test\r\nBcc: all@x.test", "lead@x.test\nX-Evil: 1",
                                 "lead@x.test\rBcc: x@y.test"])
def test_an_address_stored_with_cr_lf_fails_by_name_and_the_rest_of_the_batch_is_sent(clock_at, app_ctx, db,
                                                                                      smtp_server, bad):
    """Addresses are checked where they enter now, but a row written before that (or straight into the database)
    must not leave its row 'sending' and the rows after it unsent."""
    clock_at(T0)
    _queue(db, "a@x.test", "placeholder@x.test", "c@x.test")
    db.session.execute(Outbox.__table__.update().where(Outbox.recipient == "placeholder@x.test")
                       .values(recipient=bad))
    db.session.commit()
    assert jobs.send_due_mail() == {"sent": 2, "retry": 0, "failed": 1}
    assert sorted(m["To"] for m in smtp_server.messages) == ["a@x.test", "c@x.test"]
    row = _row(db, bad)
    assert row.status == "failed" and row.last_error and "Bcc" not in str(smtp_server.handler.raw)
    assert jobs.send_due_mail() == {"sent": 0, "retry": 0, "failed": 0}  # nothing left claimed or stuck


def test_an_unexpected_error_while_sending_is_recorded_and_retried_by_the_usual_rules(clock_at, app_ctx, db,
                                                                                       smtp_server, monkeypatch):
    clock_at(T0)
    _queue(db, "a@x.test", "b@x.test")
    real = smtplib.SMTP.send_message

    def flaky(self, msg, *args, **kwargs):
        if msg["To"] == "a@x.test":
            raise RuntimeError("a bug somewhere below us")
        return real(self, msg, *args, **kwargs)
    monkeypatch.setattr(smtplib.SMTP, "send_message", flaky)
    assert jobs.send_due_mail() == {"sent": 1, "retry": 1, "failed": 0}
    row = _row(db, "a@x.test")
    assert row.status == "pending" and "RuntimeError" in row.last_error and row.attempts == 1
    assert row.next_attempt_at == T0 + mail.backoff(1)
