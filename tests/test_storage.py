"""Photos in a folder or in S3-compatible object storage (a real moto_server, reached only through boto3): stored
before any row names them, served through the app's permission checks, a store that is down refusing the inspection
whole (503) until it is back, and the storage-check and storage-copy commands."""
import hashlib
import io
import re
import uuid
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from tests import test_browser_inspect as on_phone
from tests.conftest import PASSWORD, csrf_from
from tracker import create_app
from tracker.extensions import db as _db
from tracker.models import Inspection
from tracker.services import inspections


@pytest.fixture
def tpl(default_checklist):
    return default_checklist


def jpeg(color="red", size=(320, 240)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG")
    return buf.getvalue()


def all_rows(app) -> int:
    """Rows in every table: what a refused submit must leave as it was."""
    with app.app_context():
        return sum(_db.session.scalar(select(func.count()).select_from(t)) for t in _db.metadata.sorted_tables)


def form_post(tpl, html, photos):
    """The inspection form as the phone's script posts it: every answer yes, photos attached."""
    data = {"csrf_token": csrf_from(html), "mode": "onsite",
            "client_uuid": re.search(r'name="client_uuid" value="([^"]*)"', html).group(1),
            "scan_token": re.search(r'name="scan_token" value="([^"]*)"', html).group(1),
            "form_token": re.search(r'name="form_token" value="([^"]*)"', html).group(1)}
    data.update({f"a-{i.key}": "yes" for i in tpl.items if i.applies_to("onsite")})
    for key, raw in photos.items():
        data[f"p-{key}"] = (io.BytesIO(raw), f"{key}.jpg")
    return data


def submit_form(client, site, data, json=True):
    files = {k: (io.BytesIO(v[0].getvalue()), v[1]) if isinstance(v, tuple) else v for k, v in data.items()}
    headers = {"Accept": "application/json"} if json else {}
    return client.post(f"/inspect/sites/{site.id}", data=files, content_type="multipart/form-data", headers=headers)


def login_client(app, user):
    c = app.test_client()
    page = c.get("/login")
    assert c.post("/login", data={"email": user.email, "password": PASSWORD,
                                  "csrf_token": csrf_from(page.get_data(as_text=True))}).status_code == 302
    return c


def test_photos_go_to_the_bucket_and_come_back_through_the_app(app, tpl, site_factory, make_user, s3_server,
                                                               s3_store):
    site = site_factory()
    me, other, lead = make_user("inspector"), make_user("inspector"), make_user("lead")
    c = login_client(app, me)
    html = c.get(f"/s/{site.qr_token}", follow_redirects=True).get_data(as_text=True)
    keys = [i.key for i in tpl.items if i.applies_to("onsite")][:2]
    resp = submit_form(c, site, form_post(tpl, html, {keys[0]: jpeg("red"), keys[1]: jpeg("blue")}))
    assert resp.status_code == 201, resp.get_data(as_text=True)
    with app.app_context():
        shas = sorted(_db.session.scalars(select(Inspection)).one().photos, key=lambda p: p.item_key)
        shas = [p.sha256 for p in shas]
    # In the bucket, under the URL's prefix, named by content; nothing in the local folder.
    bucket = s3_store.removeprefix("s3://").split("/")[0]
    listed = s3_server.client().list_objects_v2(Bucket=bucket)["Contents"]
    assert sorted(o["Key"] for o in listed) == sorted(f"photos/{s}.jpg" for s in shas)
    assert not Path(app.config["TRACKER_UPLOAD_DIR"]).exists()
    for sha in shas:
        got = c.get(f"/photos/{sha}.jpg")
        assert got.status_code == 200 and hashlib.sha256(got.data).hexdigest() == sha
        assert got.headers["Cache-Control"] == "private, no-store" and got.content_length == len(got.data)
        assert login_client(app, lead).get(f"/photos/{sha}.jpg").status_code == 200
        assert login_client(app, other).get(f"/photos/{sha}.jpg").status_code == 404  # not theirs
        assert app.test_client().get(f"/photos/{sha}.jpg").status_code == 302  # to the login page
    # A photo named by no inspection is not served, even though it is in the bucket.
    s3_server.client().put_object(Bucket=bucket, Key=f"photos/{'0' * 64}.jpg", Body=jpeg())
    assert login_client(app, lead).get(f"/photos/{'0' * 64}.jpg").status_code == 404


def test_store_down_refuses_the_inspection_whole_then_the_retry_succeeds(app, tpl, site_factory, login, s3_server,
                                                                         s3_store, client):
    site = site_factory()
    login("inspector")
    html = client.get(f"/s/{site.qr_token}", follow_redirects=True).get_data(as_text=True)
    data = form_post(tpl, html, {"masks_mandatory": jpeg("green")})
    before = all_rows(app)
    with s3_server.down():
        resp = submit_form(client, site, data)
        assert resp.status_code == 503
        body = resp.get_json()
        assert body["error"] == "unavailable" and "사진 저장소" in body["message"] and "다시" in body["message"]
        assert all_rows(app) == before  # no inspection, answer, photo, task, action or roll-up row
        # The plain form (no script) gets the form back with the message and its answers.
        page = submit_form(client, site, data, json=False)
        html = page.get_data(as_text=True)
        assert page.status_code == 503 and "사진 저장소에 지금 연결할 수 없어" in html
        n_answers = sum(k.startswith("a-") for k in data)
        assert html.count('value="yes" required checked') == n_answers
        assert f'name="client_uuid" value="{data["client_uuid"]}"' in html  # the same submission, sent again
        assert all_rows(app) == before
    # Back up: the phone's retry, the same submission with the same client_uuid, is saved once.
    again = submit_form(client, site, data)
    assert again.status_code == 201, again.get_data(as_text=True)
    assert submit_form(client, site, data).status_code == 200  # a second retry gets the saved one back
    with app.app_context():
        insp = _db.session.scalars(select(Inspection)).one()
        sha = insp.photos[0].sha256
    assert client.get(f"/photos/{sha}.jpg").status_code == 200


def test_store_down_message_in_english(app, tpl, site_factory, login, s3_server, s3_store, client):
    site = site_factory()
    login("inspector")
    client.get("/?lang=en")
    html = client.get(f"/s/{site.qr_token}", follow_redirects=True).get_data(as_text=True)
    with s3_server.down():
        resp = submit_form(client, site, form_post(tpl, html, {"masks_mandatory": jpeg()}))
    assert resp.status_code == 503 and "photo store cannot be reached" in resp.get_json()["message"]


def test_reading_a_photo_while_the_store_is_down_is_a_503_page(app, tpl, site_factory, make_user, s3_server,
                                                                 s3_store):
    site = site_factory()
    lead = make_user("lead")
    with app.app_context():
        insp, _ = inspections.submit({"site_id": site.id, "mode": "onsite", "client_uuid": str(uuid.uuid4()),
                                      "answers": {i.key: {"value": "yes", "note": ""} for i in tpl.items
                                                  if i.applies_to("onsite")}},
                                     photos=[("masks_mandatory", jpeg())])
        _db.session.commit()
        sha = insp.photos[0].sha256
    c = login_client(app, lead)
    with s3_server.down():
        resp = c.get(f"/photos/{sha}.jpg")
    assert resp.status_code == 503 and "사진 저장소에 지금 연결할 수 없습니다" in resp.get_data(as_text=True)
    assert c.get(f"/photos/{sha}.jpg").status_code == 200


def test_a_folder_that_cannot_be_written_refuses_whole_too(app, app_ctx, tpl, site_factory, tmp_path):
    site = site_factory()
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the upload folder should be")
    app.config["TRACKER_UPLOAD_DIR"] = str(blocker)
    from tracker.services import ServiceError
    with pytest.raises(ServiceError) as exc:
        inspections.submit({"site_id": site.id, "mode": "onsite", "client_uuid": str(uuid.uuid4()),
                            "answers": {i.key: {"value": "yes", "note": ""} for i in tpl.items
                                        if i.applies_to("onsite")}}, photos=[("masks_mandatory", jpeg())])
    assert exc.value.status == 503
    _db.session.rollback()
    assert _db.session.scalar(select(func.count()).select_from(Inspection)) == 0


# --- the commands ----------------------------------------------------------------------------------

@pytest.fixture
def run(app):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=list(args))


def test_storage_check_ok_and_failing(app, run, s3_server, s3_store):
    res = run("storage-check")
    assert res.exit_code == 0 and "storage check OK" in res.output and s3_store in res.output, res.output
    bucket = s3_store.removeprefix("s3://").split("/")[0]
    assert "Contents" not in s3_server.client().list_objects_v2(Bucket=bucket)  # the probe was deleted
    with s3_server.down():
        res = run("storage-check")
    assert res.exit_code == 1 and "storage check FAILED" in res.output
    app.config["TRACKER_STORAGE_URL"] = f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}"
    res = run("storage-check")
    assert res.exit_code == 1 and "NoSuchBucket" in res.output


def test_storage_check_of_the_default_folder(app, run):
    res = run("storage-check")
    assert res.exit_code == 0 and Path(app.config["TRACKER_UPLOAD_DIR"]).resolve().as_uri() in res.output
    assert list(Path(app.config["TRACKER_UPLOAD_DIR"]).iterdir()) == []


def test_storage_copy_moves_a_folder_to_s3_and_resumes(app, tpl, site_factory, make_user, run, s3_server,
                                                       monkeypatch):
    site, lead = site_factory(), make_user("lead")
    with app.app_context():
        for color in ("red", "green", "blue"):
            inspections.submit({"site_id": site.id, "mode": "onsite", "client_uuid": str(uuid.uuid4()),
                                "answers": {i.key: {"value": "yes", "note": ""} for i in tpl.items
                                            if i.applies_to("onsite")}}, photos=[("masks_mandatory", jpeg(color))])
        _db.session.commit()
        shas = list(_db.session.scalars(select(Inspection).order_by(Inspection.id)))
        shas = [i.photos[0].sha256 for i in shas]
    assert sorted(p.name for p in Path(app.config["TRACKER_UPLOAD_DIR"]).iterdir()) == sorted(f"{s}.jpg"
                                                                                               for s in shas)
    bucket = s3_server.new_bucket()
    dest = f"s3://{bucket}/photos"
    for name, value in s3_server.env.items():  # as an operator sets them: endpoint, region, credentials
        monkeypatch.setenv(name, value)
    app.config["TRACKER_S3_ENDPOINT_URL"] = s3_server.endpoint_url
    with s3_server.down():
        res = run("storage-copy", "--to", dest)
    assert res.exit_code == 1 and "run it again to resume" in res.output
    # Interrupted part-way: one photo already there...
    s3 = s3_server.client()
    first = Path(app.config["TRACKER_UPLOAD_DIR"]) / f"{shas[0]}.jpg"
    s3.put_object(Bucket=bucket, Key=f"photos/{shas[0]}.jpg", Body=first.read_bytes())
    # ...and one there but cut short, which is copied again.
    s3.put_object(Bucket=bucket, Key=f"photos/{shas[1]}.jpg", Body=b"half")
    res = run("storage-copy", "--to", dest)
    assert res.exit_code == 0 and "2 copied, 1 already there" in res.output, res.output
    res = run("storage-copy", "--to", dest)
    assert res.exit_code == 0 and "0 copied, 3 already there" in res.output
    # Switched over, the app serves every photo from the bucket.
    app.config["TRACKER_STORAGE_URL"] = dest
    c = login_client(app, lead)
    for sha in shas:
        got = c.get(f"/photos/{sha}.jpg")
        assert got.status_code == 200 and hashlib.sha256(got.data).hexdigest() == sha


def test_a_wrong_storage_url_stops_the_start(monkeypatch, tmp_path):
    monkeypatch.setenv("TRACKER_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("TRACKER_STORAGE_URL", "ftp://photos.example/uploads")
    with pytest.raises(ValueError, match="TRACKER_STORAGE_URL"):
        create_app({"TESTING": True})


# --- the phone -------------------------------------------------------------------------------------

new_phone = on_phone.new_phone  # the logged-in phone fixture of the browser tests

def test_the_phone_keeps_an_inspection_the_store_refused_and_sends_it_once_it_is_back(app, new_phone, site_factory,
                                                                                      s3_server, s3_store):
    """Real Chromium: the store is down when 제출 is tapped; the phone says it will try again, keeps the inspection
    (photo included) in its outbox, and its own retry saves it, photo and all, once the store is back."""
    page, _ctx, base, _user = new_phone()
    site = site_factory()
    page.goto(f"{base}/s/{site.qr_token}")
    on_phone.answer_all(page)
    page.locator("#q-masks_mandatory summary").tap()
    page.locator("input[name='p-masks_mandatory']").set_input_files(
        files=[{"name": "mask.jpg", "mimeType": "image/jpeg", "buffer": jpeg("orange", (800, 600))}])
    page.wait_for_function("() => document.querySelector('#q-masks_mandatory .photo-info').textContent.includes('KB')")
    before = all_rows(app)
    with s3_server.down():
        page.locator("#insp-submit").tap()
        page.wait_for_function("() => document.getElementById('insp-status').textContent.includes('다시 보냅니다')")
        assert all_rows(app) == before and on_phone.queue_count(page) == 1
    page.wait_for_url("**/inspections/*", timeout=30000)  # the phone's own retry, a few seconds later
    with app.app_context():
        insp = _db.session.scalars(select(Inspection)).one()
        assert [p.item_key for p in insp.photos] == ["masks_mandatory"]
    # The result page's photo, fetched as the phone would, comes from the bucket through the app.
    got = page.evaluate("async () => { const r = await fetch(document.querySelector('.thumb img').src);"
                        " return [r.status, (await r.arrayBuffer()).byteLength]; }")
    assert got[0] == 200 and got[1] == insp.photos[0].size_bytes
    assert on_phone.queue_count(page) == 0
