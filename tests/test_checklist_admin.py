"""The admin's checklist pages: view, per-item editor that publishes a version, JSON export and import."""
import io
import json
import re
import uuid

from sqlalchemy import func, select

from tests.conftest import csrf_from
from tracker.extensions import db as _db
from tracker.models import ChecklistTemplate
from tracker.services import checklist, inspections


def editor_data(html: str) -> dict:
    """What the browser would post back from the editor page, unchanged."""
    data = {}
    for m in re.finditer(r'<input([^>]*)>', html):
        attrs = dict(re.findall(r'(\w[\w-]*)="([^"]*)"', m.group(1)))
        name = attrs.get("name")
        if not name:
            continue
        if attrs.get("type") == "checkbox":
            if " checked" in m.group(1):
                data[name] = "y"
        else:
            data[name] = attrs.get("value", "")
    for m in re.finditer(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        sel = re.search(r'<option selected value="([^"]*)"|<option value="([^"]*)" selected', m.group(2))
        data[m.group(1)] = next(g for g in sel.groups() if g is not None)
    return data


def versions():
    return _db.session.scalar(select(func.count()).select_from(ChecklistTemplate))


def test_admin_only(client, login, db):
    checklist.ensure_default()
    db.session.commit()
    login("lead")
    for url in ("/admin/checklist", "/admin/checklist/edit", "/admin/checklist/export.json"):
        assert client.get(url).status_code == 403


def test_view_shows_current_items(client, login, db):
    checklist.ensure_default()
    db.session.commit()
    login("admin")
    html = client.get("/admin/checklist").get_data(as_text=True)
    assert "masks_mandatory" in html and "근무 중 마스크 착용 의무화" in html and "1판" in html


def test_edit_form_publishes_a_new_version(client, login, db, site_factory):
    tpl = checklist.ensure_default()
    db.session.commit()
    site = site_factory()
    old_insp, _ = inspections.submit({"site_id": site.id, "mode": "phone", "client_uuid": str(uuid.uuid4()),
                                      "contact_name": "x", "answers": {i.key: {"value": "yes"} for i in tpl.items
                                                                        if i.applies_to("phone")}})
    db.session.commit()
    login("admin")
    page = client.get("/admin/checklist/edit").get_data(as_text=True)
    # A real per-item form, not a JSON textarea.
    assert 'name="items-0-key"' in page and 'name="items-16-label_en"' in page
    assert 'type="checkbox"' in page and "<select" in page and "items_json" not in page
    data = editor_data(page)
    assert data["items-0-key"] == "officer_designated" and data["items-0-critical"] == "y"
    assert "items-2-phone" not in data  # density_minimized is on-site only
    # Change a label, make an item phone-able, remove one, and add a row through the server (no JS).
    data["items-5-label_ko"] = "손소독제 비치 (바뀐 문구)"
    data["items-5-phone"] = "y"
    data["items-15-remove"] = "y"
    data["add_row"] = "1"
    added = client.post("/admin/checklist/edit", data=data)
    assert added.status_code == 200 and versions() == 1
    data = editor_data(added.get_data(as_text=True))
    data["items-5-label_ko"] = "손소독제 비치 (바뀐 문구)"
    data["items-15-remove"] = "y"
    assert "items-17-key" in data
    data.update({"items-17-key": "canteen_zigzag", "items-17-label_ko": "구내식당 지그재그 앉기",
                 "items-17-label_en": "Zigzag seating in the canteen", "items-17-category": "workspace",
                 "items-17-critical": "y", "items-17-onsite": "y"})
    data.pop("items-17-phone", None)
    r = client.post("/admin/checklist/edit", data=data)
    assert r.status_code == 302, r.get_data(as_text=True)
    assert versions() == 2
    new = checklist.current()
    assert new.version == 2 and len(new.items) == 17
    by_key = {i.key: i for i in new.items}
    assert "visitor_log" not in by_key
    assert by_key["hygiene_supplies"].label_ko == "손소독제 비치 (바뀐 문구)"
    assert by_key["hygiene_supplies"].mode_list == ["onsite", "phone"]
    assert by_key["canteen_zigzag"].critical and by_key["canteen_zigzag"].mode_list == ["onsite"]
    _db.session.refresh(old_insp)
    assert old_insp.template.version == 1  # the old inspection keeps its version


def test_edit_errors_publish_nothing(client, login, db):
    checklist.ensure_default()
    db.session.commit()
    login("admin")
    data = editor_data(client.get("/admin/checklist/edit").get_data(as_text=True))
    data["items-1-key"] = "officer_designated"  # a duplicate key
    data.pop("items-3-onsite")  # no mode left
    r = client.post("/admin/checklist/edit", data=data)
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "두 번 있습니다" in html and "점검 방식" in html
    assert versions() == 1


def test_export_and_import_round_trip(client, login, db):
    checklist.ensure_default()
    db.session.commit()
    login("admin")
    r = client.get("/admin/checklist/export.json")
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
    doc = json.loads(r.get_data(as_text=True))
    assert doc["version"] == 1 and len(doc["items"]) == 17
    doc["items"][0]["label_ko"] = "방역 책임자 지정"
    token = csrf_from(client.get("/admin/checklist").get_data(as_text=True))
    up = client.post("/admin/checklist/import", data={
        "csrf_token": token, "file": (io.BytesIO(json.dumps(doc, ensure_ascii=False).encode("utf-8-sig")), "c.json")},
        content_type="multipart/form-data")
    assert up.status_code == 302
    assert checklist.current().version == 2 and checklist.current().items[0].label_ko == "방역 책임자 지정"
    bad = client.post("/admin/checklist/import", data={
        "csrf_token": token, "file": (io.BytesIO(b'{"items": [{"key": "x y"}]}'), "c.json")},
        content_type="multipart/form-data")
    assert bad.status_code == 422 and "영문·숫자·밑줄" in bad.get_data(as_text=True)
    assert versions() == 2
