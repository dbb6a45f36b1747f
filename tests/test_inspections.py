"""The inspection service and its pages: idempotent submit, every bad input refused whole, photos, the week list."""
import hashlib
import io
import re
import threading
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import event, func, select

from tests.conftest import client_as, csrf_from, loaded
from tracker.api.schemas import InspectionSchema
from tracker.extensions import db as _db
from tracker.models import Action, Answer, DongAssignment, Inspection, Photo, SummaryWeek, Task
from tracker.services import ServiceError, checklist, inspections, sites

PHONE_ONLY_OUT = {"density_minimized", "partitions_installed", "hygiene_supplies", "office_clean", "visitor_log"}


@pytest.fixture
def tpl(default_checklist):
    return default_checklist


def all_answers(tpl, mode="onsite", value="yes", **override):
    out = {i.key: {"value": value, "note": ""} for i in tpl.items if i.applies_to(mode)}
    for k, v in override.items():
        out[k] = {"value": v, "note": f"note {k}"}
    return out


def payload(site, tpl, mode="onsite", **kw):
    data = {"site_id": site.id, "mode": mode, "client_uuid": str(uuid.uuid4()), "answers": all_answers(tpl, mode)}
    if mode == "phone":
        data["contact_name"] = "김담당"
    data.update(kw)
    return data


def counts():
    return tuple(_db.session.scalar(select(func.count()).select_from(m)) for m in (Inspection, Answer, Photo))


def jpeg_with_gps(size=(2400, 1800)) -> bytes:
    img = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (37.0, 31.0, 0.0), 3: "E", 4: (126.0, 54.0, 0.0)}  # GPS IFD
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif)
    return buf.getvalue()


class QueryCounter:
    def __init__(self, engine):
        self.engine, self.n, self.stmts = engine, 0, []

    def _count(self, _conn, _cur, stmt, *_a):
        self.n += 1
        self.stmts.append(stmt.split("\n")[0][:150])

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._count)


# --- the rules --------------------------------------------------------------------------------------

def test_submit_counts_and_compliance(clock_at, app_ctx, tpl, site_factory, make_user):
    site, user = site_factory(), make_user("inspector")
    clock_at(datetime(2020, 3, 11, 5, 0, tzinfo=timezone.utc))
    data = payload(site, tpl, answers=all_answers(tpl, "onsite", office_clean="no", visitor_log="na"))
    insp, created = inspections.submit(data, by=user)
    _db.session.commit()
    assert created
    assert (insp.yes_count, insp.no_count, insp.na_count, insp.critical_no_count) == (15, 1, 1, 0)
    assert insp.compliant  # office_clean is not critical
    assert insp.week == "2020-W11" and insp.template_id == tpl.id and insp.inspector_id == user.id
    assert counts() == (1, 17, 0)

    data = payload(site, tpl, answers=all_answers(tpl, "onsite", masks_mandatory="no", disinfection="no"))
    insp2, _ = inspections.submit(data, by=user)
    _db.session.commit()
    assert insp2.critical_no_count == 2 and not insp2.compliant


def test_week_is_server_time_in_seoul(clock_at, app_ctx, tpl, site_factory):
    site = site_factory()
    # Sunday 23:30 in Seoul is Sunday 14:30 UTC: still week 11; the device's clock says something else.
    clock_at(datetime(2020, 3, 15, 14, 30, tzinfo=timezone.utc))
    insp, _ = inspections.submit(payload(site, tpl, device_time="2020-03-20T10:00:00+09:00"))
    assert insp.week == "2020-W11"
    assert insp.device_time == datetime(2020, 3, 20, 1, 0, tzinfo=timezone.utc)
    clock_at(datetime(2020, 3, 15, 15, 30, tzinfo=timezone.utc))  # Monday 00:30 in Seoul
    insp, _ = inspections.submit(payload(site, tpl))
    assert insp.week == "2020-W12"


def test_replay_returns_the_same_record(app_ctx, tpl, site_factory):
    site = site_factory()
    data = payload(site, tpl)
    first, created = inspections.submit(data)
    _db.session.commit()
    again, created2 = inspections.submit(dict(data, answers=all_answers(tpl, value="no")))
    _db.session.commit()
    assert created and not created2 and again.id == first.id
    assert again.no_count == 0  # the replay changes nothing
    assert counts() == (1, 17, 0)


def test_integrity_race_returns_existing(app_ctx, app, tpl, site_factory):
    """Two submissions of one client_uuid at the same moment: one record, both get it back."""
    site = site_factory()
    data = payload(site, tpl)
    results, barrier, seen = [], threading.Barrier(2), threading.local()
    real_published = checklist.published

    def slow_published(tpl_id):
        if not getattr(seen, "once", False):  # the submit's call, right after the site and uuid lookup
            seen.once = True
            try:
                barrier.wait(timeout=3)  # both have looked for the uuid and seen nothing before either inserts...
            except threading.BrokenBarrierError:
                pass  # ...on SQLite; on PostgreSQL the twin waits on the site's row lock
        return real_published(tpl_id)

    def run():
        with app.app_context():
            try:
                insp, created = inspections.submit(data)
                record = InspectionSchema().dump(insp)  # as the API answers, the loser too
                _db.session.commit()
                results.append((record["id"], created, len(record["answers"])))
            except Exception as exc:  # noqa: BLE001 - reported below
                results.append(exc)
            finally:
                _db.session.remove()

    checklist.published = slow_published
    try:
        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        checklist.published = real_published
    assert all(isinstance(r, tuple) for r in results), results
    assert len({r[0] for r in results}) == 1
    assert sorted(r[1] for r in results) == [False, True]
    assert [r[2] for r in results] == [17, 17]
    assert counts() == (1, 17, 0)


def test_a_rollback_after_a_submit_leaves_no_trace(app_ctx, tpl, site_factory):
    """Nothing of a submit is written for good until the caller commits: a rollback after it leaves no trace."""
    site = site_factory()
    inspections.submit(payload(site, tpl, answers=all_answers(tpl, ventilation="no")))
    _db.session.rollback()
    assert counts() == (0, 0, 0)
    assert _db.session.scalar(select(func.count()).select_from(Action)) == 0
    assert _db.session.scalar(select(func.count()).select_from(SummaryWeek)) == 0


def test_phone_mode_leaves_out_onsite_items(app_ctx, tpl, site_factory):
    site = site_factory()
    items = inspections.items_for(tpl, "phone")
    assert {i.key for i in tpl.items} - {i.key for i in items} == PHONE_ONLY_OUT
    insp, _ = inspections.submit(payload(site, tpl, "phone", called_at="2020-03-11T14:30"))
    assert insp.mode == "phone" and insp.contact_name == "김담당"
    assert insp.called_at == datetime(2020, 3, 11, 5, 30, tzinfo=timezone.utc)  # 14:30 in Seoul
    assert insp.qr_scanned_at is None
    assert len(insp.answers) == 12


def test_form_order_is_by_category(app_ctx, tpl):
    cats = [i.category for i in inspections.items_for(tpl, "onsite")]
    order = ["management", "workspace", "hygiene", "health", "incident"]
    assert cats == sorted(cats, key=order.index)


BAD_CASES = [
    ("unknown item", lambda d, t, s: d["answers"].update(no_such_item={"value": "yes"}), "answers.no_such_item"),
    ("missing answer", lambda d, t, s: d["answers"].pop("masks_mandatory"), "answers.masks_mandatory"),
    ("bad value", lambda d, t, s: d["answers"].update(masks_mandatory={"value": "maybe"}), "answers.masks_mandatory"),
    ("onsite-only item in phone mode",
     lambda d, t, s: d.update(mode="phone", contact_name="x", answers=dict(all_answers(t, "phone"),
                                                                          density_minimized={"value": "yes"})),
     "answers.density_minimized"),
    ("bad mode", lambda d, t, s: d.update(mode="video"), "mode"),
    ("unknown qr token", lambda d, t, s: (d.pop("site_id"), d.update(qr_token="nope")), "qr_token"),
    ("bad uuid", lambda d, t, s: d.update(client_uuid="not-a-uuid"), "client_uuid"),
    ("missing uuid", lambda d, t, s: d.pop("client_uuid"), "client_uuid"),
    ("unknown site", lambda d, t, s: d.update(site_id=999999), "site_id"),
    ("phone without contact", lambda d, t, s: d.update(mode="phone", answers=all_answers(t, "phone")), "contact_name"),
    ("bad device time", lambda d, t, s: d.update(device_time="yesterday"), "device_time"),
    ("bad latitude", lambda d, t, s: d.update(lat="95"), "lat"),
    ("forged scan token", lambda d, t, s: d.update(scan_token="abc.def"), "scan_token"),
    ("answers not an object", lambda d, t, s: d.update(answers=["yes"]), "answers"),
]


@pytest.mark.parametrize("name,mutate,field", BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_input_is_refused_whole(app_ctx, tpl, site_factory, name, mutate, field):
    site = site_factory()
    inspections.submit(payload(site, tpl))  # one good record already there
    _db.session.commit()
    data = payload(site, tpl)
    mutate(data, tpl, site)
    with pytest.raises(ServiceError) as exc:
        inspections.submit(data)
    _db.session.rollback()
    assert field in exc.value.errors, exc.value.errors
    assert exc.value.status == 422
    assert counts() == (1, 17, 0)


def test_every_wrong_field_is_named_at_once(app_ctx, tpl, site_factory):
    site = site_factory()
    data = payload(site, tpl)
    data["answers"]["bogus"] = {"value": "yes"}
    data["answers"]["masks_mandatory"] = {"value": "maybe"}
    del data["answers"]["disinfection"]
    data["client_uuid"] = "x"
    with pytest.raises(ServiceError) as exc:
        inspections.submit(data)
    assert {"answers.bogus", "answers.masks_mandatory", "answers.disinfection", "client_uuid"} <= set(exc.value.errors)
    assert "답하지 않았습니다" in exc.value.errors["answers.disinfection"]
    assert counts() == (0, 0, 0)


def test_rotated_qr_token_and_closed_site(app_ctx, tpl, site_factory):
    site = site_factory()
    old = site.qr_token
    sites.rotate_token(site)
    _db.session.commit()
    data = payload(site, tpl)
    del data["site_id"]
    with pytest.raises(ServiceError) as exc:
        inspections.submit(dict(data, qr_token=old))
    assert "qr_token" in exc.value.errors
    ok, _ = inspections.submit(dict(data, qr_token=site.qr_token))
    assert ok.qr_scanned_at is None  # the printed code names the site; it proves no presence (issue 14)
    _db.session.commit()
    sites.set_status(site, "closed")
    _db.session.commit()
    with pytest.raises(ServiceError) as exc:
        inspections.submit(payload(site, tpl))
    assert "site_id" in exc.value.errors and "폐업" in exc.value.errors["site_id"]
    _db.session.rollback()
    assert counts() == (1, 17, 0)


def test_scan_token_proves_presence(clock_at, app_ctx, tpl, site_factory, make_user):
    site, other = site_factory(), site_factory()
    me = make_user("inspector")
    clock_at(datetime(2020, 3, 11, 1, 0, tzinfo=timezone.utc))
    token = inspections.scan_token(site, me)
    late_token = inspections.scan_token(site, me)
    clock_at(datetime(2020, 3, 11, 2, 0, tzinfo=timezone.utc))
    insp, _ = inspections.submit(payload(site, tpl, scan_token=token), by=me)
    assert insp.qr_scanned_at == datetime(2020, 3, 11, 1, 0, tzinfo=timezone.utc)
    with pytest.raises(ServiceError) as exc:
        inspections.submit(payload(other, tpl, scan_token=token), by=me)
    assert "scan_token" in exc.value.errors
    # Sent two days later (kept offline on the phone): saved, but the stale scan proves nothing.
    clock_at(datetime(2020, 3, 13, 2, 0, tzinfo=timezone.utc))
    late, created = inspections.submit(payload(site, tpl, scan_token=late_token), by=me)
    assert created and late.qr_scanned_at is None


def test_inspection_keeps_its_template_version(app_ctx, tpl, site_factory):
    site = site_factory()
    insp, _ = inspections.submit(payload(site, tpl))
    _db.session.commit()
    items = checklist.to_dict(tpl)["items"] + [{"key": "new_item", "label_ko": "새 항목", "label_en": "New",
                                               "category": "incident", "critical": False, "modes": ["onsite"]}]
    v2 = checklist.publish("v2", items)
    _db.session.commit()
    assert insp.template.version == 1 and v2.version == 2
    with pytest.raises(ServiceError) as exc:  # the new item must now be answered
        inspections.submit(payload(site, tpl))
    assert "answers.new_item" in exc.value.errors


def test_submit_query_count_is_bounded(app_ctx, tpl, site_factory, make_user):
    """At most 20 statements per submit (schedule and summary hooks included), the same for 17 or 77 items."""
    user = make_user("inspector")
    big = checklist.to_dict(tpl)["items"] + [
        {"key": f"extra_{n}", "label_ko": f"추가 {n}", "label_en": f"Extra {n}", "category": "hygiene",
         "critical": n % 2 == 0, "modes": ["onsite", "phone"]} for n in range(60)]
    figures, stmts = [], []
    for n_items in (17, 77):
        t = checklist.current() if n_items == 17 else checklist.publish("big", big)
        # One submit first: a version's first use reads its items once (a one-time cost, not a per-submit one).
        inspections.submit(payload(site_factory(), t), by=user)
        _db.session.commit()
        site = site_factory()  # a fresh site each time, so that the follow-up work is the same
        answers = {i.key: {"value": "no" if n % 3 == 0 else "yes", "note": "메모"} for n, i in enumerate(t.items)}
        data = payload(site, t, answers=answers)
        photo = jpeg_with_gps((400, 300))
        assert user.id and site.id  # loaded before counting, as a request's user is
        with QueryCounter(_db.engine) as qc:
            insp, created = inspections.submit(data, by=user, photos=[("masks_mandatory", photo)])
            _db.session.commit()
        assert created and len(insp.answers) == n_items and len(insp.photos) == 1
        figures.append(qc.n)
        stmts.append(qc.stmts)
    assert figures[0] == figures[1] and figures[0] <= 20, (figures, "\n".join(
        f"{a[:90]!r:95} {b[:90]!r}" for a, b in __import__("itertools").zip_longest(*stmts, fillvalue="")))
    assert _db.session.scalar(select(func.count()).select_from(Answer)) == 17 + 17 + 77 + 77


# --- photos -----------------------------------------------------------------------------------------

def test_photo_is_reencoded_without_exif(app_ctx, app, tpl, site_factory, photo_store):
    site = site_factory()
    raw = jpeg_with_gps()
    assert b"PhoneMaker" in raw
    insp, _ = inspections.submit(payload(site, tpl), photos=[("masks_mandatory", raw)])
    _db.session.commit()
    (p,) = insp.photos
    with inspections.open_photo(p.sha256).body as body:  # as the photo page reads it, from either store
        data = body.read()
    assert hashlib.sha256(data).hexdigest() == p.sha256
    img = Image.open(io.BytesIO(data))
    assert img.format == "JPEG" and max(img.size) == 1600 and (p.width, p.height) == img.size
    assert not img.getexif() and b"PhoneMaker" not in data and b"Exif" not in data


def test_non_image_and_oversized_photos_are_refused(app_ctx, app, tpl, site_factory):
    site = site_factory()
    with pytest.raises(ServiceError) as exc:
        inspections.submit(payload(site, tpl), photos=[("masks_mandatory", b"%PDF-1.4 not a picture")])
    assert "이미지" in exc.value.errors["photos.masks_mandatory"]
    app.config["TRACKER_PHOTO_MAX_MB"] = 1
    big = io.BytesIO()
    Image.effect_noise((1400, 1400), 100).convert("RGB").save(big, format="PNG")
    assert len(big.getvalue()) > 1024 * 1024
    with pytest.raises(ServiceError) as exc:
        inspections.submit(payload(site, tpl), photos=[("masks_mandatory", big.getvalue())])
    assert "1MB" in exc.value.errors["photos.masks_mandatory"]
    _db.session.rollback()
    assert counts() == (0, 0, 0)
    upload = Path(app.config["TRACKER_UPLOAD_DIR"])
    assert not upload.exists() or not list(upload.glob("*.jpg"))


# --- pages ------------------------------------------------------------------------------------------

def form_fields(html: str) -> dict:
    return {k: re.search(rf'name="{k}" value="([^"]*)"', html).group(1)
            for k in ("client_uuid", "scan_token", "form_token")}


def test_qr_form_without_javascript(app, client, login, tpl, site_factory, photo_store):
    site = site_factory()
    login("inspector")
    page = client.get(f"/s/{site.qr_token}", follow_redirects=True)  # to the form, the scan signed in its URL
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'capture="environment"' in html and 'accept="image/*"' in html and "<script>" not in html
    # Grouped by category in the fixed order.
    heads = re.findall(r'<h2 class="cat-h">([^<]+)</h2>', html)
    assert heads == ["관리체계", "근무환경", "위생·방역", "건강관리", "확진자 대응"]
    f = form_fields(html)
    assert f["scan_token"]
    data = {"csrf_token": csrf_from(html), "mode": "onsite", **f}
    data.update({f"a-{i.key}": "yes" for i in tpl.items})
    data["a-masks_mandatory"] = "no"
    data["n-masks_mandatory"] = "마스크 미착용 3명"
    data["p-masks_mandatory"] = (io.BytesIO(jpeg_with_gps((800, 600))), "IMG_0001.JPG")
    resp = client.post(f"/inspect/sites/{site.id}", data=data, content_type="multipart/form-data")
    assert resp.status_code == 303
    again = client.post(f"/inspect/sites/{site.id}", data={**data, "p-masks_mandatory": (
        io.BytesIO(jpeg_with_gps((800, 600))), "IMG_0001.JPG")}, content_type="multipart/form-data")
    assert again.status_code == 303 and again.headers["Location"] == resp.headers["Location"]
    with app.app_context():
        assert counts() == (1, 17, 1)
        insp = _db.session.scalar(select(Inspection))
        assert insp.qr_scanned_at is not None and not insp.compliant
        sha = insp.photos[0].sha256
    result = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert result.index("근무 중 마스크 착용 의무화") < result.index("<h2>이행 항목")  # failed first
    assert "마스크 미착용 3명" in result
    photo = client.get(f"/photos/{sha}.jpg")
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"


def test_form_error_keeps_answers(app, client, login, tpl, site_factory):
    site = site_factory()
    login("inspector")
    html = client.get(f"/inspect/sites/{site.id}?mode=phone").get_data(as_text=True)
    assert "density_minimized" not in html and 'name="contact_name"' in html
    data = {"csrf_token": csrf_from(html), "mode": "phone", "client_uuid": form_fields(html)["client_uuid"],
            "form_token": form_fields(html)["form_token"],
            "contact_name": "박과장", "a-masks_mandatory": "no", "n-masks_mandatory": "확인 필요"}
    resp = client.post(f"/inspect/sites/{site.id}", data=data)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert 'id="a-masks_mandatory-no" name="a-masks_mandatory" value="no" required checked' in body
    assert "확인 필요" in body and "답하지 않았습니다" in body
    with app.app_context():
        assert counts() == (0, 0, 0)


def test_the_form_is_read_by_the_apis_schema_and_every_wrong_field_is_named(app, client, login, tpl, site_factory):
    """The page's fields go through the same schema as the API's JSON: a location the phone could not have sent
    and an over-long note are named with the missing answer, and nothing is saved."""
    site = site_factory()
    login("inspector")
    html = client.get(f"/inspect/sites/{site.id}").get_data(as_text=True)
    data = {"csrf_token": csrf_from(html), "mode": "onsite", "client_uuid": form_fields(html)["client_uuid"],
            "form_token": form_fields(html)["form_token"],
            "lat": "91.5", "lng": "", "note": "가" * 2001}
    data.update({f"a-{i.key}": "yes" for i in tpl.items if i.key != "ventilation"})
    resp = client.post(f"/inspect/sites/{site.id}", data=data)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "입력을 확인하세요: 3곳이 올바르지 않습니다." in body
    assert "위치 값 &#39;91.5&#39;이(가) 범위를 벗어났습니다" in body
    assert "전체 메모는 2000자를 넘을 수 없습니다" in body
    assert "답하지 않았습니다" in body
    with app.app_context():
        assert counts() == (0, 0, 0)


def test_bad_photo_on_the_form_says_so_in_korean(app, client, login, tpl, site_factory):
    site = site_factory()
    login("inspector")
    html = client.get(f"/inspect/sites/{site.id}").get_data(as_text=True)
    data = {"csrf_token": csrf_from(html), "mode": "onsite", "client_uuid": form_fields(html)["client_uuid"],
            "form_token": form_fields(html)["form_token"]}
    data.update({f"a-{i.key}": "yes" for i in tpl.items})
    data["p-office_clean"] = (io.BytesIO(b"MZ\x90\x00 an exe"), "virus.jpg")
    resp = client.post(f"/inspect/sites/{site.id}", data=data, content_type="multipart/form-data")
    assert resp.status_code == 422 and "이미지 파일이 아닙니다" in resp.get_data(as_text=True)
    with app.app_context():
        assert counts() == (0, 0, 0)


def test_expired_csrf_token_gives_the_form_back(app, client, login, tpl, site_factory, clock_at):
    start = datetime.now(timezone.utc)
    clock_at(start)
    site = site_factory()
    login("inspector")
    html = client.get(f"/inspect/sites/{site.id}").get_data(as_text=True)
    app.config["WTF_CSRF_TIME_LIMIT"] = 1
    clock_at(start + timedelta(seconds=2))
    data = {"csrf_token": csrf_from(html), "mode": "onsite", "client_uuid": form_fields(html)["client_uuid"],
            "form_token": form_fields(html)["form_token"]}
    data.update({f"a-{i.key}": "yes" for i in tpl.items})
    data["a-visitor_log"] = "na"
    data["n-visitor_log"] = "출입자 명부 대신 QR 체크인"
    resp = client.post(f"/inspect/sites/{site.id}", data=data)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "보안 토큰이 만료" in body
    assert 'id="a-visitor_log-na" name="a-visitor_log" value="na" required checked' in body
    assert "출입자 명부 대신 QR 체크인" in body and data["client_uuid"] in body
    app.config["WTF_CSRF_TIME_LIMIT"] = 3600
    resp = client.post(f"/inspect/sites/{site.id}", data={**data, "csrf_token": csrf_from(body)})
    assert resp.status_code == 303
    with app.app_context():
        assert counts() == (1, 17, 0)


def test_who_sees_what(app, tpl, site_factory, make_user, photo_store):
    site = site_factory()
    me, other, lead = make_user("inspector"), make_user("inspector"), make_user("lead")
    with app.app_context():
        insp, _ = inspections.submit(payload(site, tpl), by=me,
                                     photos=[("masks_mandatory", jpeg_with_gps((300, 200)))])
        _db.session.commit()
        sha = insp.photos[0].sha256
        loaded(insp)
    assert client_as(app, me).get(f"/inspections/{insp.id}").status_code == 200
    c_other = client_as(app, other)
    assert c_other.get(f"/inspections/{insp.id}").status_code == 403
    assert c_other.get(f"/photos/{sha}.jpg").status_code == 404
    c_lead = client_as(app, lead)
    assert c_lead.get(f"/inspections/{insp.id}").status_code == 200
    assert c_lead.get(f"/photos/{sha}.jpg").status_code == 200
    page = c_lead.get(f"/sites/{site.id}").get_data(as_text=True)
    assert "점검 이력" in page and f"/inspections/{insp.id}" in page
    anon = app.test_client()
    assert anon.get(f"/photos/{sha}.jpg").status_code == 302  # to the login page


def test_week_list_marks_done_and_follows_assignments(clock_at, app, tpl, site_factory, make_user):
    clock_at(datetime(2020, 3, 11, 3, 0, tzinfo=timezone.utc))
    with app.app_context():
        a = site_factory(name="여의도센터", dong="여의동")
        b = site_factory(name="당산센터", dong="당산1동")
        site_factory(name="문 닫은 센터", dong="여의동")
        closed = _db.session.scalar(select(sites.Site).where(sites.Site.name == "문 닫은 센터"))
        sites.set_status(closed, "closed")
        me = make_user("inspector")
        _db.session.commit()
        rows = inspections.week_sites(me)
        assert {s.name for s, _, _o in rows} == {"여의도센터", "당산센터"}  # no assignment: every active site
        _db.session.add(DongAssignment(dong="여의동", inspector_id=me.id))
        _db.session.commit()
        assert [(s.name, i) for s, i, _o in inspections.week_sites(me)] == [("여의도센터", None)]
        clock_at(datetime(2020, 3, 2, 3, 0, tzinfo=timezone.utc))  # an inspection last week does not count
        inspections.submit(payload(a, tpl), by=me)
        clock_at(datetime(2020, 3, 11, 3, 0, tzinfo=timezone.utc))
        _db.session.commit()
        assert inspections.week_sites(me)[0][1] is None
        insp, _ = inspections.submit(payload(a, tpl), by=me)
        _db.session.commit()
        assert inspections.week_sites(me) == [(a, insp.id, False)]
        loaded(me, b)
    html = client_as(app, me).get("/inspect").get_data(as_text=True)
    assert "여의도센터" in html and "점검 완료" in html and "당산센터" not in html and b.name not in html
    assert "1 / 1곳 완료" in html


def test_a_closed_sites_form_says_why_it_cannot_be_inspected(app, tpl, site_factory, make_user):
    with app.app_context():
        site = site_factory(name="문 닫은 센터")
        sites.set_status(site, "closed")
        _db.session.commit()
        loaded(site)
    me = make_user("inspector")
    c = client_as(app, me)
    for url in (f"/inspect/sites/{site.id}", f"/s/{site.qr_token}"):
        resp = c.get(url, follow_redirects=True)
        assert resp.status_code == 410, url
        assert "문 닫은 센터은(는) 폐업 처리되어 점검할 수 없습니다" in resp.get_data(as_text=True)


def test_site_page_shows_the_last_ten_inspections_and_links_to_all(clock_at, app, tpl, site_factory, make_user):
    site = site_factory(name="이력센터")
    me, lead = make_user("inspector"), make_user("lead")
    with app.app_context():
        for day in range(1, 13):
            clock_at(datetime(2020, 3, day, 3, 0, tzinfo=timezone.utc))
            inspections.submit(payload(site, tpl, mode="phone"), by=me)
        _db.session.commit()
    c = client_as(app, lead)
    page = c.get(f"/sites/{site.id}").get_data(as_text=True)
    assert page.count("/inspections/") == 10 and "2020-03-12" in page and "2020-03-02 " not in page
    assert "전체 12건 보기" in page
    # "점검하기" opens the form without pretending the QR was scanned
    assert f'href="/inspect/sites/{site.id}"' in page and f'href="/s/{site.qr_token}"' not in page
    page = c.get(f"/sites/{site.id}?history=all").get_data(as_text=True)
    assert page.count("/inspections/") == 12 and "전체 12건 보기" not in page
    # inspectors do not get the site's history
    assert "/inspections/" not in client_as(app, me).get(f"/sites/{site.id}").get_data(as_text=True)


def test_an_oversized_photo_on_the_plain_form_is_named_and_the_answers_stay(app, client, login, tpl, site_factory):
    """Defaults: a request may carry 40 MB, one photo 10 MB; so a too-big photo reaches the photo check."""
    assert app.config["MAX_CONTENT_LENGTH"] > app.config["TRACKER_PHOTO_MAX_MB"] * 1024 * 1024
    app.config["TRACKER_PHOTO_MAX_MB"] = 1
    site = site_factory()
    login("inspector")
    html = client.get(f"/inspect/sites/{site.id}").get_data(as_text=True)
    data = {"csrf_token": csrf_from(html), "mode": "onsite", "client_uuid": form_fields(html)["client_uuid"],
            "form_token": form_fields(html)["form_token"]}
    data.update({f"a-{i.key}": "yes" for i in tpl.items})
    data["a-ventilation"] = "no"
    data["n-ventilation"] = "창문 없음"
    big = io.BytesIO()
    Image.effect_noise((1400, 1400), 100).convert("RGB").save(big, format="PNG")
    data["p-ventilation"] = (io.BytesIO(big.getvalue()), "huge.png")
    resp = client.post(f"/inspect/sites/{site.id}", data=data, content_type="multipart/form-data")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "1MB" in body
    assert 'name="a-ventilation" value="no" required checked' in body and "창문 없음" in body
    with app.app_context():
        assert counts() == (0, 0, 0)


def test_week_list_follows_the_tasks_a_lead_assigns(clock_at, app, tpl, site_factory, make_user):
    """A task reassigned to me puts its site on my list (and off the other inspector's); a visit the risk asks for
    is marked."""
    from tracker.services import schedule
    clock_at(datetime(2020, 3, 9, 3, 0, tzinfo=timezone.utc))
    me, other = make_user("inspector"), make_user("inspector")
    names = lambda u: [s.name for s, _i, _o in inspections.week_sites(u)]  # noqa: E731
    with app.app_context():
        _db.session.add_all([DongAssignment(dong="여의동", inspector_id=me.id),
                             DongAssignment(dong="당산1동", inspector_id=other.id)])
        site_factory(name="내센터", dong="여의동", headcount=40)
        theirs = site_factory(name="남의센터", dong="당산1동", headcount=900)
        schedule.schedule_week()
        _db.session.commit()
        assert (names(me), names(other)) == (["내센터"], ["남의센터"])
        task = _db.session.scalar(select(Task).where(Task.site_id == theirs.id))
        schedule.reassign_task(task, me.id)
        _db.session.commit()
        assert names(me) == ["남의센터", "내센터"] and names(other) == []
        task.required_mode = "onsite"
        _db.session.commit()
        assert [(s.name, o) for s, _i, o in inspections.week_sites(me)] == [("남의센터", True), ("내센터", False)]
    html = client_as(app, me).get("/inspect").get_data(as_text=True)
    assert html.count("현장 방문 필요") == 1
    # a site registered mid-week, before any task, is on the list of its dong's inspector
    with app.app_context():
        site_factory(name="새센터", dong="여의동")
        _db.session.commit()
        assert "새센터" in names(me)


# Pillow warns as it reads the header of so large an image; the service then refuses it before decoding.
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_a_decompression_bomb_is_refused_before_it_is_decoded(app_ctx, app, tpl, site_factory):
    """A 13,000 × 13,000 one-bit PNG is a few kilobytes on the wire and a gigabyte once decoded."""
    site = site_factory()
    bomb = io.BytesIO()
    Image.new("1", (13000, 13000)).save(bomb, format="PNG")
    assert len(bomb.getvalue()) < 100_000
    with pytest.raises(ServiceError) as exc:
        inspections.submit(payload(site, tpl), photos=[("masks_mandatory", bomb.getvalue())])
    assert "화소" in exc.value.errors["photos.masks_mandatory"]
    _db.session.rollback()
    assert counts() == (0, 0, 0)


# --- audit of issue 3: modes the template does not allow, result order, the week list's links and filter ---------

def onsite_only_template():
    """A published template whose every item is on-site only: nothing can be judged by phone."""
    items = [dict(it, modes=["onsite"]) for it in checklist.default_items()]
    t = checklist.publish("현장 전용", items)
    _db.session.commit()
    return t


def test_a_mode_without_items_is_refused_and_nothing_is_saved(app_ctx, tpl, site_factory):
    onsite_only_template()
    site = site_factory()
    with pytest.raises(ServiceError) as exc:
        inspections.submit({"site_id": site.id, "mode": "phone", "client_uuid": str(uuid.uuid4()),
                            "contact_name": "김담당", "answers": {}})
    assert exc.value.status == 422 and set(exc.value.errors) == {"mode"}
    assert "전화 모니터링" in exc.value.errors["mode"]
    _db.session.rollback()
    assert counts() == (0, 0, 0)
    insp, created = inspections.submit(payload(site, checklist.current(), "onsite"))  # on site still works
    assert created and insp.yes_count == 17


def test_a_mode_without_items_is_not_offered(app, tpl, site_factory, make_user):
    site = site_factory(name="현장전용센터")
    me = make_user("inspector")
    c = client_as(app, me)
    assert f"/inspect/sites/{site.id}?mode=phone" in c.get("/inspect").get_data(as_text=True)
    with app.app_context():
        onsite_only_template()
    home = c.get("/inspect").get_data(as_text=True)
    assert f"/inspect/sites/{site.id}?mode=onsite" in home and "mode=phone" not in home
    form = c.get(f"/inspect/sites/{site.id}?mode=phone").get_data(as_text=True)
    assert 'name="mode" value="onsite"' in form and "전화 모니터링으로 바꾸기" not in form
    assert form.count('<fieldset class="q') == 17


def test_result_page_puts_critical_failures_first(app, tpl, site_factory, make_user):
    """fixed_seating (not critical) comes before case_reporting (critical) on the form; on the result page the
    critical failure is on top, and the passed item is in its own list."""
    site, me = site_factory(), make_user("inspector")
    answers = all_answers(tpl, "onsite", "na", fixed_seating="no", case_reporting="no", masks_mandatory="yes")
    with app.app_context():
        insp, _ = inspections.submit(payload(site, tpl, answers=answers), by=me)
        _db.session.commit()
        loaded(insp)
    html = client_as(app, me).get(f"/inspections/{insp.id}").get_data(as_text=True)
    failed = html[html.index("<h2>미이행 항목"):html.index("<h2>이행 항목")]
    crit, plain = failed.find("확진자·의심자 발생 시 보고체계 마련"), failed.find("개인별 근무 좌석 고정 배치")
    assert 0 <= crit < plain, failed
    assert failed.count('class="res no crit"') == 1 and failed.count('class="res no"') == 1
    passed = html[html.index("<h2>이행 항목"):html.index("<h2>해당없음")]
    assert "근무 중 마스크 착용 의무화" in passed and "보고체계" not in passed
    assert "부적합: 중요 항목 1개 미이행" in html


def test_week_list_links_only_to_inspections_the_user_may_open(clock_at, app, tpl, site_factory, make_user):
    clock_at(datetime(2020, 3, 11, 3, 0, tzinfo=timezone.utc))
    mine, theirs, todo = (site_factory(name="내가한센터"), site_factory(name="남이한센터"),
                          site_factory(name="아직센터"))
    me, other, lead = make_user("inspector"), make_user("inspector"), make_user("lead")
    with app.app_context():
        my_insp, _ = inspections.submit(payload(mine, tpl), by=me)
        their_insp, _ = inspections.submit(payload(theirs, tpl), by=other)
        _db.session.commit()
        loaded(my_insp, their_insp)
    c = client_as(app, me)
    html = c.get("/inspect").get_data(as_text=True)
    assert f"/inspections/{my_insp.id}" in html and f"/inspections/{their_insp.id}" not in html
    assert "점검 완료 (다른 점검원)" in html and "2 / 3곳 완료" in html
    for href in re.findall(r'href="(/inspections/\d+)"', html):
        assert c.get(href).status_code == 200, href  # every link on the list opens
    lead_html = client_as(app, lead).get("/inspect").get_data(as_text=True)
    assert f"/inspections/{their_insp.id}" in lead_html and f"/inspections/{my_insp.id}" in lead_html
    # 미점검만: only the sites still to do, without JavaScript; the tally still counts the whole week.
    todo_html = c.get("/inspect?todo=1").get_data(as_text=True)
    assert "아직센터" in todo_html and "내가한센터" not in todo_html and "남이한센터" not in todo_html
    assert "2 / 3곳 완료" in todo_html and 'href="/inspect?todo=1" aria-current="page"' in todo_html
    with app.app_context():
        inspections.submit(payload(todo, tpl), by=me)
        _db.session.commit()
    assert "모두 점검했습니다" in c.get("/inspect?todo=1").get_data(as_text=True)


def test_phone_form_leaves_the_contact_and_call_time_to_the_inspector(app, tpl, site_factory, make_user):
    site = site_factory(manager_name="박담당")
    c = client_as(app, make_user("inspector"))
    html = c.get(f"/inspect/sites/{site.id}?mode=phone").get_data(as_text=True)
    assert re.search(r'id="contact_name"[^>]*value=""', html) and re.search(r'id="called_at"[^>]*value=""', html)
    # Offered, one tap away, not assumed; fetched live, so that a form kept on the phone names no one.
    assert "박담당" not in html and 'id="contact-suggest"' in html
    assert c.get(f"/inspect/sites/{site.id}/contact").get_json() == {"name": "박담당", "phone": ""}
