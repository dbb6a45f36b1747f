"""Sessions that end (issue 13 §3, issue 14 item 5): server-side logins, idle ends per role, 내 정보, password
changes and resets, the password rule, two-factor login and the role history."""
import re
from datetime import datetime, timedelta, timezone

import pyotp
import pytest
from sqlalchemy import func, select

from conftest import PASSWORD, csrf_from
from tracker.models import ApiToken, RecoveryCode, RoleChange, Site, User, UserSession
from tracker.services import ServiceError, accounts

START = datetime(2026, 12, 7, 0, 0, tzinfo=timezone.utc)  # 09:00 in Seoul, a Monday


def log_in(client, user, password=PASSWORD):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"email": user.email, "password": password, "csrf_token": token})


def log_out(client, page="/me"):
    return client.post("/logout", data={"csrf_token": csrf_from(client.get(page).get_data(as_text=True))})


def copy_of_cookie(app, client):
    """Another browser holding a copy of this client's session cookie."""
    other = app.test_client()
    other.set_cookie("session", client.get_cookie("session").value)
    return other


def api_token(app, db, user) -> str:
    with app.app_context():
        token = accounts.create_token(db.session.get(User, user.id))
        db.session.commit()
        return token


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def sessions_of(app, db, user):
    with app.app_context():
        return db.session.scalars(select(UserSession).where(UserSession.user_id == user.id)
                                  .order_by(UserSession.id)).all()


# --- logout ends the session on the server ------------------------------------------------------------------

def test_a_copy_of_the_cookie_opens_nothing_after_logout(app, client, db, login):
    user = login("inspector")
    thief = copy_of_cookie(app, client)
    assert thief.get("/inspect").status_code == 200  # the copy works while the login lasts...
    assert log_out(client, "/inspect").status_code == 302
    resp = thief.get("/inspect")  # ...and not after it
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    assert thief.get("/api/v1/sites").status_code == 401
    assert thief.get("/api/v1/csrf-token").get_json()["error"] == "authentication required"
    [sess] = sessions_of(app, db, user)
    assert sess.ended_at is not None and sess.end_reason == "logout"
    assert len(sess.key_hash) == 64 and client.get_cookie("session").value not in sess.key_hash


def test_an_old_csrf_token_is_refused_after_logout(app, client, db, login, make_user):
    lead = login("lead")
    old_token = csrf_from(client.get("/sites/").get_data(as_text=True))
    thief = copy_of_cookie(app, client)
    log_out(client, "/sites/")
    site = {"name": "토큰센터", "business_no": "123-45-67890", "dong": "여의동", "headcount": "30"}
    # the copied cookie with its own token: the login is over, nothing is made
    resp = thief.post("/sites/new", data={**site, "csrf_token": old_token})
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    # the same browser logged in again: the token of before belongs to a session that is gone
    assert log_in(client, lead).status_code == 302
    resp = client.post("/sites/new", data={**site, "csrf_token": old_token})
    assert resp.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Site)) == 0
    # a token of the new session works
    resp = client.post("/sites/new", data={**site, "csrf_token": csrf_from(client.get("/sites/new").get_data(
        as_text=True))})
    assert resp.status_code == 302


def test_the_login_pages_token_does_not_outlive_the_login(app, client, login):
    before = csrf_from(client.get("/login").get_data(as_text=True))
    login("lead")
    assert client.post("/logout", data={"csrf_token": before}).status_code == 400  # a fresh cookie session
    assert client.get("/sites/").status_code == 200


def test_a_cookie_without_a_server_session_is_anonymous(app, client, login):
    """A cookie naming a user but no live session (an old cookie from before this change, a forged remember-me
    cookie's user id) opens nothing."""
    login("lead")
    with client.session_transaction() as sess:
        sess.pop("sid")
    assert client.get("/sites/").status_code == 302
    with client.session_transaction() as sess:
        sess["sid"] = "made-up"
        sess["_user_id"] = "1"
    assert client.get("/sites/").status_code == 302


# --- idle end per role ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("role,minutes", [("lead", 30), ("admin", 30), ("inspector", 240)])
def test_an_idle_login_ends_after_its_roles_time_with_a_message(app, client, db, login, clock_at, role, minutes):
    clock_at(START)
    user = login(role)
    page = "/inspect"
    step = timedelta(minutes=minutes - 1)
    clock_at(START + step)
    assert client.get(page).status_code == 200        # used within its time: it goes on...
    clock_at(START + 2 * step)
    assert client.get(page).status_code == 200        # ...counted from the last use, not from the login
    clock_at(START + 2 * step + timedelta(minutes=minutes, seconds=1))
    resp = client.get(page)
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "오래 사용하지 않아 로그인이 끝났습니다" in html
    [sess] = sessions_of(app, db, user)
    assert sess.end_reason == "idle"
    assert client.get(page).status_code == 302       # ended for good: coming back later does not revive it


def test_idle_times_come_from_the_settings_and_the_message_is_translated(app, client, login, clock_at):
    app.config.update(TRACKER_IDLE_TIMEOUT_MINUTES=5, TRACKER_IDLE_TIMEOUT_MINUTES_INSPECTOR=10)
    clock_at(START)
    login("inspector")
    clock_at(START + timedelta(minutes=9))
    assert client.get("/inspect").status_code == 200
    clock_at(START + timedelta(minutes=19, seconds=30))
    resp = client.get("/inspect?lang=en")
    assert resp.status_code == 302
    assert "signed out after a period of inactivity" in client.get("/login").get_data(as_text=True)


def test_last_seen_is_written_at_most_once_a_minute(app, client, db, login, clock_at):
    clock_at(START)
    user = login("lead")
    for seconds in (10, 30, 59):
        clock_at(START + timedelta(seconds=seconds))
        client.get("/sites/")
    assert sessions_of(app, db, user)[0].last_seen_at == START
    clock_at(START + timedelta(seconds=61))
    client.get("/sites/")
    assert sessions_of(app, db, user)[0].last_seen_at == START + timedelta(seconds=61)


def test_the_api_answers_401_json_once_idle(app, client, login, clock_at):
    """The phone's outbox asks for a CSRF token first: a 401 tells it to keep the queue until the next login."""
    clock_at(START)
    login("inspector")
    clock_at(START + timedelta(hours=5))
    resp = client.get("/api/v1/csrf-token", headers={"Accept": "application/json"})
    assert resp.status_code == 401 and resp.get_json()["message"]


# --- 내 정보: logins and tokens ---------------------------------------------------------------------------------

def test_me_lists_logins_and_tokens_and_ends_one(app, client, db, login, form_token):
    user = login("inspector")
    phone2 = app.test_client()
    assert log_in(phone2, user).status_code == 302
    token = api_token(app, db, user)
    html = client.get("/me").get_data(as_text=True)
    for heading in ("비밀번호 바꾸기", "로그인한 기기", "API 토큰", "2단계 인증"):
        assert heading in html
    mine, other = sessions_of(app, db, user)
    assert html.count("/end\"") == 2  # one session of another device, one token: this device has no button
    assert f"/me/sessions/{other.id}/end" in html and f"/me/sessions/{mine.id}/end" not in html
    client.post(f"/me/sessions/{other.id}/end", data={"csrf_token": form_token("/me")})
    assert phone2.get("/inspect").status_code == 302
    assert client.get("/inspect").status_code == 200
    with app.app_context():
        token_id = db.session.scalar(select(ApiToken.id))
    assert app.test_client().get("/api/v1/sites", headers=bearer(token)).status_code == 200
    client.post(f"/me/tokens/{token_id}/end", data={"csrf_token": form_token("/me")})
    assert app.test_client().get("/api/v1/sites", headers=bearer(token)).status_code == 401


def test_nobody_ends_anothers_login_or_token(app, client, db, login, make_user, form_token):
    other = make_user("lead")
    browser = app.test_client()
    log_in(browser, other)
    token = api_token(app, db, other)
    login("inspector")
    [sess] = sessions_of(app, db, other)
    with app.app_context():
        token_id = db.session.scalar(select(ApiToken.id))
    client.post(f"/me/sessions/{sess.id}/end", data={"csrf_token": form_token("/me")})
    client.post(f"/me/tokens/{token_id}/end", data={"csrf_token": form_token("/me")})
    assert browser.get("/sites/").status_code == 200
    assert app.test_client().get("/api/v1/sites", headers=bearer(token)).status_code == 200


# --- password change, reset and deactivation end every login and token -------------------------------------------

def change_password(client, old, new, confirm=None):
    token = csrf_from(client.get("/me/password").get_data(as_text=True))
    return client.post("/me/password", data={"csrf_token": token, "old": old, "new": new,
                                             "confirm": new if confirm is None else confirm})


def test_changing_ones_password_ends_the_other_logins_and_tokens(app, client, db, login):
    user = login("lead")
    other = app.test_client()
    log_in(other, user)
    token = api_token(app, db, user)
    assert change_password(client, "wrong-password-1", "new-secret-77").status_code == 422
    assert change_password(client, PASSWORD, "new-secret-77", "typo").status_code == 422
    resp = change_password(client, PASSWORD, "new-secret-77")
    assert resp.status_code == 302
    assert client.get("/sites/").status_code == 200                  # this browser goes on
    assert other.get("/sites/").status_code == 302                   # the other login ended
    assert app.test_client().get("/api/v1/sites", headers=bearer(token)).status_code == 401
    assert {s.end_reason for s in sessions_of(app, db, user)} == {"password", None}
    log_out(client, "/sites/")
    assert log_in(client, user).status_code == 401
    assert log_in(client, user, "new-secret-77").status_code == 302


def test_deactivation_ends_every_login_and_token(app, client, db, make_user, login, form_token):
    user = make_user("inspector")
    phone = app.test_client()
    log_in(phone, user)
    token = api_token(app, db, user)
    login("admin")
    client.post(f"/admin/users/{user.id}", data={"csrf_token": form_token("/admin/users"),
                                                 f"u{user.id}-role": "inspector"})
    assert phone.get("/inspect").status_code == 302
    assert phone.get("/api/v1/sites", headers=bearer(token)).status_code == 401
    assert [s.end_reason for s in sessions_of(app, db, user)] == ["deactivated"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 0


def test_a_reset_ends_logins_and_the_user_must_choose_a_new_password(app, client, db, make_user, login, form_token):
    user = make_user("inspector")
    phone = app.test_client()
    log_in(phone, user)
    token = api_token(app, db, user)
    login("admin")
    page = f"/admin/users/{user.id}"
    resp = client.post(f"{page}/password", data={"csrf_token": form_token(page), "password": "short"})
    assert resp.status_code == 422 and "8자 이상" in resp.get_data(as_text=True)
    assert phone.get("/inspect").status_code == 200
    resp = client.post(f"{page}/password", data={"csrf_token": form_token(page), "password": "temp-pass-2026"})
    assert resp.status_code == 302
    assert phone.get("/inspect").status_code == 302
    assert phone.get("/api/v1/sites", headers=bearer(token)).status_code == 401
    assert log_in(phone, user, "temp-pass-2026").status_code == 302
    for url in ("/inspect", "/sites/", "/me"):  # every page sends them to choose a password first
        resp = phone.get(url)
        assert resp.status_code == 302 and resp.headers["Location"].endswith("/me/password"), url
    assert phone.get("/api/v1/sites").status_code == 401
    assert "새 비밀번호를 정하세요" in phone.get("/me/password").get_data(as_text=True)
    assert change_password(phone, "temp-pass-2026", "temp-pass-2026").status_code == 422  # not the same one
    assert change_password(phone, "temp-pass-2026", "my-own-pass-9").status_code == 302
    assert phone.get("/inspect").status_code == 200
    assert reloaded_user(app, db, user).must_change_password is False


def reloaded_user(app, db, user):
    with app.app_context():
        return db.session.get(User, user.id)


# --- the password rule -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("password", ["abcdefg1", "가나다라마바사1", "pass word", "1234-5678", "abcdefghijk",
                                      "8264917305", "correct-horse-1", "long-enough-1", "demo-admin-1234"])
def test_the_rule_lets_through(app_ctx, password):
    accounts.check_password_rule(password)


@pytest.mark.parametrize("password,phrase", [
    ("", "8자 이상"), ("abc1!", "8자 이상"), ("abcdefgh", "8자 이상"), ("12345678", "8자 이상"),
    ("!@#$%^&*", "8자 이상"),
    ("abcdefghi", "10자 이상"), ("password1", "흔하거나"), ("P@ssw0rd", "흔하거나"), ("1234567890", "흔하거나"),
    ("qwer1234", "흔하거나"), ("aaaaaaaaaaaa", "단순한"), ("x" * 129, "128자 이하")])
def test_the_rule_refuses_by_name(app_ctx, password, phrase):
    with pytest.raises(ServiceError, match=phrase):
        accounts.check_password_rule(password)


def test_demo_users_passwords_pass_the_rule(app_ctx):
    from tracker.services.demo import DEMO_USERS
    for *_rest, password in DEMO_USERS:
        accounts.check_password_rule(password)


def test_create_user_refuses_a_weak_password_in_the_cli_and_the_admin_page(app, client, db, login, form_token):
    from tracker.cli import create_user
    result = app.test_cli_runner().invoke(create_user, ["--email", "w@example.test", "--name", "W", "--role", "lead",
                                                        "--password", "password1"])
    assert result.exit_code != 0 and "흔하거나" in result.output
    login("admin")
    resp = client.post("/admin/users", data={"csrf_token": form_token("/admin/users"), "email": "w@example.test",
                                             "name": "W", "role": "lead", "password": "abcdefgh"})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert re.search(r'id="password"[^>]*>\s*<p class="error" role="alert"[^>]*>비밀번호는 영문자', html)
    with app.app_context():
        assert accounts.find_user("w@example.test") is None


# --- two-factor login --------------------------------------------------------------------------------------------

def enrol(client, when):
    """Enrol TOTP on 내 정보 at a moment; returns (secret, recovery codes)."""
    html = client.get("/me/totp").get_data(as_text=True)
    secret = re.search(r"data-secret>([A-Z2-7]+)<", html).group(1)
    assert "<svg" in html  # the QR code to scan
    resp = client.post("/me/totp", data={"csrf_token": csrf_from(html), "code": pyotp.TOTP(secret).at(when)})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return secret, re.findall(r"<code>([0-9a-f]{5}-[0-9a-f]{5})</code>", resp.get_data(as_text=True))


def send_code(client, code):
    page = client.get("/login/code")
    return client.post("/login/code", data={"csrf_token": csrf_from(page.get_data(as_text=True)), "code": code})


def test_totp_enrol_then_login_asks_for_the_code(app, client, db, login, clock_at):
    clock_at(START)
    user = login("inspector")
    bad = client.post("/me/totp", data={"csrf_token": csrf_from(client.get("/me/totp").get_data(as_text=True)),
                                        "code": "000000"})
    assert bad.status_code == 422 and "인증 코드가 맞지 않습니다" in bad.get_data(as_text=True)
    secret, codes = enrol(client, START)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert "켜져 있습니다" in client.get("/me").get_data(as_text=True)
    with app.app_context():  # only hashes are kept
        stored = db.session.scalars(select(RecoveryCode.code_hash)).all()
        assert len(stored) == 10 and not set(codes) & set(stored)
    log_out(client)
    resp = log_in(client, user)
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login/code")
    assert client.get("/inspect").status_code == 302  # the password alone logs no one in
    assert send_code(client, "123456").status_code == 401
    assert send_code(client, pyotp.TOTP(secret).at(START)).status_code == 401  # the code used to enrol: once only
    later = START + timedelta(seconds=60)
    clock_at(later)
    assert send_code(client, pyotp.TOTP(secret).at(later)).status_code == 302
    assert client.get("/inspect").status_code == 200


def test_turning_totp_on_ends_the_other_logins_and_keeps_this_one(app, client, db, login, clock_at):
    """Someone still logged in elsewhere (a phone left signed in) is not let past the new second step."""
    clock_at(START)
    user = login("lead")
    phone = app.test_client()
    assert log_in(phone, user).status_code == 302 and phone.get("/sites/").status_code == 200
    html = client.get("/me/totp").get_data(as_text=True)
    secret = re.search(r"data-secret>([A-Z2-7]+)<", html).group(1)
    resp = client.post("/me/totp", data={"csrf_token": csrf_from(html), "code": pyotp.TOTP(secret).at(START)})
    assert "다른 기기에 남아 있던 로그인 1개를 끝냈습니다" in resp.get_data(as_text=True)
    assert client.get("/sites/").status_code == 200  # this browser goes on
    assert phone.get("/sites/").status_code == 302  # the other is sent to log in, now with a code
    with app.app_context():
        reasons = db.session.scalars(select(UserSession.end_reason).where(UserSession.ended_at.is_not(None))).all()
        assert reasons == ["totp_on"]


def test_turning_totp_on_counts_only_logins_still_in_use(app, client, db, login, clock_at):
    """A login idle past its time but never asked since (so never closed) is closed as idle, and not counted."""
    clock_at(START)
    user = login("lead")
    assert log_in(app.test_client(), user).status_code == 302  # a browser that is never used again
    later = START + timedelta(days=30)
    clock_at(later)
    assert log_in(client, user).status_code == 302  # this browser, back a month later
    phone = app.test_client()
    assert log_in(phone, user).status_code == 302  # and a phone in use today
    html = client.get("/me/totp").get_data(as_text=True)
    secret = re.search(r"data-secret>([A-Z2-7]+)<", html).group(1)
    resp = client.post("/me/totp", data={"csrf_token": csrf_from(html), "code": pyotp.TOTP(secret).at(later)})
    assert "다른 기기에 남아 있던 로그인 1개를 끝냈습니다" in resp.get_data(as_text=True)
    with app.app_context():
        reasons = sorted(db.session.scalars(select(UserSession.end_reason).where(
            UserSession.ended_at.is_not(None))).all())
        assert reasons == ["idle", "idle", "totp_on"]  # the month-old browser, the first login here, the phone


def test_a_recovery_code_logs_in_once(app, client, db, login, clock_at):
    clock_at(START)
    user = login("lead")
    _secret, codes = enrol(client, START)
    log_out(client)
    log_in(client, user)
    assert send_code(client, codes[3].upper().replace("-", " ")).status_code == 302  # as typed from paper
    log_out(client)
    log_in(client, user)
    assert send_code(client, codes[3]).status_code == 401
    assert send_code(client, codes[4]).status_code == 302
    assert "남은 복구 코드: 8개" in client.get("/me").get_data(as_text=True)


def test_code_attempts_are_throttled(app, client, db, login, clock_at):
    clock_at(START)
    user = login("lead")
    secret, _codes = enrol(client, START)
    log_out(client)
    log_in(client, user)
    clock_at(START + timedelta(minutes=1))
    for _n in range(app.config["TRACKER_LOGIN_FREE_FAILURES"]):
        assert send_code(client, "000000").status_code == 401
    resp = send_code(client, pyotp.TOTP(secret).at(START + timedelta(minutes=1)))
    assert resp.status_code == 429 and "초 후에 다시 시도하세요" in resp.get_data(as_text=True)
    assert client.get("/sites/").status_code == 302


def test_the_code_step_expires(app, client, login, clock_at):
    clock_at(START)
    user = login("lead")
    secret, _codes = enrol(client, START)
    log_out(client)
    log_in(client, user)
    token = csrf_from(client.get("/login/code").get_data(as_text=True))
    clock_at(START + timedelta(minutes=6))
    resp = client.post("/login/code", data={"csrf_token": token,
                                            "code": pyotp.TOTP(secret).at(START + timedelta(minutes=6))})
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")
    assert "인증 시간이 지났습니다" in client.get("/login").get_data(as_text=True)
    assert client.get("/sites/").status_code == 302


def test_a_role_that_requires_totp_is_sent_to_enrol_after_the_password(app, client, db, login, make_user, clock_at):
    app.config["TRACKER_TOTP_REQUIRED"] = ["lead", "admin"]
    clock_at(START)
    login("lead")
    for url in ("/sites/", "/me", "/dashboard"):
        resp = client.get(url)
        assert resp.status_code == 302 and resp.headers["Location"].endswith("/me/totp"), url
    assert client.get("/api/v1/sites").status_code == 401
    html = client.get("/me/totp").get_data(as_text=True)
    assert "이 역할은 2단계 인증을 써야 합니다" in html
    enrol(client, START)
    assert client.get("/sites/").status_code == 200
    assert "2단계 인증 끄기" not in client.get("/me").get_data(as_text=True)  # a required role cannot turn it off
    inspector_client = app.test_client()
    log_in(inspector_client, make_user("inspector"))
    assert inspector_client.get("/inspect").status_code == 200  # a role not named logs in as before


def test_the_totp_secret_is_stored_sealed(app, client, db, login, clock_at):
    """A copy of the database alone (a backup, a dump) does not give the codes: the secret is sealed with a key
    derived from the app's secret key, and a secret stored before sealing is sealed at its next good code."""
    clock_at(START)
    user = login("lead")
    secret, codes = enrol(client, START)
    stored = reloaded_user(app, db, user).totp_secret
    assert stored.startswith("fernet:") and secret not in stored
    with app.app_context():
        db.session.get(User, user.id).totp_secret = secret  # as enrolled before this release
        db.session.commit()
    log_out(client)
    log_in(client, user)
    later = START + timedelta(minutes=1)
    clock_at(later)
    assert send_code(client, pyotp.TOTP(secret).at(later)).status_code == 302
    resealed = reloaded_user(app, db, user).totp_secret
    assert resealed.startswith("fernet:") and secret not in resealed

    # Under another secret key the seal does not open: the code is refused, a recovery code still logs in.
    log_out(client)
    app.config["SECRET_KEY"] = "another-secret-key-for-this-test"
    log_in(client, user)
    even_later = START + timedelta(minutes=2)
    clock_at(even_later)
    assert send_code(client, pyotp.TOTP(secret).at(even_later)).status_code == 401
    assert send_code(client, codes[0]).status_code == 302


def test_an_admin_resets_a_lost_second_step_and_the_user_enrols_again(app, client, db, make_user, login, clock_at,
                                                                       form_token):
    """Phone and recovery codes both lost: an admin clears the second step; the user's logins end, the next login takes
    the password alone, and a role that requires TOTP is sent to enrol again."""
    app.config["TRACKER_TOTP_REQUIRED"] = {"lead"}
    clock_at(START)
    user = make_user("lead")
    phone = app.test_client()
    assert log_in(phone, user).status_code == 302
    assert phone.get("/me/totp").status_code == 200  # sent to enrol: the role requires it
    secret, _codes = enrol(phone, START)
    login("admin")
    page = f"/admin/users/{user.id}"
    assert "2단계 인증 초기화" in client.get(page).get_data(as_text=True)
    resp = client.post(f"{page}/totp-reset", data={"csrf_token": form_token(page)}, follow_redirects=True)
    assert "2단계 인증을 초기화했습니다" in resp.get_data(as_text=True)
    assert "2단계 인증 초기화" not in resp.get_data(as_text=True).split("</h1>")[1]  # nothing left to reset
    assert phone.get("/sites/").status_code == 302  # that login ended
    with app.app_context():
        stored = db.session.get(User, user.id)
        assert stored.totp_secret is None
        assert db.session.scalar(select(func.count()).select_from(RecoveryCode)) == 0
    resp = log_in(phone, user)
    assert resp.status_code == 302 and not resp.headers["Location"].startswith("/login/code")
    assert phone.get("/sites/").headers["Location"].endswith("/me/totp")  # enrol again before anything else


def test_totp_can_be_turned_off_with_the_password_when_not_required(app, client, db, login, clock_at):
    clock_at(START)
    user = login("inspector")
    enrol(client, START)
    token = csrf_from(client.get("/me").get_data(as_text=True))
    client.post("/me/totp/off", data={"csrf_token": token, "password": "wrong-password-1"})
    assert reloaded_user(app, db, user).totp_secret is not None
    client.post("/me/totp/off", data={"csrf_token": csrf_from(client.get("/me").get_data(as_text=True)),
                                      "password": PASSWORD})
    assert reloaded_user(app, db, user).totp_secret is None
    log_out(client)
    assert log_in(client, user).headers["Location"] == "/"


def test_the_totp_setting_names_roles_only(monkeypatch, tmp_path):
    from tracker import config
    monkeypatch.setenv("TRACKER_TOTP_REQUIRED", "Lead, admin")
    assert config.load(str(tmp_path))["TRACKER_TOTP_REQUIRED"] == ["lead", "admin"]
    monkeypatch.setenv("TRACKER_TOTP_REQUIRED", "lead,boss")
    with pytest.raises(ValueError, match="TRACKER_TOTP_REQUIRED"):
        config.load(str(tmp_path))
    monkeypatch.delenv("TRACKER_TOTP_REQUIRED")
    assert config.load(str(tmp_path))["TRACKER_TOTP_REQUIRED"] == []


# --- role history ------------------------------------------------------------------------------------------------

def test_grants_and_removals_of_roles_are_kept_and_listed(app, client, db, login, form_token):
    admin = login("admin")
    client.post("/admin/users", data={"csrf_token": form_token("/admin/users"), "email": "r@example.test",
                                      "name": "역할이력", "role": "inspector", "password": "long-enough-1"})
    with app.app_context():
        uid = accounts.find_user("r@example.test").id
    for data in ({f"u{uid}-role": "lead", f"u{uid}-active": "y"},   # inspector → lead
                 {f"u{uid}-role": "lead"},                           # deactivated: lead removed
                 {f"u{uid}-role": "lead", f"u{uid}-active": "y"}):   # back: lead granted
        client.post(f"/admin/users/{uid}", data={"csrf_token": form_token("/admin/users"), **data})
    with app.app_context():
        rows = db.session.execute(select(RoleChange.role, RoleChange.change, RoleChange.by_id)
                                  .where(RoleChange.user_id == uid).order_by(RoleChange.id)).all()
    assert [tuple(r) for r in rows] == [("inspector", "grant", admin.id), ("inspector", "remove", admin.id),
                                        ("lead", "grant", admin.id), ("lead", "remove", admin.id),
                                        ("lead", "grant", admin.id)]
    html = client.get(f"/admin/users/{uid}").get_data(as_text=True)
    assert "역할 부여·해제 기록" in html and html.count("<td>부여</td>") == 3 and html.count("<td>해제</td>") == 2
    assert f'href="/admin/users/{uid}"' in client.get("/admin/users").get_data(as_text=True)


def test_a_code_scanned_on_the_way_survives_the_two_step_login(app, client, login, site_factory, default_checklist,
                                                                 clock_at):
    """An inspector who must give a TOTP code still gets the scan record of the QR code that sent them to log in:
    the password step's fresh cookie keeps the scanned code aside, as the final login does."""
    clock_at(START)
    user = login("inspector")
    secret, _codes = enrol(client, START)
    log_out(client)
    site = site_factory()
    first = client.get(f"/s/{site.qr_token}")
    page = client.get(first.headers["Location"])
    client.post(first.headers["Location"], data={"email": user.email, "password": PASSWORD,
                                                  "csrf_token": csrf_from(page.get_data(as_text=True))})
    later = START + timedelta(seconds=60)
    clock_at(later)
    code_url = "/login/code?next=%2Fs%2F"
    token = csrf_from(client.get(code_url).get_data(as_text=True))
    after = client.post(code_url, data={"csrf_token": token, "code": pyotp.TOTP(secret).at(later)})
    assert after.status_code == 302 and after.headers["Location"] == "/s/"
    form = client.get(after.headers["Location"])
    assert form.status_code == 303 and f"/inspect/sites/{site.id}?mode=onsite&scan=" in form.headers["Location"]


def test_a_form_posted_after_the_login_ended_leads_back_to_a_page_not_a_405(app, client, login, form_token):
    """Logging out (or any form) from a page whose login has ended goes to the login, and from there to a page:
    `next` never names a URL that only takes POST, which the browser would then GET (405)."""
    user = login("inspector")
    token = form_token("/me")
    stale = copy_of_cookie(app, client)
    log_out(client)
    resp = stale.post("/logout", data={"csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")
    after = log_in_at(stale, user, resp.headers["Location"])
    assert after.status_code == 302
    assert stale.get(after.headers["Location"]).status_code in (200, 302)


def log_in_at(client, user, url):
    token = csrf_from(client.get(url).get_data(as_text=True))
    return client.post(url, data={"email": user.email, "password": PASSWORD, "csrf_token": token})
