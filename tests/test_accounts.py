"""Accounts: login/logout with hashed passwords and CSRF, the login throttle, and the admin's user page."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from conftest import PASSWORD, csrf_from
from tracker import clock
from tracker.models import Audit, User
from tracker.services import ServiceError, accounts


def post_login(client, email, password, next_url=""):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    return client.post(f"/login{next_url}", data={"email": email, "password": password, "csrf_token": token})


def test_passwords_are_stored_hashed(db, make_user):
    user = make_user("lead")
    assert PASSWORD not in user.password_hash
    assert user.password_hash.startswith(("scrypt:", "pbkdf2:"))


def test_production_hashes_with_scrypt(app, app_ctx):
    # The suite hashes cheaply (conftest); a real deployment gets scrypt whatever the environment says.
    from tracker import config
    assert config.load(app.instance_path)["TRACKER_PASSWORD_HASH"] == "scrypt"
    app.config["TRACKER_PASSWORD_HASH"] = "scrypt"
    user = accounts.create_user("real@example.test", "Real", "lead", "long-enough-1")
    assert user.password_hash.startswith("scrypt:")
    assert accounts.authenticate("real@example.test", "long-enough-1", "k").id == user.id


def test_login_and_logout(client, make_user, form_token):
    user = make_user("lead")
    resp = post_login(client, user.email.upper(), PASSWORD)  # e-mail is matched case-insensitively
    assert resp.status_code == 302
    assert client.get("/sites/").status_code == 200
    # logout is a POST with the CSRF token; a GET does nothing
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert client.get("/sites/").status_code == 200
    resp = client.post("/logout", data={"csrf_token": form_token("/sites/")})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login")
    assert client.get("/sites/").status_code == 302


def test_login_goes_back_to_the_page_asked_for_but_never_off_site(client, make_user):
    user = make_user("lead")
    assert post_login(client, user.email, PASSWORD, "?next=/sites/new").headers["Location"] == "/sites/new"
    for bad in ("//evil.example/x", "/\\evil.example", "https://evil.example/", "/%09/evil.example",
                "/%0A/evil.example", "/%20/evil.example"):
        client.post("/logout", data={"csrf_token": csrf_from(client.get("/sites/").get_data(as_text=True))})
        resp = post_login(client, user.email, PASSWORD, f"?next={bad}")
        assert resp.status_code == 302 and "evil" not in resp.headers["Location"], bad


def test_each_request_works_out_its_user_afresh(app, client, db, make_user, form_token):
    """Nothing a request learnt about its user carries over to the next one, as under a real server: a bearer token
    counts for its own request only, another browser stays anonymous beside a logged-in one, and after logout the
    next request is anonymous."""
    user = make_user("inspector")
    with app.app_context():
        token = accounts.create_token(db.session.get(User, user.id))
        db.session.commit()
    assert client.get("/api/v1/sites", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.get("/api/v1/sites").status_code == 401
    assert post_login(client, user.email, PASSWORD).status_code == 302
    assert client.get("/inspect").status_code == 200
    other_browser = app.test_client()
    assert other_browser.get("/inspect").status_code == 302
    assert other_browser.get("/api/v1/sites").status_code == 401
    client.post("/logout", data={"csrf_token": form_token("/inspect")})
    assert client.get("/inspect").status_code == 302
    assert client.get("/api/v1/sites").status_code == 401


def test_wrong_password_is_refused_with_a_message(client, make_user):
    user = make_user("lead")
    resp = post_login(client, user.email, "wrong-password")
    assert resp.status_code == 401
    assert "이메일 또는 비밀번호가 올바르지 않습니다" in resp.get_data(as_text=True)
    assert client.get("/sites/").status_code == 302
    resp = post_login(client, "nobody@example.test", PASSWORD)
    assert resp.status_code == 401


def test_login_form_without_csrf_token_is_refused(client, make_user):
    user = make_user("lead")
    resp = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert resp.status_code == 400
    assert client.get("/sites/").status_code == 302


def test_repeated_failures_are_slowed_down(clock_at, app, client, make_user):
    user = make_user("lead")
    t0 = clock.now()
    clock_at(t0)
    free = app.config["TRACKER_LOGIN_FREE_FAILURES"]
    for _ in range(free):
        assert post_login(client, user.email, "wrong-password").status_code == 401
    resp = post_login(client, user.email, PASSWORD)  # even the right password must wait now
    assert resp.status_code == 429
    assert "로그인 실패가 반복되었습니다" in resp.get_data(as_text=True)
    assert "초 후에 다시 시도하세요" in resp.get_data(as_text=True)
    assert client.get("/sites/").status_code == 302
    # another address (or another e-mail) is not held up
    other = make_user("inspector")
    assert post_login(client, other.email, PASSWORD).status_code == 302
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/inspect").get_data(as_text=True))})
    # the wait grows with further failures, and ends
    clock_at(t0 + timedelta(seconds=3))
    assert post_login(client, user.email, "wrong-password").status_code == 401
    clock_at(t0 + timedelta(seconds=4))
    assert post_login(client, user.email, PASSWORD).status_code == 429
    clock_at(t0 + timedelta(seconds=3 + 5))
    assert post_login(client, user.email, PASSWORD).status_code == 302


def _failed_login(key: str) -> int:
    """A wrong password, as the login page handles it: a 401 is counted, a 429 (too early) is not."""
    with pytest.raises(ServiceError) as exc:
        accounts.authenticate("x@example.test", "nope", key)
    if exc.value.status == 401:
        accounts.record_failed_login(key)
    return exc.value.status


def test_throttle_waits_are_counted_in_the_database(clock_at, app, app_ctx):
    key = "x@example.test|10.0.0.1"
    t0 = clock.now()
    clock_at(t0)
    statuses = [_failed_login(key) for _ in range(app.config["TRACKER_LOGIN_FREE_FAILURES"] + 2)]
    assert statuses == [401] * 5 + [429, 429]  # while held up, tries are refused and not counted
    assert accounts.login_wait_seconds(key) == 2
    clock_at(t0 + timedelta(seconds=2))
    assert _failed_login(key) == 401
    assert accounts.login_wait_seconds(key) == 4  # the wait doubles with each further failure
    clock_at(t0 + timedelta(hours=1))
    assert accounts.login_wait_seconds(key) == 0


def test_deactivated_user_cannot_log_in_and_is_logged_out(app, client, db, login):
    user = login("inspector")
    assert client.get("/inspect").status_code == 200
    with app.app_context():
        accounts.update_user(db.session.get(User, user.id), "inspector", False)
        db.session.commit()
    assert client.get("/inspect").status_code == 302
    assert post_login(client, user.email, PASSWORD).status_code == 401


def test_admin_lists_creates_deactivates_and_changes_roles(app, client, db, login, form_token):
    admin = login("admin")
    html = client.get("/admin/users").get_data(as_text=True)
    assert admin.email in html
    resp = client.post("/admin/users", data={"csrf_token": form_token("/admin/users"),
                                             "email": "New.Person@Example.test", "name": "새 점검원",
                                             "role": "inspector", "password": "long-enough-1"})
    assert resp.status_code == 302
    with app.app_context():
        new = accounts.find_user("new.person@example.test")
        assert new.role == "inspector" and new.active and new.email == "new.person@example.test"
    assert "새 점검원" in client.get("/admin/users").get_data(as_text=True)
    # the row's fields are tied to its form, so a browser posts them
    html = client.get("/admin/users").get_data(as_text=True)
    assert f'id="uf{new.id}"' in html and f'form="uf{new.id}"' in html
    token = form_token("/admin/users")
    resp = client.post(f"/admin/users/{new.id}", data={"csrf_token": token, f"u{new.id}-role": "lead",
                                                       f"u{new.id}-active": "y"})
    assert resp.status_code == 302
    with app.app_context():
        changed = db.session.get(User, new.id)
        assert (changed.role, changed.active) == ("lead", True)
    client.post(f"/admin/users/{new.id}", data={"csrf_token": token, f"u{new.id}-role": "lead"})
    with app.app_context():
        assert db.session.get(User, new.id).active is False
        rows = db.session.scalars(select(Audit).where(Audit.entity == "user", Audit.entity_id == new.id)
                                  .order_by(Audit.id)).all()
        assert [r.action for r in rows] == ["create", "update", "update"]
        assert rows[1].user_id == admin.id and rows[1].before == {"role": "inspector", "active": True}
        assert rows[2].after == {"role": "lead", "active": False}


def test_admin_user_form_refuses_bad_input(app, client, db, login, form_token, make_user):
    login("admin")
    taken = make_user("lead")
    for data, message in [
        ({"email": taken.email, "name": "중복", "role": "lead", "password": "long-enough-1"}, "이미 등록된 이메일"),
        ({"email": "a@b.test", "name": "짧은", "role": "lead", "password": "short"}, "8"),
    ]:
        resp = client.post("/admin/users", data={"csrf_token": form_token("/admin/users"), **data})
        assert resp.status_code == 422 and message in resp.get_data(as_text=True)
    with app.app_context():
        assert accounts.find_user("a@b.test") is None


def test_admin_cannot_lock_themselves_out(app, client, db, login, form_token):
    admin = login("admin")
    resp = client.post(f"/admin/users/{admin.id}", data={"csrf_token": form_token("/admin/users"),
                                                         f"u{admin.id}-role": "inspector", f"u{admin.id}-active": "y"},
                       follow_redirects=True)
    assert "자신의 관리자 권한을 해제하거나 비활성화할 수 없습니다" in resp.get_data(as_text=True)
    with app.app_context():
        admin = db.session.get(User, admin.id)
        assert admin.role == "admin" and admin.active


def test_admin_post_without_csrf_is_refused(app, client, db, login):
    login("admin")
    resp = client.post("/admin/users", data={"email": "x@y.test", "name": "X", "role": "admin",
                                             "password": "long-enough-1"})
    assert resp.status_code == 400
    with app.app_context():
        assert accounts.find_user("x@y.test") is None


@pytest.mark.parametrize("kwargs,phrase", [
    ({"email": "no-at-sign"}, "이메일 주소가 올바르지 않습니다"),
    ({"role": "boss"}, "역할은 admin, lead, inspector"),
    ({"password": "1234567"}, "8자 이상"),
    ({"name": "  "}, "이름을 입력하세요"),
])
def test_create_user_rules(app_ctx, db, kwargs, phrase):
    args = {"email": "p@example.test", "name": "P", "role": "lead", "password": "long-enough-1", **kwargs}
    with pytest.raises(ServiceError, match=phrase):
        accounts.create_user(**args)
    assert db.session.scalar(select(User)) is None


def test_behind_a_proxy_each_client_is_throttled_on_its_own(clock_at, app, make_user, monkeypatch):
    """With TRACKER_PROXIES=1 the throttle keys on the client's address from X-Forwarded-For, so one client's
    failures do not lock the real user out from another address."""
    from tracker import create_app
    user = make_user("lead")
    monkeypatch.setenv("TRACKER_PROXIES", "1")
    proxied = create_app({k: app.config[k] for k in ("TESTING", "SQLALCHEMY_DATABASE_URI", "TRACKER_UPLOAD_DIR",
                                                     "TRACKER_BASE_URL", "SECRET_KEY")})
    client = proxied.test_client()
    clock_at(clock.now())
    attacker, owner = {"X-Forwarded-For": "203.0.113.9"}, {"X-Forwarded-For": "198.51.100.7"}

    def attempt(password, headers):
        token = csrf_from(client.get("/login", headers=headers).get_data(as_text=True))
        return client.post("/login", headers=headers, data={"email": user.email, "password": password,
                                                             "csrf_token": token})
    for _ in range(app.config["TRACKER_LOGIN_FREE_FAILURES"]):
        assert attempt("wrong-password", attacker).status_code == 401
    assert attempt(PASSWORD, attacker).status_code == 429
    assert attempt(PASSWORD, owner).status_code == 302


@pytest.mark.parametrize("bad", ["lead@example.test\r\nBcc: all@example.test", "a b@example.test",
                                 "lead@example.test, other@example.test", "Lead <lead@example.test>",
                                 "lead@", "@example.test", "lead@example.test\x00", "김팀장@구청.kr",
                                 "x" * 300 + "@a.b"])
def test_user_creation_refuses_an_address_mail_could_not_carry(app_ctx, db, bad):
    with pytest.raises(ServiceError) as exc:
        accounts.create_user(bad, "Lead", "lead", "long-enough-1")
    assert "이메일 주소가 올바르지 않습니다" in exc.value.message and "\n" not in exc.value.message
    assert db.session.scalar(select(User).where(User.name == "Lead")) is None


def test_addresses_are_kept_trimmed_and_lower_case(app_ctx, db):
    assert accounts.create_user("  Lead@Example.TEST ", "Lead", "lead", "long-enough-1").email == "lead@example.test"


def test_a_bad_summary_recipient_stops_the_start_with_its_name(monkeypatch, tmp_path):
    from tracker import config
    monkeypatch.setenv("TRACKER_SUMMARY_RECIPIENTS", "chief@district.example, bad\r\nBcc: x@y.z")
    with pytest.raises(ValueError, match="TRACKER_SUMMARY_RECIPIENTS: 'bad"):
        config.load(str(tmp_path))
    monkeypatch.setenv("TRACKER_SUMMARY_RECIPIENTS", " Chief@district.example ,, lead@district.example")
    assert config.load(str(tmp_path))["TRACKER_SUMMARY_RECIPIENTS"] == ["chief@district.example",
                                                                        "lead@district.example"]
