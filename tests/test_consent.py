"""Consent to location (위치정보, issue 13): recorded with its time and history, withdrawn on /me/location, and no
position stored without it, from the page or the API."""
import re
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from tests.conftest import csrf_from, loaded
from tracker.extensions import db as _db
from tracker.models import Inspection, LocationConsent, User
from tracker.services import accounts, location

T0 = datetime(2020, 3, 16, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def tpl(default_checklist):
    return default_checklist


def state_of(app, user):
    with app.app_context():
        return location.state(_db.session.get(User, user.id))


def decide(app, user, given):
    with app.app_context():
        st = location.decide(_db.session.get(User, user.id), given)
        _db.session.commit()
        return st


# --- the record ------------------------------------------------------------------------------------------------

def test_consent_given_withdrawn_and_given_again_keeps_its_history(app_ctx, make_user, clock_at):
    user = make_user("inspector")
    assert location.state(user) == location.State("unasked", None)
    clock_at(T0)
    assert location.decide(user, True) == location.State("given", T0)
    clock_at(T0 + timedelta(days=3))
    assert location.decide(user, True).at == T0  # giving it again while given adds nothing
    assert location.decide(user, False) == location.State("withdrawn", T0 + timedelta(days=3))
    clock_at(T0 + timedelta(days=5))
    assert location.decide(user, False).state == "withdrawn"  # withdrawing twice adds nothing
    assert location.decide(user, True) == location.State("given", T0 + timedelta(days=5))
    rows = [(r.given, r.at, r.withdrawn_at) for r in location.history(user)]
    assert rows == [(True, T0 + timedelta(days=5), None), (True, T0, T0 + timedelta(days=3))]


def test_refusal_is_recorded_with_its_time(app_ctx, make_user, clock_at):
    user = make_user("inspector")
    clock_at(T0)
    assert location.decide(user, False) == location.State("refused", T0)
    assert [(r.given, r.at) for r in location.history(user)] == [(False, T0)]
    assert location.decide(user, False).state == "refused"  # once
    assert len(location.history(user)) == 1


def test_an_answer_sent_with_a_submission_never_undoes_a_later_one(app_ctx, make_user):
    """An offline answer counts only for a user the server holds no answer of: a queued inspection carrying "given"
    cannot give back a consent withdrawn meanwhile on 내 정보."""
    fresh, withdrew = make_user("inspector"), make_user("inspector")
    assert location.answered_offline(fresh, "given").state == "given"
    location.decide(withdrew, True)
    location.decide(withdrew, False)
    assert location.answered_offline(withdrew, "given").state == "withdrawn"
    assert location.answered_offline(make_user("inspector"), None).state == "unasked"


# --- no position without consent: the page and the API -------------------------------------------------------

def form_post(client, tpl, site, **extra):
    html = client.get(f"/inspect/sites/{site.id}?mode=onsite").get_data(as_text=True)
    uuid_ = re.search(r'name="client_uuid" value="([^"]*)"', html).group(1)
    owner = re.search(r'name="form_token" value="([^"]*)"', html).group(1)  # the form's signed owner
    data = {"csrf_token": csrf_from(html), "mode": "onsite", "client_uuid": uuid_, "form_token": owner,
            **{f"a-{i.key}": "yes" for i in tpl.items if i.applies_to("onsite")}, **extra}
    resp = client.post(f"/inspect/sites/{site.id}", data=data)
    assert resp.status_code == 303, resp.get_data(as_text=True)
    return uuid_


def saved_position(app, client_uuid):
    with app.app_context():
        insp = _db.session.scalar(select(Inspection).where(Inspection.client_uuid == client_uuid))
        return insp.lat, insp.lng


@pytest.mark.parametrize("answer", [None, False])
def test_form_from_a_user_without_consent_saves_without_the_position(app, client, login, tpl, site_factory, answer):
    site = site_factory()
    user = login("inspector")
    if answer is not None:
        decide(app, user, answer)
    client_uuid = form_post(client, tpl, site, lat="37.52", lng="126.92")
    assert saved_position(app, client_uuid) == (None, None)


def test_form_keeps_the_position_of_a_user_who_consented(app, client, login, tpl, site_factory):
    site = site_factory()
    user = login("inspector")
    decide(app, user, True)
    assert saved_position(app, form_post(client, tpl, site, lat="37.52", lng="126.92")) == (37.52, 126.92)
    decide(app, user, False)  # withdrawn: the next one is saved without it
    assert saved_position(app, form_post(client, tpl, site, lat="37.52", lng="126.92")) == (None, None)


def test_an_answer_given_offline_comes_with_the_submission(app, client, login, tpl, site_factory):
    site = site_factory()
    user = login("inspector")
    client_uuid = form_post(client, tpl, site, lat="37.52", lng="126.92", location_consent="given")
    assert saved_position(app, client_uuid) == (37.52, 126.92)
    assert state_of(app, user).state == "given"
    other = site_factory()
    refused_uuid = form_post(client, tpl, other, location_consent="refused")  # ignored: the server has an answer
    assert saved_position(app, refused_uuid) == (None, None) and state_of(app, user).state == "given"


@pytest.fixture
def bearer(app, make_user):
    def make():
        with app.app_context():
            user = make_user("inspector")
            token = accounts.create_token(user)
            _db.session.commit()
            return loaded(user), {"Authorization": f"Bearer {token}"}
    return make


def api_body(tpl, site, **kw):
    return {"site_id": site.id, "mode": "onsite", "client_uuid": str(uuid.uuid4()),
            "answers": {i.key: {"value": "yes", "note": ""} for i in tpl.items if i.applies_to("onsite")}, **kw}


def test_api_drops_the_position_of_a_user_without_consent(app, client, tpl, site_factory, bearer):
    site = site_factory()
    user, h = bearer()
    r = client.post("/api/v1/inspections", json=api_body(tpl, site, lat=37.52, lng=126.92), headers=h)
    assert r.status_code == 201 and r.get_json()["lat"] is None and r.get_json()["lng"] is None
    assert state_of(app, user).state == "unasked"  # dropping a position records no answer
    decide(app, user, True)
    r = client.post("/api/v1/inspections", json=api_body(tpl, site, lat=37.52, lng=126.92), headers=h)
    assert r.status_code == 201 and (r.get_json()["lat"], r.get_json()["lng"]) == (37.52, 126.92)
    decide(app, user, False)
    r = client.post("/api/v1/inspections", json=api_body(tpl, site, lat=37.52, lng=126.92), headers=h)
    assert r.status_code == 201 and r.get_json()["lat"] is None


def test_api_refuses_a_consent_answer_it_does_not_know(app, client, tpl, site_factory, bearer):
    site = site_factory()
    _user, h = bearer()
    r = client.post("/api/v1/inspections", json=api_body(tpl, site, location_consent="maybe"), headers=h)
    assert r.status_code == 422 and set(r.get_json()["errors"]) == {"location_consent"}


# --- the form and /me/location -----------------------------------------------------------------------------------

def consent_attrs(html):
    section = re.search(r'<section class="card consent" id="consent"[^>]*>', html, re.S).group(0)
    return re.search(r'data-state="(\w+)"', section).group(1), re.search(r'data-at="([^"]*)"', section).group(1)


def test_the_form_carries_the_users_answer_for_use_offline(app, client, login, tpl, site_factory, clock_at):
    clock_at(T0)
    site = site_factory()
    user = login("inspector")
    html = client.get(f"/inspect/sites/{site.id}?mode=onsite").get_data(as_text=True)
    assert consent_attrs(html) == ("unasked", "")
    assert "위치정보 수집 동의" in html and "90일" in html and "현장에 있었음을 증명" in html
    decide(app, user, True)
    html = client.get(f"/inspect/sites/{site.id}?mode=onsite").get_data(as_text=True)
    assert consent_attrs(html) == ("given", "2020-03-16T09:00:00Z")
    phone = client.get(f"/inspect/sites/{site.id}?mode=phone").get_data(as_text=True)
    assert 'id="consent"' not in phone  # a call has no position to ask about


def test_me_location_shows_withdraws_and_gives(app, client, login, clock_at):
    assert client.get("/me/location").status_code == 302  # login first
    clock_at(T0)
    user = login("inspector")
    decide(app, user, True)
    page = client.get("/me/location").get_data(as_text=True)
    assert "동의함 (2020-03-16 18:00)" in page and 'value="refused"' in page
    assert client.post("/me/location", data={"answer": "refused"}).status_code == 400  # no CSRF token
    assert state_of(app, user).state == "given"
    clock_at(T0 + timedelta(hours=1))
    resp = client.post("/me/location", data={"answer": "refused", "csrf_token": csrf_from(page)})
    assert resp.status_code == 303 and state_of(app, user) == location.State("withdrawn", T0 + timedelta(hours=1))
    page = client.get("/me/location").get_data(as_text=True)
    assert "동의를 철회함 (2020-03-16 19:00)" in page and "2020-03-16 18:00 동의 · 2020-03-16 19:00 철회" in page
    resp = client.post("/me/location", data={"answer": "given", "csrf_token": csrf_from(page)},
                       headers={"Accept": "application/json"})
    assert resp.get_json() == {"state": "given", "at": "2020-03-16T10:00:00Z"}
    bad = client.post("/me/location", data={"answer": "perhaps", "csrf_token": csrf_from(page)},
                      headers={"Accept": "application/json"})
    assert bad.status_code == 422 and "answer" in bad.get_json()["errors"]


def test_demo_inspectors_have_consented(app_ctx):
    from tracker.services import demo
    demo.seed()
    inspectors = _db.session.scalars(select(User).where(User.role == "inspector")).all()
    assert inspectors and all(location.state(u).given for u in inspectors)
    location.decide(inspectors[0], False)
    demo.seed()  # seeding again leaves a withdrawal alone
    assert location.state(inspectors[0]).state == "withdrawn"
    assert _db.session.scalar(select(LocationConsent.id).where(LocationConsent.user_id == inspectors[0].id)
                              .order_by(LocationConsent.id.desc()).limit(1)) is not None
