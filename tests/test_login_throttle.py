"""A flood of logins from one address is slowed down whatever e-mails it tries; an office's typos are not."""
from datetime import datetime, timedelta, timezone

from conftest import csrf_from
from tracker.models import LoginThrottle

START = datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)


def post_login(client, email, password="wrong-password-1", addr="198.51.100.7"):
    token = csrf_from(client.get("/login", environ_base={"REMOTE_ADDR": addr}).get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": addr})


def test_new_emails_from_one_address_are_slowed_down_after_the_addresss_allowance(app, client, db, time_machine):
    time_machine.move_to(START, tick=False)
    free = app.config["TRACKER_LOGIN_FREE_FAILURES_PER_ADDRESS"]
    statuses = [post_login(client, f"new{n}@example.test").status_code for n in range(free)]
    assert statuses == [401] * free      # each e-mail is new: no per-e-mail count could slow these
    flooded = post_login(client, "another-new@example.test")
    assert flooded.status_code == 429 and "초 후에 다시 시도하세요" in flooded.get_data(as_text=True)
    # another address, and the same address once its wait is over, are heard again
    assert post_login(client, "someone@example.test", addr="203.0.113.9").status_code == 401
    time_machine.move_to(START + timedelta(seconds=5), tick=False)
    assert post_login(client, "later@example.test").status_code == 401


def test_an_addresss_count_starts_again_after_an_hour_without_failures(app, client, db, make_user, time_machine):
    time_machine.move_to(START, tick=False)
    free = app.config["TRACKER_LOGIN_FREE_FAILURES_PER_ADDRESS"]
    for n in range(free - 1):
        post_login(client, f"typo{n}@example.test")
    time_machine.move_to(START + timedelta(hours=2), tick=False)
    assert [post_login(client, f"later{n}@example.test").status_code for n in range(3)] == [401] * 3
    with app.app_context():
        row = db.session.get(LoginThrottle, "address|198.51.100.7")
        assert row.failures == 3
    user = make_user("lead")
    assert post_login(client, user.email, "correct-horse-1").status_code == 302   # a good login is never held up
