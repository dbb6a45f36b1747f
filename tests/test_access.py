"""Every URL rule of the app, walked for every role: login required, roles enforced, CSRF on every form."""
import re

import pytest

from tests.conftest import csrf_from

# Meant to be public: the login page, static files, the health check, the API's description and the
# service worker script (it only caches the form shell; the pages it caches still need a login).
PUBLIC = {"static", "auth.login", "health.healthz", "api.openapi", "inspect.service_worker"}
ROLES = ("inspector", "lead", "admin")


def _rules(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC:
            continue
        view = app.view_functions[rule.endpoint]
        method = "GET" if "GET" in rule.methods else sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
        url = re.sub(r"<(?:int:)?(\w+)>", lambda m: "999999" if "id" in m.group(1) else "zz", rule.rule)
        url = url.replace("<fmt>", "svg").replace("<path:filename>", "x")
        yield rule, view, method, url


def test_every_non_public_view_declares_its_roles(app):
    undeclared = [r.endpoint for r, view, _m, _u in _rules(app) if not hasattr(view, "required_roles")]
    assert undeclared == [], f"views without a login/role guard: {undeclared}"


def test_anonymous_is_sent_to_login_or_gets_401(app, client):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    for rule, _view, method, url in _rules(app):
        resp = client.open(url, method=method, data={"csrf_token": token},
                           headers={"X-CSRFToken": token})
        if url.startswith("/api/"):
            assert resp.status_code == 401, (url, resp.status_code)
            assert resp.get_json()["message"]
        else:
            assert resp.status_code == 302, (url, method, resp.status_code)
            assert "/login" in resp.headers["Location"], url


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_403_where_it_may_not_go(app, client, login, role):
    login(role)
    token = csrf_from(client.get("/sites/").get_data(as_text=True))
    checked = 0
    for rule, view, method, url in _rules(app):
        if role in view.required_roles:
            continue
        resp = client.open(url, method=method, data={"csrf_token": token}, headers={"X-CSRFToken": token})
        assert resp.status_code == 403, (role, url, resp.status_code)
        checked += 1
    if role != "admin":
        assert checked > 0  # inspectors and leads do meet pages they may not use


def test_a_form_without_csrf_token_is_refused(app, client, login, site_factory):
    site = site_factory()
    login("lead")
    resp = client.post(f"/sites/{site.id}/status", data={"status": "closed"})
    assert resp.status_code == 400
    assert "보안 토큰" in resp.get_data(as_text=True)
    from tracker.extensions import db
    db.session.expire_all()
    assert site.status == "active"
