"""Photos that decode huge (issue 14 item 3): refused from the header over TRACKER_PHOTO_MAX_MP, decoded at reduced
size where Pillow can, a few per item, and a form's photos refused in about a second, never a worker timeout."""
import io
import re
import time
import uuid

import pytest
from PIL import Image, JpegImagePlugin
from werkzeug.datastructures import MultiDict

from tests.conftest import csrf_from
from tracker.services import ServiceError, inspections


@pytest.fixture(scope="module")
def png_24mp() -> bytes:
    """A 6,000 × 4,000 PNG (24 megapixels, the default limit) of a few kilobytes."""
    buf = io.BytesIO()
    Image.new("L", (6000, 4000)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def png_7000x8500() -> bytes:
    """The review's file: a small PNG of 7,000 × 8,500 pixels (59.5 MP), accepted after 2.5 s and 430 MB."""
    buf = io.BytesIO()
    Image.new("1", (7000, 8500)).save(buf, format="PNG")
    return buf.getvalue()


def _payload(site, tpl):
    return {"site_id": site.id, "mode": "onsite", "client_uuid": str(uuid.uuid4()),
            "answers": {i.key: {"value": "yes", "note": ""} for i in tpl.items if i.applies_to("onsite")}}


def test_a_photo_over_the_pixel_limit_is_refused_from_its_header(app_ctx, app, default_checklist, site_factory,
                                                                 png_7000x8500, monkeypatch):
    decoded = []
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(self.size))
    started = time.monotonic()
    with pytest.raises(ServiceError) as exc:
        inspections.submit(_payload(site_factory(), default_checklist), photos=[("masks_mandatory", png_7000x8500)])
    assert time.monotonic() - started < 1.0 and not any(w * h > 1_000_000 for w, h in decoded)
    assert "24" in exc.value.errors["photos.masks_mandatory"]
    app.config["TRACKER_PHOTO_MAX_MP"] = 60  # the setting moves the limit
    assert inspections.open_upload(png_7000x8500, "masks_mandatory").size == (7000, 8500)


def test_pillows_own_guard_follows_the_setting(app_ctx, app, png_24mp):
    app.config["TRACKER_PHOTO_MAX_MP"] = 10
    with pytest.raises(ServiceError):
        inspections.open_upload(png_24mp, "masks_mandatory")
    assert Image.MAX_IMAGE_PIXELS == 10_000_000  # Pillow itself refuses beyond twice that, whatever calls it


def test_a_jpeg_is_decoded_at_reduced_size(app_ctx, app, monkeypatch):
    """draft(): a 6,000 × 4,000 JPEG decodes at 1/2 scale (3,000 × 2,000, still above 1,600), not whole."""
    buf = io.BytesIO()
    Image.new("RGB", (6000, 4000), (10, 120, 30)).save(buf, format="JPEG")
    sizes = []
    real_load = JpegImagePlugin.JpegImageFile.load

    def load(self):
        sizes.append(self.size)
        return real_load(self)
    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "load", load)
    out = inspections.prepare_photo(buf.getvalue(), "masks_mandatory")
    assert sizes[0] == (3000, 2000) and (out["width"], out["height"]) == (1600, 1067)


def test_at_most_a_few_photos_per_item_with_a_clear_message(app_ctx, app, default_checklist, site_factory):
    app.config["TRACKER_PHOTOS_PER_ITEM"] = 3
    small = io.BytesIO()
    Image.new("RGB", (100, 100)).save(small, format="JPEG")
    photos = [("masks_mandatory", small.getvalue())] * 4 + [("visitor_log", small.getvalue())] * 3
    with pytest.raises(ServiceError) as exc:
        inspections.submit(_payload(site_factory(), default_checklist), photos=photos)
    assert exc.value.errors == {
        "photos.masks_mandatory": "한 항목에 사진은 3장까지 올릴 수 있습니다 (4장을 보냈습니다)"}
    insp, created = inspections.submit(_payload(site_factory(), default_checklist), photos=photos[1:])
    assert created and len(insp.photos) == 6


@pytest.mark.parametrize("spread", ["one item", "ten items"])
def test_thirty_largest_photos_on_the_form_are_refused_in_about_a_second(app, client, login, default_checklist,
                                                                         site_factory, png_24mp, spread):
    """Through the page, as a phone posts them: 30 photos at the pixel limit, on one item or three on each of ten."""
    site = site_factory()
    login("inspector")
    html = client.get(f"/inspect/sites/{site.id}?mode=onsite").get_data(as_text=True)
    keys = list(dict.fromkeys(re.findall(r'name="a-([a-z_]+)"', html)))
    data = {"csrf_token": csrf_from(html), "mode": "onsite",
            "client_uuid": re.search(r'name="client_uuid" value="([^"]+)"', html).group(1)}
    form_token = re.search(r'name="form_token" value="([^"]*)"', html)
    if form_token:
        data["form_token"] = form_token.group(1)
    data.update({f"a-{k}": "yes" for k in keys})
    targets = [keys[0]] * 30 if spread == "one item" else [k for k in keys[:10] for _ in range(3)]
    files = [(f"p-{k}", (io.BytesIO(png_24mp), f"{n}.png")) for n, k in enumerate(targets)]
    started = time.monotonic()
    resp = client.post(f"/inspect/sites/{site.id}", data=MultiDict(list(data.items()) + files),
                       content_type="multipart/form-data", headers={"Accept": "application/json"})
    elapsed = time.monotonic() - started
    assert resp.status_code == 422 and elapsed < 1.5, (resp.status_code, elapsed)
    errors = resp.json["errors"]
    if spread == "one item":
        assert "3장까지" in errors[f"photos.{keys[0]}"]
    else:
        assert "100메가픽셀" in errors["photos"]
