"""Proof of presence and the owner of a form (issue 14 items 1 and 4): a scan record bound to its user and site and
used once, a login on the way that keeps the QR code out of URLs, the offline scan as a weaker proof of its own,
codes masked in request logs, and a form's signed owner, so that a shared phone never files one inspector's work
under another's login."""
import logging
import re
import uuid
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from tests.conftest import PASSWORD, csrf_from
from tracker.extensions import db as _db
from tracker.models import Inspection, UsedScan
from tracker.services import inspections


def _log_in(client, user, url="/login"):
    page = client.get(url)
    return client.post(url, data={"email": user.email, "password": PASSWORD,
                                       "csrf_token": csrf_from(page.get_data(as_text=True))})


def _hidden(html: str) -> dict:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))


def _form_post(client, site, html, **extra):
    """The form as a browser posts it: its hidden fields, every item answered yes."""
    data = {**_hidden(html), **extra}
    data.update({f"a-{k}": "yes" for k in set(re.findall(r'name="a-([a-z_]+)"', html))})
    return client.post(f"/inspect/sites/{site.id}", data=data, headers={"Accept": "application/json"})


def _inspections(app):
    with app.app_context():
        return _db.session.scalars(select(Inspection).order_by(Inspection.id)).all()


# --- the QR code's URL ----------------------------------------------------------------------------------------

def test_a_scan_answers_303_to_the_form_with_a_record_of_this_user_and_not_the_code(app, client, login, site_factory,
                                                                                    default_checklist):
    user = login("inspector")
    site = site_factory()
    resp = client.get(f"/s/{site.qr_token}")
    assert resp.status_code == 303 and site.qr_token not in resp.headers["Location"]
    url = urlsplit(resp.headers["Location"])
    assert url.path == f"/inspect/sites/{site.id}" and parse_qs(url.query)["mode"] == ["onsite"]
    with app.app_context():
        at, nonce = inspections.read_scan_token(parse_qs(url.query)["scan"][0], site.id, user.id)
        assert nonce and at


def test_logging_in_on_the_way_carries_the_code_in_the_session_not_in_next(app, client, make_user, site_factory,
                                                                           default_checklist):
    site = site_factory()
    first = client.get(f"/s/{site.qr_token}")
    assert first.status_code == 302 and site.qr_token not in first.headers["Location"]
    assert urlsplit(first.headers["Location"]).path == "/login"
    after = _log_in(client, make_user("inspector"), first.headers["Location"])
    assert site.qr_token not in after.headers["Location"]
    form = client.get(after.headers["Location"])
    assert form.status_code == 303 and f"/inspect/sites/{site.id}?mode=onsite&scan=" in form.headers["Location"]
    html = client.get(form.headers["Location"]).get_data(as_text=True)
    assert _hidden(html)["scan_token"]
    assert client.get("/s/").headers["Location"].endswith("/inspect")  # the kept code was used once


def test_a_scan_record_is_its_users_own_and_proves_presence_once(app, client, make_user, site_factory,
                                                                 default_checklist):
    a, b = make_user("inspector"), make_user("inspector")
    site = site_factory()
    _log_in(client, a)
    form_url = client.get(f"/s/{site.qr_token}").headers["Location"]
    first = client.get(form_url).get_data(as_text=True)
    second = client.get(form_url).get_data(as_text=True)  # the same record in a second form (a new client_uuid)
    assert _form_post(client, site, first).status_code == 201
    assert _form_post(client, site, second).status_code == 201
    saved = _inspections(app)
    assert saved[0].qr_scanned_at is not None and saved[1].qr_scanned_at is None  # saved, without the proof
    with app.app_context():
        assert _db.session.scalar(select(func.count()).select_from(UsedScan)) == 1
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/inspect").get_data(as_text=True))})
    _log_in(client, b)
    shown = client.get(form_url).get_data(as_text=True)  # A's record in B's session proves nothing
    assert _hidden(shown)["scan_token"] == "" and 'id="scan-ok" hidden' in shown
    resp = _form_post(client, site, shown, scan_token=_hidden(first)["scan_token"])
    assert resp.status_code == 422 and "scan_token" in resp.json["errors"]


def test_the_apis_bare_qr_token_is_no_scan(app, client, make_user, site_factory, default_checklist):
    from tracker.services import accounts
    user = make_user("inspector")
    site = site_factory()
    with app.app_context():
        token = accounts.create_token(_db.session.get(type(user), user.id))
        _db.session.commit()
        keys = [i.key for i in default_checklist.items if i.applies_to("onsite")]
    body = {"qr_token": site.qr_token, "mode": "onsite", "client_uuid": str(uuid.uuid4()),
            "answers": {k: {"value": "yes"} for k in keys}}
    resp = client.post("/api/v1/inspections", json=body, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 201 and resp.json["qr_scanned_at"] is None and resp.json["offline_scanned_at"] is None


def test_an_offline_scan_is_a_weaker_proof_in_its_own_field(app, client, login, site_factory, default_checklist):
    login("inspector")
    site = site_factory()
    html = client.get(f"/inspect/sites/{site.id}?mode=onsite").get_data(as_text=True)
    phone_time = "2020-03-11T10:15:00+09:00"
    resp = _form_post(client, site, html, offline_qr_token=site.qr_token, offline_scanned_at=phone_time)
    assert resp.status_code == 201
    (insp,) = _inspections(app)
    assert insp.qr_scanned_at is None
    assert insp.offline_scanned_at == datetime(2020, 3, 11, 1, 15, tzinfo=timezone.utc)
    page = client.get(resp.json["url"]).get_data(as_text=True)
    assert "오프라인 스캔 (시각 미확인)" in page and "QR 스캔 없음" not in page
    # Another site's code, or none, proves nothing.
    html = client.get(f"/inspect/sites/{site.id}?mode=onsite").get_data(as_text=True)
    other = site_factory()
    assert _form_post(client, site, html, offline_qr_token=other.qr_token,
                      offline_scanned_at=phone_time).status_code == 201
    assert _inspections(app)[1].offline_scanned_at is None


def test_request_logs_mask_the_code_of_scan_paths(app, live_server, site_factory, caplog):
    """werkzeug's request log (the live server is werkzeug's) and gunicorn's access log show /s/*** only."""
    import urllib.request

    from gunicorn.config import Config

    from tracker.logmask import GunicornLogger
    site = site_factory()
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        urllib.request.urlopen(f"{live_server}/s/{site.qr_token}?x=1").read()
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert any("/s/***" in line for line in lines) and not any(site.qr_token in line for line in lines)

    class Resp:
        status, sent, headers = "302 FOUND", 0, []
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": f"/s/{site.qr_token}", "PATH_INFO": f"/s/{site.qr_token}",
               "SERVER_PROTOCOL": "HTTP/1.1", "QUERY_STRING": "", "HTTP_REFERER": f"http://x/s/{site.qr_token}"}
    from datetime import timedelta
    atoms = GunicornLogger(Config()).atoms(Resp(), {}, environ, timedelta(seconds=0))
    assert atoms["r"] == "GET /s/*** HTTP/1.1" and atoms["U"] == "/s/***" and atoms["f"] == "http://x/s/***"


# --- whose form it is ------------------------------------------------------------------------------------------

def test_a_form_posted_in_another_users_session_is_refused_409_and_kept_for_its_owner(app, client, make_user,
                                                                                      site_factory,
                                                                                      default_checklist):
    a, b = make_user("inspector", name="김점검"), make_user("inspector", name="이점검")
    site = site_factory()
    _log_in(client, a)
    html = client.get(f"/inspect/sites/{site.id}?mode=onsite").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_from(html)})
    _log_in(client, b)
    refused = _form_post(client, site, html, csrf_token=csrf_from(client.get("/inspect").get_data(as_text=True)))
    assert refused.status_code == 409 and "form_token" in refused.json["errors"]
    assert "다른 점검원이 작성한" in refused.json["message"] and _inspections(app) == []
    en = _form_post(client, site, html, csrf_token=csrf_from(client.get("/inspect?lang=en").get_data(as_text=True)))
    assert en.status_code == 409 and "another inspector" in en.json["message"]
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/inspect").get_data(as_text=True))})
    _log_in(client, a)
    token = csrf_from(client.get("/inspect").get_data(as_text=True))
    assert _form_post(client, site, html, csrf_token=token).status_code == 201
    (insp,) = _inspections(app)
    assert insp.inspector_id == a.id  # never re-attributed


@pytest.mark.parametrize("change", ["none", "forged", "another form's"])
def test_a_page_submission_needs_its_forms_own_token(app, client, login, site_factory, default_checklist, change):
    login("inspector")
    site = site_factory()
    html = client.get(f"/inspect/sites/{site.id}?mode=onsite").get_data(as_text=True)
    other = _hidden(client.get(f"/inspect/sites/{site.id}?mode=onsite").get_data(as_text=True))["form_token"]
    value = {"none": "", "forged": _hidden(html)["form_token"][:-2] + "xx", "another form's": other}[change]
    resp = _form_post(client, site, html, form_token=value)
    assert resp.status_code == 422 and resp.json["errors"]["form_token"] and _inspections(app) == []


def test_a_client_uuid_made_on_the_phone_gets_its_token_from_the_server(app, client, login, site_factory,
                                                                        default_checklist):
    login("inspector")
    site = site_factory()
    html = client.get(f"/inspect/sites/{site.id}?mode=onsite").get_data(as_text=True)
    mine = str(uuid.uuid4())
    resp = client.get(f"/inspect/form-token?client_uuid={mine}")
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    assert _form_post(client, site, html, client_uuid=mine, form_token=resp.json["form_token"]).status_code == 201
    assert client.get("/inspect/form-token?client_uuid=nope").status_code == 422


def test_the_api_refuses_another_users_form_token_and_takes_none(app, client, make_user, site_factory,
                                                                 default_checklist):
    from tracker.services import accounts
    a, b = make_user("inspector"), make_user("inspector")
    site = site_factory()
    with app.app_context():
        token_b = accounts.create_token(_db.session.get(type(b), b.id))
        _db.session.commit()
        keys = [i.key for i in default_checklist.items if i.applies_to("phone")]
        client_uuid = str(uuid.uuid4())
        as_a = inspections.form_token(a, client_uuid)
    body = {"site_id": site.id, "mode": "phone", "contact_name": "김", "client_uuid": client_uuid,
            "answers": {k: {"value": "yes"} for k in keys}}
    headers = {"Authorization": f"Bearer {token_b}"}
    resp = client.post("/api/v1/inspections", json={**body, "form_token": as_a}, headers=headers)
    assert resp.status_code == 409 and resp.json["errors"]["form_token"]
    assert client.post("/api/v1/inspections", json=body, headers=headers).status_code == 201
