"""Hostile values at the edges (issue 14 item 8): JSON nested 100,000 deep, unpaired surrogates, times with no UTC
equivalent, and a property test that feeds such values to every query parameter of every GET route and to every
JSON field of the API's write endpoint. The rule everywhere: a 4xx with a message, or a safe answer; never a 5xx."""
import json
import re
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.conftest import csrf_from

UUID = "e3e70682-c209-4cac-a29f-6fbed82c07cd"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def seeded(app, db):
    """The demo's users, checklist and sites, and a bearer token of an admin (who may open every page)."""
    from tracker.services import accounts, demo
    with app.app_context():
        demo.seed(out=lambda *a, **k: None)
        user = accounts.create_user("edge-admin@example.test", "Edge", "admin", "correct-horse-1")
        token = accounts.create_token(user)
        db.session.commit()
    return token


def _post(client, token, body, raw=False):
    data = body if raw else json.dumps(body)
    return client.post("/api/v1/inspections", data=data, content_type="application/json",
                       headers={"Authorization": f"Bearer {token}"})


def _phone_body(**changes):
    body = {"site_id": 1, "mode": "phone", "contact_name": "김담당", "client_uuid": UUID, "answers": {}}
    body.update(changes)
    return body


def test_json_nested_100000_deep_is_a_400_with_a_message(client, seeded):
    resp = _post(client, seeded, "[" * 100_000 + "]" * 100_000, raw=True)
    assert resp.status_code == 400 and resp.json["message"] and "body" in resp.json["errors"]
    resp = _post(client, seeded, '{"a":' * 100_000 + "1" + "}" * 100_000, raw=True)
    assert resp.status_code == 400


def test_json_a_few_hundred_deep_parses_and_is_refused_by_shape_not_a_crash(client, seeded):
    """Deep enough to parse, so that the NUL and surrogate walk sees it: the walk must not overflow either."""
    deep = "[" * 900 + '"\\u0000"' + "]" * 900
    resp = _post(client, seeded, '{"note": ' + deep + "}", raw=True)
    assert resp.status_code == 422 and resp.json["message"]


@pytest.mark.parametrize("where", ["note", "contact_name", "answer note", "answer key", "client_uuid"])
def test_an_unpaired_surrogate_in_json_is_refused_by_name(client, seeded, where):
    """JSON's \\ud800 escape reads as a lone surrogate, which no database can store (UTF-8 cannot encode it)."""
    body = _phone_body()
    if where == "answer note":
        body["answers"] = {"masks_mandatory": {"value": "yes", "note": "\ud800"}}
    elif where == "answer key":
        body["answers"] = {"a\udfff": {"value": "yes"}}
    else:
        body[where] = "이름\ud800"
    resp = _post(client, seeded, json.dumps(body), raw=True)  # json.dumps writes the escape, as a hostile client would
    assert "\\ud800" in json.dumps(body) or "\\udfff" in json.dumps(body)
    assert resp.status_code == 422, resp.get_data(as_text=True)
    assert resp.json["errors"] == {"body": "contains an unpaired surrogate"} and resp.json["message"]


def test_a_surrogate_pair_is_a_character_and_is_stored(client, seeded, app):
    """The same escapes in a pair are one character (an emoji): that is text, and is kept."""
    from tracker.services import inspections
    with app.app_context():
        from tracker.services import checklist
        keys = [i.key for i in checklist.current().items if i.applies_to("phone")]
    body = _phone_body(contact_name="김\ud83d\ude00", answers={k: {"value": "yes"} for k in keys})
    resp = _post(client, seeded, json.dumps(body), raw=True)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    with app.app_context():
        assert inspections.find(UUID).contact_name == "김😀"


def test_a_surrogate_sent_as_bytes_in_a_form_field_is_stored_as_a_replacement_character(client, login, app,
                                                                                       site_factory,
                                                                                       default_checklist):
    """A form field cannot carry a surrogate: the bytes of one (ED A0 80) are not UTF-8 and are read as U+FFFD."""
    from tracker.services import inspections
    login("inspector")
    site = site_factory()
    page = client.get(f"/inspect/sites/{site.id}?mode=phone")
    html = page.get_data(as_text=True)
    hidden = dict(re.findall(r'name="(client_uuid|form_token)" value="([^"]*)"', html))
    fields = {"csrf_token": csrf_from(html), "mode": "phone", "contact_name": "김", **hidden}
    for key in re.findall(r'name="a-([a-z_]+)"', html):
        fields[f"a-{key}"] = "yes"
    body = "&".join(f"{k}={quote(v)}" for k, v in fields.items()) + "&note=" + quote("메모\ud800".encode(
        "utf-8", "surrogatepass"))
    resp = client.post(f"/inspect/sites/{site.id}", data=body, content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 303, re.findall(r"<li>[^<]*</li>|class=\"error\"[^<]*<", resp.get_data(as_text=True))
    with app.app_context():
        note = inspections.find(hidden["client_uuid"]).note
        assert note.startswith("메모") and "\ud800" not in note


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
@pytest.mark.parametrize("field", ["device_time", "called_at"])
def test_a_time_with_no_utc_equivalent_is_a_422_naming_the_field(client, seeded, field, value):
    resp = _post(client, seeded, _phone_body(**{field: value}))
    assert resp.status_code == 422 and field in resp.json["errors"], resp.get_data(as_text=True)
    assert value in resp.json["errors"][field]


@pytest.mark.parametrize("url", ["/api/v1/inspections?week=0002-W01", "/api/v1/tasks?week=0001-W01",
                                 "/api/v1/summary?from=0002-W01&to=0002-W02", "/api/v1/sites?offset=" + "9" * 25,
                                 "/api/v1/sites?limit=" + "9" * 25, "/api/v1/inspections?site_id=" + "9" * 4300])
def test_edge_queries_of_the_api_are_422_with_a_message(client, seeded, url):
    resp = client.get(url, headers={"Authorization": f"Bearer {seeded}"})
    assert resp.status_code == 422 and resp.json["message"], resp.get_data(as_text=True)


# --- the property: never a 5xx ------------------------------------------------------------------------------------

# Values found to break a parser somewhere (years 1 and 2, integers past 64 bits or past Python's 4,300-digit
# limit, NUL, the bytes of a surrogate, odd dates), mixed with arbitrary text and integers.
HOSTILE = ["0002-W01", "0001-W01", "9999-W53", "2020-W00", "2020-W54", "9" * 25, "-" + "9" * 25, "9" * 4301, "-1",
           "0", "1e309", "nan", "inf", "\x00", "%00", "\ud800", "\udfff", "0001-01-01T00:00:00+14:00",
           "9999-12-31T23:59:59-14:00", "2020-02-30", "../../etc/passwd", "' OR 1=1 --", "<script>", "\u202e",
           "x" * 5000, "", " ", "true", "[]", "{}", "1,2", "onsite", "phone", "open", "여의동"]
VALUES = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40), st.integers().map(str))


def _query_names(app) -> list[str]:
    """Every query parameter a page reads (request.args in tracker/) and every one the API documents."""
    names = set()
    for path in (ROOT / "tracker").rglob("*.py"):
        names.update(re.findall(r"args\.(?:get|getlist)\(\s*\"([a-z_]+)\"", path.read_text()))
    spec = app.test_client().get("/api/v1/openapi.json").json
    for ops in spec["paths"].values():
        for op in ops.values():
            names.update(p["name"] for p in op.get("parameters", []) if p.get("in") == "query")
    return sorted(names | {"page", "limit", "offset", "week", "from", "to", "lang"})


# Path arguments: ids that exist after the seed, and the values the string converters take.
PATH_DEFAULTS = {"what": "inspections", "fmt": "csv", "sha": "0" * 64, "token": "nope", "filename": "x"}
SKIP = {"static", "auth.login", "pwa.service_worker"}


def _get_routes(app) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in SKIP:
            continue
        values = {a: 1 if rule._converters[a].__class__.__name__ == "IntegerConverter" else PATH_DEFAULTS.get(a, "x")
                  for a in rule.arguments}
        with app.test_request_context():
            from flask import url_for
            urls.append(url_for(rule.endpoint, **values))
    return sorted(urls)


def _encode(params: dict) -> str:
    """A query string as a hostile client writes it: a surrogate goes out as its (invalid) UTF-8 bytes."""
    return "&".join(f"{quote(k)}={quote(v.encode('utf-8', 'surrogatepass'))}" for k, v in params.items())


def _run(test, examples):
    settings(max_examples=examples, derandomize=True, deadline=None, database=None,
             phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))(test)()


def test_no_get_route_answers_a_5xx_to_hostile_query_values(app, client, seeded):
    names = _query_names(app)
    routes = _get_routes(app)
    assert len(routes) >= 35 and {"week", "page", "dong", "q", "from"} <= set(names)
    headers = {"Authorization": f"Bearer {seeded}"}  # the API by token; the pages by the admin's session below
    page = client.get("/login")
    client.post("/login", data={"email": "edge-admin@example.test", "password": "correct-horse-1",
                                "csrf_token": csrf_from(page.get_data(as_text=True))})
    failures = []

    def one_route(url):
        @given(params=st.dictionaries(st.sampled_from(names), VALUES, min_size=1, max_size=4))
        def hit(params):
            query = _encode(params)
            resp = client.get(f"{url}?{query}", headers=headers)
            assert resp.status_code < 500, f"{url}?{query[:200]} -> {resp.status_code}"
        return hit
    for url in routes:
        try:
            _run(one_route(url), 10)
        except Exception as exc:  # TESTING lets a view's exception through: each route's first failure, all routes
            failures.append(f"{url}: {exc!r}"[:600])
    assert not failures, "\n".join(failures)


def _json_values():
    leaves = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=20), st.integers(), st.floats(), st.booleans(),
                       st.none(), st.integers(min_value=2**63, max_value=2**70))
    return st.recursive(leaves, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                        st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                        max_leaves=6)


SUBMISSION_FIELDS = ["site_id", "qr_token", "mode", "client_uuid", "answers", "device_time", "contact_name",
                     "called_at", "lat", "lng", "note", "scan_token", "form_token", "offline_qr_token",
                     "offline_scanned_at", "location_consent"]


def test_no_json_field_of_the_write_endpoint_gives_a_5xx(app, client, seeded):
    """Every field of POST /api/v1/inspections, one at a time and together, with hostile JSON values."""
    from tracker.schemas import Submission
    assert set(Submission().fields) <= set(SUBMISSION_FIELDS), "a new field: add it here"
    with app.app_context():
        from tracker.services import checklist
        keys = [i.key for i in checklist.current().items if i.applies_to("phone")]
    base = _phone_body(answers={k: {"value": "yes"} for k in keys})

    @given(changes=st.dictionaries(st.sampled_from(SUBMISSION_FIELDS), _json_values(), min_size=1, max_size=3),
           answer=st.tuples(st.sampled_from(keys), _json_values()))
    def hit(changes, answer):
        body = {**base, **changes}
        if isinstance(body.get("answers"), dict) and "answers" not in changes:
            body["answers"] = {**body["answers"], answer[0]: answer[1]}
        if "client_uuid" not in changes:
            body["client_uuid"] = str(uuid.uuid4())  # each example a new inspection, not a replay of the first
        resp = _post(client, seeded, json.dumps(body, allow_nan=True), raw=True)
        assert resp.status_code < 500, f"{body!r:.300} -> {resp.status_code}"
        assert resp.status_code not in (200, 201) or resp.json["id"]
    _run(hit, 150)
