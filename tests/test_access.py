"""Every URL rule of the app, walked for every role: login required, roles enforced, CSRF on every form."""
import re

import pytest

from tests.conftest import csrf_from

# Meant to be public: the login page (and its code step), static files, the health check, the API's description,
# what a phone needs to keep the app (the service worker script, the web app manifest and the offline page), and
# the privacy page: none carries data, and the pages the service worker keeps still need a login.
PUBLIC = {"static", "auth.login", "auth.login_code", "health.healthz", "api_docs.openapi", "pwa.service_worker",
          "pwa.manifest", "pwa.offline", "privacy.page",
          # the site's reply page and self-check (issue 16): no account, the signed link is the key
          # (tests/test_site_reply.py, tests/test_self_check.py)
          "reply.page", "reply.report", "reply.self_check"}
ROLES = ("inspector", "lead", "admin")
ALL, LEADS, ADMIN = set(ROLES), {"lead", "admin"}, {"admin"}
# Who may use what, written out here independently of the views' own decorators (README, "Roles"): the walk
# below holds the app to this table, so a guard that is missing, or wider than it should be, fails a test.
POLICY = {
    "auth.logout": ALL, "dashboard.home": ALL,
    # 내 정보: one's own password, logins, tokens and two-factor login
    "account.me": ALL, "account.password": ALL, "account.end_session": ALL, "account.end_token": ALL,
    "account.totp_enrol": ALL, "account.totp_off": ALL, "account.idle": ALL, "account.keepalive": ALL,


    # 내 정보 › 알림: each person their own reminders
    "reminders.edit": ALL,
    # the register: everyone reads it; leads change it, and only they see the QR codes (proof of presence)
    "sites.index": ALL, "sites.detail": ALL, "sites.export": ALL, "sites.by_code": ALL,
    "sites.create": LEADS, "sites.edit": LEADS, "sites.set_status": LEADS, "sites.upload": LEADS,
    "sites.qr": LEADS, "sites.qr_sheet": LEADS, "sites.rotate_qr": LEADS, "sites.revoke_links": LEADS,
    # the field work
    "inspect.home": ALL, "inspect.scan": ALL, "inspect.form": ALL, "inspect.contact": ALL, "inspect.submit": ALL,
    "inspect.detail": ALL, "inspect.scan_after_login": ALL, "inspect.form_token": ALL,
    "inspect.photo": ALL,
    # the 점검 결과서 and the result notice (issue 16): whoever may open the inspection (the view checks which)
    "inspect.report_pdf": ALL, "inspect.notice": ALL, "reply.waiting": ALL, "reply.review": ALL,
    # the user's own consent to location
    "consent.location_page": ALL,
    # the team lead's desk
    "dashboard.overview": LEADS, "dashboard.export": LEADS, "dashboard.council": LEADS,
    "dashboard.council_xlsx": LEADS, "dashboard.council_pdf": LEADS, "schedule.week": LEADS, "schedule.actions": LEADS,
    "schedule.assignments": LEADS, "schedule.reassign": LEADS, "schedule.record_incident": LEADS,
    "mail.preview": LEADS, "mail.preview_body": LEADS,
    # administration
    "admin.users": ADMIN, "admin.update_user": ADMIN, "admin.user_detail": ADMIN, "admin.reset_password": ADMIN,
    "admin.reset_totp": ADMIN,
    "admin.checklist_view": ADMIN, "admin.checklist_edit": ADMIN,
    "admin.checklist_export": ADMIN, "admin.checklist_import": ADMIN, "outbox.index": ADMIN, "outbox.resend": ADMIN,
    "admin.settings_view": ADMIN,
    # the access log of personal data (issue 13)
    "admin.access_log_view": ADMIN, "admin.review_access_month": ADMIN, "api.list_access_log": ADMIN,
    # the API
    "api.create_inspection": ALL, "api.list_inspections": ALL, "api.current_checklist": ALL, "api.csrf_token": ALL,
    "api.list_sites": ALL, "api.site_stats": ALL, "api.list_tasks": ALL, "api.list_actions": LEADS,
    "api.get_summary": LEADS,
}


def _rules(app):
    """(rule, view, method, url) for every method of every non-public rule."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC:
            continue
        view = app.view_functions[rule.endpoint]
        url = re.sub(r"<(?:int:)?(\w+)>", lambda m: "999999" if "id" in m.group(1) else "zz", rule.rule)
        url = url.replace("<fmt>", "svg").replace("<path:filename>", "x")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, view, method, url


def test_every_rule_is_in_the_policy_and_guarded_as_it_says(app):
    endpoints = {r.endpoint for r in app.url_map.iter_rules()} - PUBLIC
    assert endpoints - set(POLICY) == set(), "new pages need a line in POLICY"
    assert set(POLICY) - endpoints == set(), "POLICY names pages that no longer exist"
    wrong = {r.endpoint: (set(getattr(view, "required_roles", ())), POLICY[r.endpoint])
             for r, view, _m, _u in _rules(app) if set(getattr(view, "required_roles", ())) != POLICY[r.endpoint]}
    assert wrong == {}


def test_every_non_public_view_declares_its_roles(app):
    undeclared = [r.endpoint for r, view, _m, _u in _rules(app) if not hasattr(view, "required_roles")]
    assert undeclared == [], f"views without a login/role guard: {undeclared}"


# Pages a script asks (static/js/idle.js), which answer as the API does: 401 JSON, not the login page.
SCRIPT_ENDPOINTS = {"account.idle", "account.keepalive"}


def test_anonymous_is_sent_to_login_or_gets_401(app, client):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    for rule, _view, method, url in _rules(app):
        resp = client.open(url, method=method, data={"csrf_token": token},
                           headers={"X-CSRFToken": token})
        if url.startswith("/api/") or rule.endpoint in SCRIPT_ENDPOINTS:
            assert resp.status_code == 401, (url, resp.status_code)
            assert resp.get_json()["message"]
        else:
            assert resp.status_code == 302, (url, method, resp.status_code)
            assert "/login" in resp.headers["Location"], url


@pytest.mark.parametrize("role", ROLES)
def test_each_role_gets_403_where_it_may_not_go_and_in_where_it_may(app, client, login, role):
    login(role)
    token = csrf_from(client.get("/sites/").get_data(as_text=True))
    refused = admitted = 0
    for rule, _view, method, url in _rules(app):
        if rule.endpoint == "auth.logout":
            continue  # it would end the walk's session
        resp = client.open(url, method=method, data={"csrf_token": token}, headers={"X-CSRFToken": token})
        if role in POLICY[rule.endpoint]:
            # In, whatever the page then makes of the made-up id or input (404, 422, a redirect to a page).
            assert resp.status_code != 403 and resp.status_code != 401, (role, method, url, resp.status_code)
            assert "/login" not in resp.headers.get("Location", ""), (role, method, url)
            admitted += 1
        else:
            assert resp.status_code == 403, (role, method, url, resp.status_code)
            refused += 1
    assert admitted > 0
    if role != "admin":
        assert refused > 0  # inspectors and leads do meet pages they may not use


def test_every_form_post_without_a_csrf_token_is_refused(app, client, login):
    """Every POST rule, for a user allowed to use it, is refused without the token (the API's bearer-token
    requests are the exception: no cookie, so nothing for another site to forge)."""
    login("admin")
    checked = 0
    for _rule, _view, method, url in _rules(app):
        if method != "POST":
            continue
        resp = client.post(url, data={"x": "1"})
        assert resp.status_code == 400, (url, resp.status_code)
        checked += 1
    assert checked >= 15


def test_a_form_without_csrf_token_is_refused(app, client, login, site_factory):
    site = site_factory()
    login("lead")
    resp = client.post(f"/sites/{site.id}/status", data={"status": "closed"})
    assert resp.status_code == 400
    assert "보안 토큰" in resp.get_data(as_text=True)
    from tracker.extensions import db
    from tracker.models import Site
    with app.app_context():
        assert db.session.get(Site, site.id).status == "active"
