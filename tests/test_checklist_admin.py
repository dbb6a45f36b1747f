"""The admin's checklist pages: view, per-item editor that publishes a version, JSON export and import."""
import io
import json
import re
import uuid

import pytest
from sqlalchemy import func, select

from tests.conftest import csrf_from
from tracker.extensions import db as _db
from tracker.models import ChecklistTemplate, Inspection
from tracker.services import ServiceError, checklist, inspections


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


def test_admin_only(client, login, default_checklist):
    login("lead")
    for url in ("/admin/checklist", "/admin/checklist/edit", "/admin/checklist/export.json"):
        assert client.get(url).status_code == 403


def test_view_shows_current_items(client, login, default_checklist):
    login("admin")
    html = client.get("/admin/checklist").get_data(as_text=True)
    assert "masks_mandatory" in html and "근무 중 마스크 착용 의무화" in html and "1판" in html


def test_edit_form_publishes_a_new_version(app, client, login, db, site_factory):
    with app.app_context():
        tpl = checklist.ensure_default()
        db.session.commit()
        site = site_factory()
        old_insp, _ = inspections.submit({"site_id": site.id, "mode": "phone", "client_uuid": str(uuid.uuid4()),
                                          "contact_name": "x", "answers": {i.key: {"value": "yes"} for i in tpl.items
                                                                            if i.applies_to("phone")}})
        db.session.commit()
        old_insp_id = old_insp.id
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
    assert added.status_code == 200
    with app.app_context():
        assert versions() == 1
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
    with app.app_context():
        assert versions() == 2
        new = checklist.current()
        assert new.version == 2 and len(new.items) == 17
        by_key = {i.key: i for i in new.items}
        assert "visitor_log" not in by_key
        assert by_key["hygiene_supplies"].label_ko == "손소독제 비치 (바뀐 문구)"
        assert by_key["hygiene_supplies"].mode_list == ["onsite", "phone"]
        assert by_key["canteen_zigzag"].critical and by_key["canteen_zigzag"].mode_list == ["onsite"]
        assert db.session.get(Inspection, old_insp_id).template.version == 1  # the old inspection keeps its version


def test_edit_errors_publish_nothing(app, client, login, default_checklist):
    login("admin")
    data = editor_data(client.get("/admin/checklist/edit").get_data(as_text=True))
    data = editor_data(client.post("/admin/checklist/edit", data=dict(data, add_row="1")).get_data(as_text=True))
    data.update({"items-17-key": "officer_designated", "items-17-label_ko": "중복"})  # a new row, a duplicate key
    data.pop("items-3-onsite")  # no mode left
    r = client.post("/admin/checklist/edit", data=data)
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "두 번 있습니다" in html and "점검 방식" in html
    with app.app_context():
        assert versions() == 1


def test_export_and_import_round_trip(app, client, login, default_checklist):
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
    with app.app_context():
        assert checklist.current().version == 2 and checklist.current().items[0].label_ko == "방역 책임자 지정"
    bad = client.post("/admin/checklist/import", data={
        "csrf_token": token, "file": (io.BytesIO(b'{"items": [{"key": "x y"}]}'), "c.json")},
        content_type="multipart/form-data")
    assert bad.status_code == 422 and "영문 소문자로 시작" in bad.get_data(as_text=True)
    with app.app_context():
        assert versions() == 2


# --- stable keys ------------------------------------------------------------------------------------------------

def test_existing_keys_are_read_only_in_the_editor_and_cannot_be_renamed(app, client, login, default_checklist):
    login("admin")
    page = client.get("/admin/checklist/edit").get_data(as_text=True)
    key_input = re.search(r'<input[^>]*name="items-6-key"[^>]*>', page).group(0)
    assert "readonly" in key_input and 'value="masks_mandatory"' in key_input
    data = editor_data(page)
    assert data["items-6-orig_key"] == "masks_mandatory"
    # A browser ignores typing in a read-only field; a hand-made post that renames the key anyway is refused.
    data["items-6-key"] = "masks_optional"
    r = client.post("/admin/checklist/edit", data=data)
    assert r.status_code == 422 and "masks_mandatory" in r.get_data(as_text=True)
    assert "바꿀 수 없습니다" in r.get_data(as_text=True)
    with app.app_context():
        assert versions() == 1
    # A new row's key is typed in, and must be a lower-case identifier.
    data = editor_data(client.post("/admin/checklist/edit", data=dict(editor_data(page), add_row="1"))
                       .get_data(as_text=True))
    assert data["items-17-orig_key"] == ""
    new_key = re.search(r'<input[^>]*name="items-17-key"[^>]*>',
                        client.post("/admin/checklist/edit", data=dict(data, add_row="1")).get_data(as_text=True))
    assert "readonly" not in new_key.group(0)
    data.update({"items-17-label_ko": "구내식당 지그재그 앉기", "items-17-category": "workspace",
                 "items-17-onsite": "y"})
    for bad in ("Canteen", "1canteen", "canteen-zigzag", "_canteen", "구내식당"):
        data["items-17-key"] = bad
        r = client.post("/admin/checklist/edit", data=data)
        assert r.status_code == 422 and "영문 소문자로 시작" in r.get_data(as_text=True), bad
    data["items-17-key"] = "canteen_zigzag2"
    assert client.post("/admin/checklist/edit", data=data).status_code == 302
    with app.app_context():
        new = checklist.current()
        assert new.version == 2 and [i.key for i in new.items][-1] == "canteen_zigzag2"
        assert {i.key for i in new.items} >= {"masks_mandatory", "officer_designated"}


def test_the_service_refuses_a_renamed_key_and_keys_that_are_not_identifiers(app_ctx, db):
    tpl = checklist.ensure_default()
    db.session.commit()
    rows = [dict(it, orig_key=it["key"]) for it in checklist.to_dict(tpl)["items"]]
    rows[0]["key"] = "officer_named"
    with pytest.raises(ServiceError) as exc:
        checklist.publish("x", rows)
    assert "officer_designated" in exc.value.message
    db.session.rollback()
    for bad in ("Upper", "9lives", "with space", "dash-key", ""):
        with pytest.raises(ServiceError):
            checklist.publish("x", [{"key": bad, "label_ko": "가", "category": "hygiene", "modes": ["onsite"]}])
        db.session.rollback()
    assert versions() == 1


def test_a_json_import_may_add_and_drop_keys(app, client, login, default_checklist):
    login("admin")
    doc = json.loads(client.get("/admin/checklist/export.json").get_data(as_text=True))
    doc["items"] = [i for i in doc["items"] if i["key"] != "visitor_log"] + [
        {"key": "canteen_zigzag", "label_ko": "구내식당 지그재그 앉기", "label_en": "Zigzag seating in the canteen",
         "category": "workspace", "critical": False, "modes": ["onsite"]}]
    token = csrf_from(client.get("/admin/checklist").get_data(as_text=True))
    up = client.post("/admin/checklist/import", content_type="multipart/form-data", data={
        "csrf_token": token, "file": (io.BytesIO(json.dumps(doc, ensure_ascii=False).encode()), "c.json")})
    assert up.status_code == 302
    with app.app_context():
        keys = [i.key for i in checklist.current().items]
    assert "visitor_log" not in keys and keys[-1] == "canteen_zigzag" and len(keys) == 17


def test_keys_published_before_the_rule_can_still_be_edited(app, client, login, db):
    """A template published when keys could be upper-case still opens and saves in the editor."""
    with app.app_context():
        tpl = checklist.ensure_default()
        db.session.flush()
        tpl.items[0].key = "Officer_Designated"
        db.session.commit()
    login("admin")
    data = editor_data(client.get("/admin/checklist/edit").get_data(as_text=True))
    data["items-1-label_ko"] = "대응 매뉴얼 마련 (바뀐 문구)"
    assert client.post("/admin/checklist/edit", data=data).status_code == 302
    with app.app_context():
        assert checklist.current().items[0].key == "Officer_Designated"


# --- the default template is shared/CHECKLIST.md ----------------------------------------------------------------

# Copied from shared/CHECKLIST.md (version 1): key, 한국어, English, category, critical, modes.
CHECKLIST_MD = [
    ("officer_designated", "방역 전담자 지정", "A person in charge of prevention is designated",
     "management", True, ["onsite", "phone"]),
    ("response_manual", "사업장 대응 매뉴얼 마련", "The workplace has a COVID-19 response manual",
     "management", True, ["onsite", "phone"]),
    ("density_minimized", "근무공간 밀집 최소화 (좌석 간격 1m 이상, 권고 2m·지그재그 배치)",
     "Workspace crowding is minimised: seats at least 1 m apart (2 m advised), zigzag seating",
     "workspace", True, ["onsite"]),
    ("partitions_installed", "칸막이·가림막 설치 (책상 면에서 90cm 이상)",
     "Partitions or screens stand between seats, at least 90 cm above the desk", "workspace", True, ["onsite"]),
    ("fixed_seating", "개인별 근무 좌석 고정 배치", "Each worker keeps a fixed seat; seats are not rotated",
     "workspace", False, ["onsite", "phone"]),
    ("hygiene_supplies", "위생용품(손소독제 등) 비치", "Hygiene supplies such as hand sanitiser are provided",
     "hygiene", False, ["onsite"]),
    ("masks_mandatory", "근무 중 마스크 착용 의무화", "Masks are compulsory at work",
     "hygiene", True, ["onsite", "phone"]),
    ("office_clean", "사무실·집기류 청결 유지", "Office and equipment are kept clean", "hygiene", False, ["onsite"]),
    ("disinfection", "정기 소독 실시", "Regular disinfection is carried out (with a log)",
     "hygiene", True, ["onsite", "phone"]),
    ("ventilation", "주기적 환기 (1일 2회 이상)", "Regular ventilation, at least twice a day",
     "hygiene", False, ["onsite", "phone"]),
    ("temperature_checks", "발열·호흡기 증상 확인 (1일 2회 이상)",
     "Fever and respiratory symptoms are checked at least twice a day", "health", True, ["onsite", "phone"]),
    ("symptomatic_sent_home", "유증상자 즉시 업무 배제·귀가 및 보건소 안내",
     "Staff with symptoms leave work at once and are referred to the health centre",
     "health", True, ["onsite", "phone"]),
    ("personal_headsets", "전화기·헤드셋·마이크 개인 사용 및 일회용 덮개·주기적 소독",
     "Phones, headsets and microphones are personal, covered or disinfected regularly",
     "hygiene", False, ["onsite", "phone"]),
    ("staggered_breaks", "휴게·식사 시간 분산 및 휴게공간 밀집 방지",
     "Breaks and meals are staggered, and rest areas are not crowded", "workspace", False, ["onsite", "phone"]),
    ("flexible_work", "재택·시차출퇴근 등 유연근무 활용", "Telework, staggered hours or other flexible work is used",
     "workspace", False, ["onsite", "phone"]),
    ("visitor_log", "외부인 출입 관리(출입자 명부)", "Visitors are controlled and logged",
     "management", False, ["onsite"]),
    ("case_reporting", "확진자·의심자 발생 시 보고체계 마련",
     "There is a way to report a confirmed or suspected case to the district at once",
     "incident", True, ["onsite", "phone"]),
]


def test_the_default_template_is_checklist_md(app, client, login, db):
    """All 17 rows, as published on a fresh install and as the API and the export give them."""
    with app.app_context():
        tpl = checklist.ensure_default()
        db.session.commit()
        assert tpl.version == 1 and len(CHECKLIST_MD) == 17
        published = [(i.key, i.label_ko, i.label_en, i.category, i.critical, i.mode_list) for i in tpl.items]
        assert published == CHECKLIST_MD
    login("admin")
    exported = json.loads(client.get("/admin/checklist/export.json").get_data(as_text=True))["items"]
    assert [(i["key"], i["label_ko"], i["label_en"], i["category"], i["critical"], i["modes"]) for i in exported] \
        == CHECKLIST_MD
