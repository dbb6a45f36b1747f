"""The outbox against a real SMTP server: once, never lost, refused mail visible and resendable."""
import threading
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from tracker import clock
from tracker.models import Outbox
from tracker.services import mail

T0 = datetime(2020, 5, 11, 0, 0, tzinfo=timezone.utc)


def _msg(to, n=1):
    return {"recipient": to, "subject": f"[영등포구] 주간 점검 요약 {n}", "body_text": f"본문 {n}",
            "body_html": f"<p>본문 {n}</p>"}


def _status(db):
    db.session.expire_all()
    return dict(db.session.execute(select(Outbox.recipient, Outbox.status)).all())


def test_queue_twice_makes_one_row_per_recipient(db):
    clock.set_now(T0)
    assert mail.queue("weekly_summary", "2020-W19", [_msg("a@x.test"), _msg("b@x.test")]) == 2
    assert mail.queue("weekly_summary", "2020-W19", [_msg("a@x.test"), _msg("B@x.test")]) == 0
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Outbox)) == 2


def test_delivery_sends_each_once_with_korean_subject(db, smtp_server):
    clock.set_now(T0)
    mail.queue("weekly_summary", "2020-W19", [_msg("a@x.test"), _msg("b@x.test")])
    db.session.commit()
    assert mail.deliver_due() == {"sent": 2, "retry": 0, "failed": 0}
    assert mail.deliver_due() == {"sent": 0, "retry": 0, "failed": 0}
    assert sorted(m["To"] for m in smtp_server.messages) == ["a@x.test", "b@x.test"]
    msg = smtp_server.messages[0]
    assert msg["Subject"] == "[영등포구] 주간 점검 요약 1"
    assert msg["Message-ID"] and msg["Date"]
    assert "본문 1" in msg.get_body(("plain",)).get_content()
    assert "<p>본문 1</p>" in msg.get_body(("html",)).get_content()
    assert set(_status(db).values()) == {"sent"}


def test_server_down_keeps_mail_queued_then_it_arrives_once(db, smtp_server):
    clock.set_now(T0)
    mail.queue("weekly_summary", "2020-W19", [_msg("a@x.test")])
    db.session.commit()
    smtp_server.stop()
    assert mail.deliver_due() == {"sent": 0, "retry": 1, "failed": 0}
    row = db.session.scalar(select(Outbox))
    assert row.status == "pending" and row.attempts == 1 and row.last_error
    assert row.next_attempt_at > T0  # backoff
    assert mail.deliver_due()["retry"] == 0  # not due yet: nothing is hammered
    smtp_server.start()
    clock.set_now(T0 + timedelta(hours=1))
    assert mail.deliver_due() == {"sent": 1, "retry": 0, "failed": 0}
    assert mail.deliver_due()["sent"] == 0
    assert len(smtp_server.messages) == 1


def test_gives_up_after_max_attempts(db, smtp_server):
    clock.set_now(T0)
    mail.queue("weekly_summary", "2020-W19", [_msg("a@x.test")])
    db.session.commit()
    smtp_server.stop()
    for n in range(mail.MAX_ATTEMPTS):
        clock.set_now(T0 + timedelta(hours=2 * n))
        mail.deliver_due()
    assert _status(db) == {"a@x.test": "failed"}


def test_refused_recipient_fails_is_visible_and_can_be_resent(db, client, login, smtp_server):
    clock.set_now(T0)
    smtp_server.handler.refuse.add("gone@x.test")
    mail.queue("weekly_summary", "2020-W19", [_msg("gone@x.test"), _msg("ok@x.test")])
    db.session.commit()
    assert mail.deliver_due() == {"sent": 1, "retry": 0, "failed": 1}
    row = db.session.scalar(select(Outbox).where(Outbox.recipient == "gone@x.test"))
    assert row.status == "failed" and row.last_error.startswith("550")
    login("admin")
    page = client.get("/admin/outbox/?status=failed").get_data(as_text=True)
    assert "gone@x.test" in page and "550" in page
    from tests.conftest import csrf_from
    smtp_server.handler.refuse.clear()
    resp = client.post(f"/admin/outbox/{row.id}/resend", data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 302
    assert _status(db)["gone@x.test"] == "pending"
    assert mail.deliver_due()["sent"] == 1
    assert sorted(m["To"] for m in smtp_server.messages) == ["gone@x.test", "ok@x.test"]


def test_two_deliveries_at_once_send_each_message_once(app, db, smtp_server):
    clock.set_now(T0)
    mail.queue("weekly_summary", "2020-W19", [_msg(f"r{i}@x.test", i) for i in range(12)])
    db.session.commit()
    barrier = threading.Barrier(2)
    errors = []

    def worker():
        with app.app_context():
            try:
                barrier.wait()
                mail.deliver_due()
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


def test_a_claim_left_by_a_crash_is_retried_only_after_it_goes_stale(db, smtp_server):
    clock.set_now(T0)
    mail.queue("weekly_summary", "2020-W19", [_msg("a@x.test")])
    db.session.commit()
    row = db.session.scalar(select(Outbox))
    # A process claimed the row and died before marking it sent.
    row.status, row.claimed_at, row.attempts = "sending", T0, 1
    db.session.commit()
    assert mail.deliver_due()["sent"] == 0
    clock.set_now(T0 + mail.STALE_CLAIM + timedelta(seconds=1))
    assert mail.deliver_due()["sent"] == 1
    assert len(smtp_server.messages) == 1
