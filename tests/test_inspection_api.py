"""POST/GET /api/v1/inspections and GET /api/v1/checklist: bearer token or session + X-CSRFToken."""
import uuid

import pytest
from sqlalchemy import func, select

from conftest import loaded
from tracker.extensions import db as _db
from tracker.models import Answer, Inspection, Site, User
from tracker.services import accounts, checklist, location, sites


@pytest.fixture
def tpl(default_checklist):
    return default_checklist


@pytest.fixture
def bearer(app, make_user):
    def make(role="inspector"):
        with app.app_context():
            user = make_user(role)
            token = accounts.create_token(user)
            _db.session.commit()
            return loaded(user), {"Authorization": f"Bearer {token}"}
    return make


def body(site, tpl, mode="onsite", **kw):
    out = {"site_id": site.id, "mode": mode, "client_uuid": str(uuid.uuid4()),
           "answers": {i.key: {"value": "yes", "note": ""} for i in tpl.items if i.applies_to(mode)}}
    if mode == "phone":
        out["contact_name"] = "이담당"
    out.update(kw)
    return out


def n_rows(app):
    with app.app_context():
        return (_db.session.scalar(select(func.count()).select_from(Inspection)),
                _db.session.scalar(select(func.count()).select_from(Answer)))


def test_create_then_replay(app, client, tpl, site_factory, bearer):
    site = site_factory()
    user, h = bearer()
    with app.app_context():
        location.decide(_db.session.get(User, user.id), True)  # the position is kept only with consent
        _db.session.commit()
    b = body(site, tpl, device_time="2020-03-11T10:00:00+09:00", lat=37.52, lng=126.92)
    b["answers"]["masks_mandatory"] = {"value": "no", "note": "미착용"}
    r = client.post("/api/v1/inspections", json=b, headers=h)
    assert r.status_code == 201, r.get_json()
    rec = r.get_json()
    assert rec["client_uuid"] == b["client_uuid"] and rec["inspector_id"] == user.id
    assert rec["compliant"] is False and rec["critical_no_count"] == 1 and rec["no_count"] == 1
    assert rec["answers"]["masks_mandatory"] == {"value": "no", "note": "미착용"}
    assert rec["template_version"] == 1 and rec["lat"] == 37.52
    again = client.post("/api/v1/inspections", json=b, headers=h)
    assert again.status_code == 200 and again.get_json() == rec
    assert n_rows(app) == (1, 17)


def test_qr_token_and_phone(client, tpl, site_factory, bearer):
    site = site_factory()
    _, h = bearer()
    b = body(site, tpl)
    del b["site_id"]
    b["qr_token"] = site.qr_token
    r = client.post("/api/v1/inspections", json=b, headers=h)
    assert r.status_code == 201 and r.get_json()["qr_scanned_at"] is None  # naming the site proves no presence
    r = client.post("/api/v1/inspections", json=body(site, tpl, "phone"), headers=h)
    assert r.status_code == 201
    rec = r.get_json()
    assert rec["mode"] == "phone" and len(rec["answers"]) == 12 and rec["contact_name"] == "이담당"


BAD = [
    ("unknown item", lambda b: b["answers"].update(made_up={"value": "yes"}), "answers.made_up"),
    ("missing answer", lambda b: b["answers"].pop("disinfection"), "answers.disinfection"),
    ("value outside yes/no/na", lambda b: b["answers"].update(disinfection={"value": "Y"}), "answers.disinfection"),
    ("onsite-only item in phone mode", lambda b: b.update(mode="phone", contact_name="x"), "answers.density_minimized"),
    ("bad mode", lambda b: b.update(mode="remote"), "mode"),
    ("bad uuid", lambda b: b.update(client_uuid="1234"), "client_uuid"),
    ("unknown qr token", lambda b: (b.pop("site_id"), b.update(qr_token="rotated-away")), "qr_token"),
    ("unknown site", lambda b: b.update(site_id=424242), "site_id"),
    ("bad lat", lambda b: b.update(lat="north"), "lat"),
]


@pytest.mark.parametrize("name,mutate,field", BAD, ids=[c[0] for c in BAD])
def test_bad_input_422_names_the_field(app, client, tpl, site_factory, bearer, name, mutate, field):
    site = site_factory()
    _, h = bearer()
    b = body(site, tpl)
    mutate(b)
    r = client.post("/api/v1/inspections", json=b, headers=h)
    assert r.status_code == 422, r.get_json()
    assert field in r.get_json()["errors"], r.get_json()
    if field == "answers.density_minimized":
        assert "전화 모니터링에 해당하지 않는" in r.get_json()["errors"][field]
    assert n_rows(app) == (0, 0)


def test_closed_site_and_rotated_token(app, client, tpl, site_factory, bearer):
    site = site_factory()
    _, h = bearer()
    old = site.qr_token
    with app.app_context():
        sites.rotate_token(_db.session.get(Site, site.id))
        _db.session.commit()
    b = body(site, tpl)
    del b["site_id"]
    r = client.post("/api/v1/inspections", json=dict(b, qr_token=old), headers=h)
    assert r.status_code == 422 and "qr_token" in r.get_json()["errors"]
    with app.app_context():
        sites.set_status(_db.session.get(Site, site.id), "closed")
        _db.session.commit()
    r = client.post("/api/v1/inspections", json=body(site, tpl), headers=h)
    assert r.status_code == 422 and "site_id" in r.get_json()["errors"]
    assert n_rows(app) == (0, 0)


def test_not_json_and_no_credentials(app, client, tpl, site_factory, bearer):
    site = site_factory()
    _, h = bearer()
    r = client.post("/api/v1/inspections", data="answers=yes", headers=h)
    assert r.status_code == 400 and r.get_json()["errors"] == {"body": "JSON으로 읽을 수 없습니다"}
    r = client.post("/api/v1/inspections", json=body(site, tpl))
    assert r.status_code in (400, 401)  # no session: CSRF or authentication refuses it
    assert n_rows(app) == (0, 0)


def test_session_needs_csrf_header(app, client, login, tpl, site_factory):
    site = site_factory()
    login("inspector")
    r = client.post("/api/v1/inspections", json=body(site, tpl))
    assert r.status_code == 400
    # A made-up Authorization header does not turn a cookie session into a token request
    r = client.post("/api/v1/inspections", json=body(site, tpl), headers={"Authorization": "Bearer nonsense"})
    assert r.status_code == 400 and n_rows(app) == (0, 0)
    token = client.get("/api/v1/csrf-token").get_json()["csrf_token"]
    r = client.post("/api/v1/inspections", json=body(site, tpl), headers={"X-CSRFToken": token})
    assert r.status_code == 201
    assert n_rows(app) == (1, 17)


def test_list_by_site_and_week(app, client, tpl, site_factory, bearer):
    a, b = site_factory(), site_factory()
    me, h = bearer()
    _, h_other = bearer()
    _, h_lead = bearer("lead")
    for s in (a, a, b):
        assert client.post("/api/v1/inspections", json=body(s, tpl), headers=h).status_code == 201
    assert client.post("/api/v1/inspections", json=body(a, tpl), headers=h_other).status_code == 201
    with app.app_context():
        week = _db.session.scalar(select(Inspection.week).limit(1))
    mine = client.get(f"/api/v1/inspections?site_id={a.id}&week={week}", headers=h).get_json()["items"]
    assert len(mine) == 2 and {i["site_id"] for i in mine} == {a.id} and {i["inspector_id"] for i in mine} == {me.id}
    lead = client.get(f"/api/v1/inspections?site_id={a.id}", headers=h_lead).get_json()["items"]
    assert len(lead) == 3
    assert client.get("/api/v1/inspections?week=2020-W99", headers=h_lead).status_code == 422
    assert client.get("/api/v1/inspections?week=2019-W01", headers=h_lead).get_json()["items"] == []


def test_checklist_endpoint(client, tpl, bearer):
    _, h = bearer()
    doc = client.get("/api/v1/checklist", headers=h).get_json()
    assert doc["version"] == 1 and len(doc["items"]) == 17
    first = doc["items"][0]
    assert set(first) >= {"key", "label_ko", "label_en", "category", "critical", "modes"}
    dens = next(i for i in doc["items"] if i["key"] == "density_minimized")
    assert dens["modes"] == ["onsite"] and dens["critical"] is True
    assert client.get("/api/v1/checklist").status_code == 401


def test_openapi_lists_the_paths(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"post", "get"} <= set(paths["/api/v1/inspections"]) and "get" in paths["/api/v1/checklist"]


def test_replaying_another_inspectors_uuid_gives_nothing_away(app, client, tpl, site_factory, bearer):
    site = site_factory()
    _, h = bearer()
    _, h_other = bearer()
    _, h_lead = bearer("lead")
    b = body(site, tpl)
    assert client.post("/api/v1/inspections", json=b, headers=h).status_code == 201
    r = client.post("/api/v1/inspections", json=b, headers=h_other)
    assert r.status_code == 409 and "answers" not in r.get_json() and "client_uuid" in r.get_json()["errors"]
    assert client.post("/api/v1/inspections", json=b, headers=h_lead).status_code == 200  # leads see all
    assert n_rows(app) == (1, 17)


def test_a_mode_the_template_does_not_allow_is_422(app, client, tpl, site_factory, bearer):
    """With every item on-site only, a phone inspection has nothing to answer: refused, not saved with 0 answers."""
    with app.app_context():
        checklist.publish("현장 전용", [dict(it, modes=["onsite"]) for it in checklist.default_items()])
        _db.session.commit()
    site = site_factory()
    _user, h = bearer()
    r = client.post("/api/v1/inspections", headers=h, json={
        "site_id": site.id, "mode": "phone", "client_uuid": str(uuid.uuid4()), "contact_name": "이담당",
        "answers": {}})
    assert r.status_code == 422, r.get_json()
    assert list(r.get_json()["errors"]) == ["mode"]
    assert n_rows(app) == (0, 0)
    with app.app_context():
        onsite = body(site, checklist.current(), "onsite")
    ok = client.post("/api/v1/inspections", headers=h, json=onsite)
    assert ok.status_code == 201 and n_rows(app) == (1, 17)


def test_shape_and_checklist_errors_come_back_together(app, client, tpl, site_factory, bearer):
    """The schema's errors (types, ranges) and the service's (the checklist's items) in one 422, nothing saved."""
    site = site_factory()
    _, h = bearer()
    b = body(site, tpl, lat=95, device_time="yesterday", note="x" * 2001)
    b["answers"]["disinfection"] = {"value": "Y"}
    b["answers"]["made_up"] = {"value": "yes"}
    del b["answers"]["ventilation"]
    r = client.post("/api/v1/inspections", json=b, headers=h)
    assert r.status_code == 422, r.get_json()
    errors = r.get_json()["errors"]
    assert set(errors) == {"lat", "device_time", "note", "answers.disinfection", "answers.made_up",
                           "answers.ventilation"}
    assert "범위를 벗어났습니다" in errors["lat"] and "yesterday" in errors["device_time"]
    assert "yes, no, na" in errors["answers.disinfection"] and "답하지 않았습니다" in errors["answers.ventilation"]
    assert r.get_json()["message"] == "입력을 확인하세요: 6곳이 올바르지 않습니다."
    assert n_rows(app) == (0, 0)


def test_an_english_session_gets_english_field_messages(client, login, tpl, site_factory):
    site = site_factory()
    client.get("/login?lang=en")
    login("inspector")
    token = client.get("/api/v1/csrf-token").get_json()["csrf_token"]
    r = client.post("/api/v1/inspections", json=body(site, tpl, lng="east", client_uuid="1234"),
                    headers={"X-CSRFToken": token})
    assert r.status_code == 422
    assert r.get_json()["errors"] == {"lng": "Location value 'east' is not a number",
                                      "client_uuid": "client_uuid is not a UUID"}
    r = client.get("/api/v1/inspections?limit=0")
    assert r.get_json()["errors"] == {"limit": "Must be between 1 and 500"}


def test_the_document_describes_the_body_the_schema_reads(client):
    """The request body in the document is the schema that reads it, with its limits."""
    doc = client.get("/api/v1/openapi.json").get_json()
    op = doc["paths"]["/api/v1/inspections"]["post"]
    assert op["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Submission"}
    body_schema = doc["components"]["schemas"]["Submission"]
    assert set(body_schema["required"]) == {"mode", "client_uuid", "answers"}
    assert body_schema["properties"]["lat"]["maximum"] == 90 and body_schema["properties"]["note"]["maxLength"] == 2000
    assert {"200", "201", "409", "422"} <= set(op["responses"])
    assert {"session": [], "csrf": []} in op["security"]
