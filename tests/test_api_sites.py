"""The sites API: bearer tokens or the session, filters, the council statistics, and the OpenAPI document."""
import pytest

from conftest import app_context, loaded
from tracker.models import User
from tracker.services import accounts, sites

REPORT_BANDS = ["50 이하", "51~100", "101~150", "151~200", "201~250", "251~300", "301~400", "401~700", "701이상"]


@pytest.fixture
def register(app, db, site_factory):
    with app_context(app):
        a = site_factory(name="한빛고객센터", business_no="107-81-11111", dong="여의동", headcount=50)
        b = site_factory(name="새솔콜센터", business_no="107-81-22222", dong="여의동", headcount=51)
        c = site_factory(name="누리상담센터", business_no="204-55-33333", dong="당산1동", headcount=701)
        d = site_factory(name="폐업센터", business_no="204-55-44444", dong="문래동", headcount=10)
        sites.set_status(d, "closed")
        db.session.commit()
        return loaded(a, b, c, d)


@pytest.fixture
def bearer(app, db, make_user):
    with app_context(app):
        user = make_user("inspector")
        token = accounts.create_token(user)
        db.session.commit()
        return loaded(user), {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("url", ["/api/v1/sites", "/api/v1/stats/sites", "/api/v1/csrf-token"])
def test_api_needs_credentials(client, register, url):
    resp = client.get(url)
    assert resp.status_code == 401
    assert resp.get_json()["error"] == "authentication required"
    resp = client.get(url, headers={"Authorization": "Bearer not-a-token"})
    assert resp.status_code == 401


def test_bearer_token_lists_sites_with_their_fields(client, register, bearer):
    resp = client.get("/api/v1/sites", headers=bearer[1])
    assert resp.status_code == 200
    items = resp.get_json()["items"]
    assert len(items) == 4
    a = next(i for i in items if i["business_no"] == "107-81-11111")
    assert a == {"id": register[0].id, "name": "한빛고객센터", "business_no": "107-81-11111", "dong": "여의동",
                 "headcount": 50, "size_band": "50 이하", "status": "active", "address": "",
                 "manager_name": "", "manager_phone": "", "manager_email": ""}
    assert "Set-Cookie" not in resp.headers or "session=" not in resp.headers["Set-Cookie"]


def test_token_of_a_deactivated_user_stops_working(app, client, db, register, bearer):
    user, headers = bearer
    assert client.get("/api/v1/sites", headers=headers).status_code == 200
    with app.app_context():
        accounts.update_user(db.session.get(User, user.id), user.role, False)
        db.session.commit()
    assert client.get("/api/v1/sites", headers=headers).status_code == 401


def test_tokens_are_stored_only_as_hashes(app_ctx, db, make_user):
    from tracker.models import ApiToken
    user = make_user("lead")
    token = accounts.create_token(user)
    stored = db.session.query(ApiToken).one()
    assert token not in stored.token_hash and len(stored.token_hash) == 64


def test_logged_in_session_works_too(client, register, login):
    login("lead")
    assert len(client.get("/api/v1/sites").get_json()["items"]) == 4


@pytest.mark.parametrize("query,expected", [
    ("dong=여의동", {"107-81-11111", "107-81-22222"}),
    ("dong=당산 1동", {"204-55-33333"}),
    ("band=51~100", {"107-81-22222"}),
    ("band=701이상", {"204-55-33333"}),
    ("status=closed", {"204-55-44444"}),
    ("status=active&dong=여의동&band=50 이하", {"107-81-11111"}),
    ("q=새솔", {"107-81-22222"}),
    ("q=20455", {"204-55-33333", "204-55-44444"}),
    ("limit=1&offset=1", None),  # the second site in register order
])
def test_filters(client, register, bearer, query, expected):
    items = client.get(f"/api/v1/sites?{query}", headers=bearer[1]).get_json()["items"]
    if query.startswith("limit"):
        everything = [i["business_no"] for i in client.get("/api/v1/sites", headers=bearer[1]).get_json()["items"]]
        assert [i["business_no"] for i in items] == everything[1:2]
    else:
        assert {i["business_no"] for i in items} == expected


@pytest.mark.parametrize("query,field", [
    ("dong=강남동", "dong"), ("band=50이하이하", "band"), ("status=open", "status"), ("limit=0", "limit"),
    ("limit=501", "limit"), ("limit=ten", "limit"), ("offset=-1", "offset"),
])
def test_bad_filters_are_422_with_a_reason(client, register, bearer, query, field):
    resp = client.get(f"/api/v1/sites?{query}", headers=bearer[1])
    assert resp.status_code == 422
    body = resp.get_json()
    assert field in body["errors"] and body["message"]


def test_stats_are_the_report_tables(client, register, bearer):
    resp = client.get("/api/v1/stats/sites", headers=bearer[1])
    assert resp.status_code == 200
    body = resp.get_json()
    assert set(body) == {"total", "by_dong", "by_band"}
    assert body["total"] == 3  # active sites only
    assert body["by_dong"] == {"여의동": 2, "당산1동": 1}
    assert list(body["by_band"]) == REPORT_BANDS  # in the report's order, not sorted as text
    assert body["by_band"] == {"50 이하": 1, "51~100": 1, "101~150": 0, "151~200": 0, "201~250": 0, "251~300": 0,
                               "301~400": 0, "401~700": 0, "701이상": 1}


def test_openapi_document_is_public_and_describes_the_site_endpoints(client):
    resp = client.get("/api/v1/openapi.json")
    assert resp.status_code == 200
    doc = resp.get_json()
    assert doc["openapi"].startswith("3.")
    assert {"/api/v1/sites", "/api/v1/stats/sites"} <= set(doc["paths"])
    params = {p["name"] for p in doc["paths"]["/api/v1/sites"]["get"]["parameters"]}
    assert {"dong", "band", "status", "q", "limit", "offset"} <= params
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    site = doc["components"]["schemas"]["Site"]["properties"]
    assert {"id", "name", "business_no", "dong", "headcount", "size_band", "status"} <= set(site)


def test_blank_filters_are_no_filters(client, register, bearer):
    """As the README writes the call: ?dong=&band=&status=&q=&limit=&offset= lists everything."""
    resp = client.get("/api/v1/sites?dong=&band=&status=&q=&limit=&offset=", headers=bearer[1])
    assert resp.status_code == 200 and len(resp.get_json()["items"]) == 4
    assert resp.get_json()["limit"] == 100


def test_the_document_lists_the_districts_dongs_and_bands_and_both_ways_in(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    params = {p["name"]: p["schema"] for p in doc["paths"]["/api/v1/sites"]["get"]["parameters"]}
    assert "여의동" in params["dong"]["enum"] and params["band"]["enum"] == REPORT_BANDS
    assert params["limit"]["maximum"] == 500
    schemes = doc["components"]["securitySchemes"]
    assert schemes["session"] == {"type": "apiKey", "in": "cookie", "name": "session",
                                  "description": "the logged-in session"}
    assert schemes["csrf"]["in"] == "header" and schemes["csrf"]["name"] == "X-CSRFToken"
    assert doc["info"] == {"title": "Tracker API", "version": "1"}
