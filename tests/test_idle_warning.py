"""The idle warning's server side (KWCAG 2.2 / WCAG 2.2.1, issue 13 §3 and §5): every signed-in page tells the
script its login's limit and what is left; /me/idle answers without counting as use; /me/keepalive (계속 사용)
counts as use at once, and is refused once the login has ended."""
import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from conftest import csrf_from
from tracker.models import UserSession

START = datetime(2026, 12, 7, 0, 0, tzinfo=timezone.utc)  # 09:00 in Seoul, a Monday


def the_session(app, db, user):
    with app.app_context():
        return db.session.scalars(select(UserSession).where(UserSession.user_id == user.id)).one()


def idle_data(html):
    """(limit, left) in seconds, as the page gives them to idle.js."""
    m = re.search(r'id="idle-dialog"[^>]*data-limit="(\d+)" data-left="(\d+)"', html)
    assert m, "the page has no idle warning"
    return int(m.group(1)), int(m.group(2))


def keepalive(client, token):
    return client.post("/me/keepalive", headers={"X-CSRFToken": token, "Accept": "application/json"})


@pytest.mark.parametrize("role,minutes", [("lead", 30), ("admin", 30), ("inspector", 240)])
def test_every_signed_in_page_gives_the_roles_limit_and_what_is_left(client, login, clock_at, role, minutes):
    clock_at(START)
    login(role)
    clock_at(START + timedelta(seconds=40))  # within the minute: this request does not touch the login
    limit, left = idle_data(client.get("/me").get_data(as_text=True))
    assert (limit, left) == (minutes * 60, minutes * 60 - 40)
    clock_at(START + timedelta(minutes=2))  # this one does: the whole limit is left
    assert idle_data(client.get("/inspect").get_data(as_text=True)) == (minutes * 60, minutes * 60)


def test_pages_without_a_login_have_no_warning(client):
    html = client.get("/login").get_data(as_text=True)
    assert 'id="idle-dialog"' not in html and "idle.js" not in html


def test_asking_what_is_left_does_not_count_as_use(app, client, db, login, clock_at):
    clock_at(START)
    user = login("lead")
    clock_at(START + timedelta(minutes=25))
    resp = client.get("/me/idle")
    assert resp.status_code == 200 and resp.get_json() == {"left": 5 * 60}
    assert the_session(app, db, user).last_seen_at == START


def test_keepalive_counts_as_use_at_once(app, client, db, login, clock_at):
    clock_at(START)
    user = login("lead")
    clock_at(START + timedelta(seconds=20))
    token = csrf_from(client.get("/me").get_data(as_text=True))  # a page within the minute: not written
    assert the_session(app, db, user).last_seen_at == START
    clock_at(START + timedelta(seconds=30))
    resp = keepalive(client, token)
    assert resp.status_code == 204 and resp.get_data() == b""
    assert the_session(app, db, user).last_seen_at == START + timedelta(seconds=30)  # written though < 1 minute
    clock_at(START + timedelta(seconds=30, minutes=29))
    assert client.get("/me/idle").get_json() == {"left": 60}  # the 30 minutes now count from the keepalive


def test_keepalive_needs_the_csrf_token(app, client, db, login, clock_at):
    clock_at(START)
    user = login("inspector")
    clock_at(START + timedelta(seconds=20))  # within the minute: only a keepalive that passed would write
    assert client.post("/me/keepalive").status_code == 400
    assert keepalive(client, "not-the-token").status_code == 400
    assert the_session(app, db, user).last_seen_at == START


def test_keepalive_is_refused_once_the_login_has_ended(app, client, db, login, clock_at):
    clock_at(START)
    user = login("lead")
    token = csrf_from(client.get("/me").get_data(as_text=True))
    clock_at(START + timedelta(minutes=30, seconds=1))
    resp = keepalive(client, token)
    assert resp.status_code == 401 and resp.get_json()["error"] == "authentication required"
    sess = the_session(app, db, user)
    assert sess.end_reason == "idle" and sess.last_seen_at == START  # ended, not revived
    assert client.get("/me/idle").status_code == 401
    # the next page, the login, says why
    assert "오래 사용하지 않아 로그인이 끝났습니다" in client.get("/login").get_data(as_text=True)


def test_without_a_login_both_answer_401_not_the_login_page(client, form_token):
    assert client.get("/me/idle").status_code == 401
    resp = keepalive(client, form_token("/login"))
    assert resp.status_code == 401 and resp.get_json()["message"]


def test_a_user_who_must_change_the_password_is_still_kept_signed_in(app, client, db, login, clock_at):
    """The forced password page can take a while: its warning works like any other page's."""
    clock_at(START)
    user = login("lead")
    with app.app_context():
        db.session.get(type(user), user.id).must_change_password = True
        db.session.commit()
    clock_at(START + timedelta(minutes=10))
    token = csrf_from(client.get("/me/password").get_data(as_text=True))
    assert keepalive(client, token).status_code == 204
    assert client.get("/me/idle").get_json() == {"left": 30 * 60}
