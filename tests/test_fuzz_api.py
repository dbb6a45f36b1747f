"""Schemathesis over the API's own OpenAPI document, through the WSGI app, as a lead and as an inspector.

For every operation in /api/v1/openapi.json it sends valid and invalid requests (bounded, deterministic) and
checks: never a 5xx; every 4xx is JSON with a non-empty "message"; status codes, content types and response
bodies match what the document declares.
"""
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis import checks as st_checks
from schemathesis.specs.openapi import checks as oa_checks

MAX_EXAMPLES = 30


@pytest.fixture
def seeded(app, db):
    """The demo's users, checklist and sites (no history), so that valid ids and item keys exist."""
    from tracker.services import demo
    with app.app_context():
        demo.seed(out=lambda *a, **k: None)
        db.session.commit()
    return app


@pytest.fixture
def tokens(seeded, db):
    """A bearer token for a lead and one for an inspector."""
    from tracker.services import accounts
    out = {}
    with seeded.app_context():
        for role in ("lead", "inspector"):
            user = accounts.create_user(f"fuzz-{role}@example.test", f"Fuzz {role}", role, "correct-horse-1")
            out[role] = accounts.create_token(user)
        db.session.commit()
    return out


def message_on_client_errors(ctx, response, case):
    """Every 4xx is a JSON object with a non-empty, human-readable "message"."""
    if 400 <= response.status_code < 500:
        try:
            body = response.json()
        except Exception as exc:
            raise AssertionError(f"{response.status_code} is not JSON: {response.text[:200]!r}") from exc
        assert isinstance(body, dict), f"{response.status_code} body is not an object: {body!r}"
        message = body.get("message")
        assert isinstance(message, str) and message.strip(), f"{response.status_code} has no message: {body!r}"
    return None


CHECKS = [st_checks.not_a_server_error, message_on_client_errors, oa_checks.status_code_conformance,
          oa_checks.content_type_conformance, oa_checks.response_schema_conformance]


def _fuzz(operation, mode, token):
    """Run one operation's generated cases of one mode; raise on the first check that fails."""
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case):
        # identity: the WSGI transport hands over the body as sent; compression has its own test (test_static_assets)
        response = case.call(headers={"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"})
        case.validate_response(response, checks=CHECKS)
    run()


# schemathesis.pytest.from_fixture (the lazy loader our per-test app needs) does not run under pytest 9,
# so the operations are walked here, each as its own bounded Hypothesis run.
@pytest.mark.parametrize("role", ["lead", "inspector"])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_api_never_fails_and_explains_every_refusal(seeded, tokens, role, mode):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", seeded)
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 9, "the OpenAPI document lost operations"
    failures = []
    for op in operations:
        try:
            _fuzz(op, mode, tokens[role])
        except Exception as exc:  # collect all operations' failures, not just the first
            failures.append(f"{op.method.upper()} {op.path}: {exc}")
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("method,url,body", [
    ("post", "/api/v1/inspections", {"qr_token": "c\x00", "mode": "onsite",
                                     "client_uuid": "e3e70682-c209-4cac-a29f-6fbed82c07cd", "answers": {}}),
    ("post", "/api/v1/inspections", {"site_id": 1, "mode": "phone", "contact_name": "김\x00",
                                     "client_uuid": "e3e70682-c209-4cac-a29f-6fbed82c07cd", "answers": {"a\x00": {}}}),
    ("get", "/api/v1/sites?q=%00", None),
    ("get", "/api/v1/actions?item=x%00y", None),
])
def test_nul_characters_are_refused_not_a_500(client, tokens, method, url, body):
    """Found by the fuzzing above on PostgreSQL, which cannot hold NUL in text: a 500 until the API refused it."""
    resp = getattr(client, method)(url, json=body, headers={"Authorization": f"Bearer {tokens['lead']}"})
    assert resp.status_code == 422, resp.get_data(as_text=True)
    assert resp.json["message"] and resp.json["errors"] == {"body": "contains a NUL character"}


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32"])
def test_nul_is_found_in_json_of_any_encoding(client, tokens, encoding):
    """JSON may come in UTF-16 or UTF-32, which Flask reads too; a NUL there must be refused like one in UTF-8."""
    import json
    body = {"site_id": 1, "mode": "phone", "contact_name": "김\x00", "answers": {},
            "client_uuid": "e3e70682-c209-4cac-a29f-6fbed82c07cd"}
    resp = client.post("/api/v1/inspections", data=json.dumps(body).encode(encoding), content_type="application/json",
                       headers={"Authorization": f"Bearer {tokens['lead']}"})
    assert resp.status_code == 422, resp.get_data(as_text=True)
    assert resp.json["errors"] == {"body": "contains a NUL character"}
