"""What a signed-in user sees never stays in the browser's HTTP cache (a shared phone); static files do, for good."""
import io
import re
import uuid

import pytest
from PIL import Image
from sqlalchemy import select

from tracker.models import Photo
from tracker.services import checklist, inspections


@pytest.fixture
def published(default_checklist):
    return default_checklist


@pytest.mark.parametrize("role,url", [("inspector", "/inspect"), ("lead", "/dashboard"), ("lead", "/sites/"),
                                      ("lead", "/api/v1/sites"), ("lead", "/api/v1/checklist"),
                                      ("lead", "/sites/export.csv?reason=보고"),
                                      ("lead", "/sites/export.xlsx?reason=보고")])
def test_signed_in_pages_and_api_answers_are_not_stored(client, login, published, role, url):
    login(role)
    resp = client.get(url)
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store", url


def test_a_form_is_not_stored_and_the_static_files_it_names_are_immutable(client, login, published, site_factory):
    site = site_factory()
    login("inspector")
    page = client.get(f"/inspect/sites/{site.id}")
    assert page.headers["Cache-Control"] == "no-store"
    css = re.search(r'href="(/static/[^"]+\.css)"', page.get_data(as_text=True)).group(1)
    assert "immutable" in client.get(css).headers["Cache-Control"]


def test_photos_are_private_and_not_stored(app, client, db, login, published, site_factory, photo_store):
    site = site_factory()
    user = login("inspector")
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(buf, "JPEG")
    with app.app_context():
        answers = {i.key: {"value": "yes", "note": ""} for i in checklist.current().items if i.applies_to("phone")}
        insp, _created = inspections.submit({"site_id": site.id, "mode": "phone", "client_uuid": str(uuid.uuid4()),
                                             "contact_name": "김담당", "answers": answers}, by=user,
                                            photos=[(next(iter(answers)), buf.getvalue())])
        db.session.commit()
        sha = db.session.scalar(select(Photo.sha256).where(Photo.inspection_id == insp.id))
    resp = client.get(f"/photos/{sha}.jpg")
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "private, no-store"
