"""The inspection form in Debian's Chromium at phone size: QR to result, offline and back, double tap, reload.

These tests fail (never skip) when Chromium is missing: `make test` installs it.
"""
import io
import os
import re
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from tests.conftest import PASSWORD, close_context
from tracker.extensions import db as _db
from tracker.models import Answer, Inspection, Photo
from tracker.services import checklist, inspections

SHOTS = os.environ.get("TRACKER_SHOTS_DIR")  # set it to keep screenshots of the form and the result
# The test reads the database in an app context of its own; the live server's requests, in their own threads,
# never see it.
pytestmark = pytest.mark.usefixtures("app_ctx")




@pytest.fixture
def new_phone(browser, live_server, default_checklist, make_user):
    """Make a logged-in inspector's phone: (page, context, base url, user); context options as given."""
    contexts = []

    def make(user=None, **ctx_options):
        user = user or make_user("inspector")
        ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                  locale="ko-KR", **ctx_options)
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(15000)
        log_in(page, live_server, user)
        return page, ctx, live_server, user
    yield make
    for ctx in contexts:
        close_context(ctx)


@pytest.fixture
def phone(new_phone):
    """A logged-in inspector's phone: (page, context, base url)."""
    page, ctx, base, _user = new_phone()
    return page, ctx, base


def log_in(page, base, user, then="/inspect"):
    page.goto(f"{base}/login")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{then}")


def saved():
    _db.session.rollback()  # see the server thread's commits
    return (_db.session.scalar(select(func.count()).select_from(Inspection)),
            _db.session.scalar(select(func.count()).select_from(Answer)))


QUEUE_COUNT = """() => new Promise((ok, fail) => { const r = indexedDB.open('tracker');
    r.onerror = () => fail(r.error);
    r.onsuccess = () => { const d = r.result;
      if (!d.objectStoreNames.contains('queue')) { d.close(); ok(0); return; }
      const q = d.transaction('queue').objectStore('queue').count();
      q.onsuccess = () => { d.close(); ok(q.result); }; }; })"""


def queue_count(page) -> int:
    """Submissions waiting in the phone's IndexedDB queue."""
    return page.evaluate(QUEUE_COUNT)


def wait_until(check, timeout=15.0):
    import time
    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.1)


def answer_all(page, value="yes", skip=()):
    for fs in page.locator("fieldset.q").all():
        key = fs.get_attribute("data-key")
        if key not in skip:
            page.locator(f"label[for='a-{key}-{value}']").tap()


def shot(page, name):
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / name), full_page=True)


def big_jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (3200, 2400), (40, 120, 200)).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def test_qr_to_result_saves_one(app, phone, site_factory):
    """A photo of 3200 px reaches the server at about 1600 px: the phone shrinks it. The server is set to allow
    4000 px here, so its own re-encoding (TRACKER_PHOTO_MAX_PX, 1600 by default) cannot be what made it 1600."""
    app.config["TRACKER_PHOTO_MAX_PX"] = 4000
    assert inspections.prepare_photo(big_jpeg(), "masks_mandatory")["width"] == 3200  # the server alone keeps it
    page, _ctx, base = phone
    site = site_factory(name="여의도 고객센터")
    page.goto(f"{base}/s/{site.qr_token}")
    assert page.locator("h1").inner_text() == "여의도 고객센터"
    assert page.locator("fieldset.q").count() == 17
    answer_all(page)
    page.locator("label[for='a-masks_mandatory-no']").tap()
    page.locator("#q-masks_mandatory textarea").fill("상담석 일부 마스크 미착용")
    page.locator("input[name='p-masks_mandatory']").set_input_files(
        files=[{"name": "big.jpg", "mimeType": "image/jpeg", "buffer": big_jpeg()}])
    page.wait_for_function("() => document.querySelector('#q-masks_mandatory .photo-info').textContent.includes('KB')")
    assert page.locator("#insp-progress").inner_text() == "17 / 17"
    shot(page, "inspect-form-390.png")
    page.locator("#insp-submit").tap()
    page.wait_for_url("**/inspections/*")
    assert page.locator(".badge.bad").first.inner_text().startswith("부적합")
    shot(page, "inspect-result-390.png")
    assert saved() == (1, 17)
    insp = _db.session.scalar(select(Inspection))
    assert insp.qr_scanned_at is not None and insp.mode == "onsite" and not insp.compliant
    photo = _db.session.scalar(select(Photo))
    assert photo.item_key == "masks_mandatory" and max(photo.width, photo.height) == 1600


def test_offline_submit_is_kept_and_sent_once(phone, site_factory):
    page, ctx, base = phone
    site = site_factory()
    page.goto(f"{base}/inspect/sites/{site.id}?mode=onsite")
    answer_all(page, "yes")
    ctx.set_offline(True)
    page.locator("#insp-submit").tap()
    status = page.locator("#insp-status")
    status.wait_for(state="visible")
    assert "이 휴대폰에 보관했습니다" in status.inner_text()
    assert saved() == (0, 0)
    assert queue_count(page) == 1
    ctx.set_offline(False)  # the online event sends the queue
    page.wait_for_url("**/inspections/*")
    assert saved() == (1, 17)
    page.goto(f"{base}/inspect")  # loading a page replays the queue again: nothing left, nothing doubled
    page.wait_for_timeout(500)
    assert saved() == (1, 17)
    assert page.locator(".site-row.done").count() == 1
    shot(page, "inspect-home-390.png")


def test_queue_sent_on_page_load(phone, site_factory):
    """Offline submit, page closed; the next page load (online) sends it."""
    page, ctx, base = phone
    site = site_factory()
    page.goto(f"{base}/inspect/sites/{site.id}?mode=phone")
    assert page.locator("fieldset.q").count() == 12
    page.fill("#contact_name", "김팀장")
    answer_all(page, "na")
    ctx.set_offline(True)
    page.locator("#insp-submit").tap()
    page.locator("#insp-status").wait_for(state="visible")
    assert queue_count(page) == 1
    page.goto("about:blank")
    ctx.set_offline(False)
    assert saved() == (0, 0)
    page.goto(f"{base}/inspect")
    wait_until(lambda: queue_count(page) == 0)
    assert saved() == (1, 12)
    insp = _db.session.scalar(select(Inspection))
    assert insp.mode == "phone" and insp.contact_name == "김팀장" and insp.na_count == 12


def test_double_tap_saves_one(phone, site_factory):
    page, _ctx, base = phone
    site = site_factory()
    page.goto(f"{base}/s/{site.qr_token}")
    answer_all(page)
    # Two taps and a scripted second submit, as fast as a nervous thumb.
    page.evaluate("() => { const f = document.getElementById('insp'); f.requestSubmit(); f.requestSubmit(); }")
    page.locator("#insp-submit").dblclick(force=True)
    page.wait_for_url("**/inspections/*")
    page.wait_for_timeout(300)
    assert saved() == (1, 17)


def test_reload_keeps_answers(phone, site_factory):
    page, _ctx, base = phone
    site = site_factory()
    page.goto(f"{base}/s/{site.qr_token}")
    uuid_before = page.input_value("input[name=client_uuid]")
    page.locator("label[for='a-officer_designated-yes']").tap()
    page.locator("label[for='a-disinfection-no']").tap()
    page.locator("#q-disinfection textarea").fill("소독 대장 없음")
    page.reload()
    assert page.input_value("input[name=client_uuid]") == uuid_before
    assert page.is_checked("#a-officer_designated-yes") and page.is_checked("#a-disinfection-no")
    assert page.input_value("#n-disinfection") == "소독 대장 없음"
    assert "불러왔습니다" in page.locator("#insp-status").inner_text()
    answer_all(page, "yes", skip=("officer_designated", "disinfection"))
    page.locator("#insp-submit").tap()
    page.wait_for_url("**/inspections/*")
    assert saved() == (1, 17)
    insp = _db.session.scalar(select(Inspection))
    assert insp.client_uuid == uuid_before
    ans = {a.item_key: a for a in insp.answers}
    assert ans["disinfection"].value == "no" and ans["disinfection"].note == "소독 대장 없음"
    # The draft is gone: opening the form again starts a new inspection.
    page.goto(f"{base}/s/{site.qr_token}")
    assert page.input_value("input[name=client_uuid]") != uuid_before
    assert not page.is_checked("#a-officer_designated-yes")


def test_unanswered_items_block_submit(phone, site_factory):
    page, _ctx, base = phone
    site = site_factory()
    page.goto(f"{base}/inspect/sites/{site.id}")
    answer_all(page, "yes", skip=("case_reporting",))
    page.evaluate("() => document.getElementById('insp').requestSubmit()")
    assert page.locator("#q-case_reporting.has-error").count() == 1
    assert "답하지 않은 항목" in page.locator("#insp-status").inner_text()
    assert saved() == (0, 0)


def test_a_queued_inspection_the_server_refuses_is_shown_not_hidden(phone, site_factory):
    """Queued offline; the site is closed meanwhile; back online the server refuses it (422): the inspector is told
    which site and why, instead of being promised an automatic send that will never come."""
    from tracker.services import sites
    page, ctx, base = phone
    site = site_factory(name="곧닫는센터")
    page.goto(f"{base}/inspect/sites/{site.id}?mode=onsite")
    answer_all(page, "yes")
    ctx.set_offline(True)
    page.locator("#insp-submit").tap()
    page.locator("#insp-status").wait_for(state="visible")
    page.goto("about:blank")
    sites.set_status(site, "closed")
    _db.session.commit()
    ctx.set_offline(False)
    page.goto(f"{base}/inspect")
    note = page.locator("#insp-queue")
    wait_until(lambda: "서버가 받지 않았습니다" in (note.inner_text() if note.is_visible() else ""))
    text = note.inner_text()
    assert "곧닫는센터" in text and "폐업" in text and "자동으로 보냅니다" not in text
    assert queue_count(page) == 1 and saved() == (0, 0)


# --- nothing lost: expired login, a proxy's 502, a refusal ----------------------------------------------------

def test_an_expired_login_keeps_the_inspection_and_sends_it_after_logging_in(new_phone, site_factory):
    """The session dies in the middle of a visit (cookies gone): submit keeps the inspection on the phone, says to
    log in again, and logging in sends it, exactly once."""
    page, ctx, base, user = new_phone()
    site = site_factory(name="로그인만료센터")
    page.goto(f"{base}/s/{site.qr_token}")
    uuid = page.input_value("input[name=client_uuid]")
    answer_all(page)
    page.locator("label[for='a-ventilation-no']").tap()
    ctx.clear_cookies()
    page.locator("#insp-submit").tap()
    status = page.locator("#insp-status")
    page.wait_for_function("() => document.getElementById('insp-status').textContent.includes('다시 로그인')")
    assert "보관했습니다" in status.inner_text()
    assert queue_count(page) == 1 and saved() == (0, 0)
    status.locator("a").tap()  # "다시 로그인"
    page.wait_for_url(re.compile(r"/login\?next="))
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/inspect")
    wait_until(lambda: saved() == (1, 17))
    page.locator("#insp-status").wait_for(state="visible")
    assert "보냈습니다" in page.locator("#insp-status").inner_text()
    insp = _db.session.scalar(select(Inspection))
    assert insp.client_uuid == uuid and insp.inspector_id == user.id and insp.no_count == 1
    assert insp.qr_scanned_at is not None  # the scan proof travelled with it
    wait_until(lambda: queue_count(page) == 0)
    page.reload()
    page.wait_for_timeout(500)
    assert saved() == (1, 17) and queue_count(page) == 0


def test_a_502_on_the_way_keeps_the_inspection_and_sends_it_later_once(phone, site_factory):
    """A proxy outside the building answers 502 (an HTML page, not the app's JSON): the inspection is kept, the
    phone says it will try again, and it does, by itself, saving one record."""
    page, _ctx, base = phone
    site = site_factory()
    posts = []

    def gateway(route):
        if route.request.method == "POST":
            posts.append(route.request.url)
            if len(posts) == 1:
                route.fulfill(status=502, content_type="text/html", body="<html><h1>502 Bad Gateway</h1></html>")
                return
        route.continue_()

    page.route(f"{base}/inspect/sites/{site.id}", gateway)
    page.goto(f"{base}/inspect/sites/{site.id}?mode=onsite")
    answer_all(page)
    page.locator("#insp-submit").tap()
    page.wait_for_function("() => document.getElementById('insp-status').textContent.includes('다시 보냅니다')")
    assert "로그인" not in page.locator("#insp-status").inner_text()  # a 502 is not an expired login
    assert saved() == (0, 0) and queue_count(page) == 1
    page.wait_for_url("**/inspections/*", timeout=20000)  # the retry, a few seconds later
    assert saved() == (1, 17) and len(posts) == 2
    page.goto(f"{base}/inspect")
    page.wait_for_timeout(800)
    assert saved() == (1, 17) and queue_count(page) == 0 and len(posts) == 2


def noisy_jpeg(size=(2400, 1800)) -> bytes:
    """A photo that stays large after shrinking (noise does not compress)."""
    buf = io.BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def test_a_413_is_a_refusal_with_its_reason_and_the_answers_stay(app, phone, site_factory):
    """The request is over the server's size limit (413, an HTML error page): the phone says why instead of
    claiming an expired login, keeps the answers, and a second try without the photo is saved."""
    app.config["MAX_CONTENT_LENGTH"] = 200 * 1024
    page, _ctx, base = phone
    site = site_factory()
    page.goto(f"{base}/inspect/sites/{site.id}?mode=onsite")
    answer_all(page)
    page.locator("#q-office_clean summary").tap()
    page.locator("input[name='p-office_clean']").set_input_files(
        files=[{"name": "noise.jpg", "mimeType": "image/jpeg", "buffer": noisy_jpeg()}])
    page.wait_for_function("() => document.querySelector('#q-office_clean .photo-info').textContent.includes('KB')")
    page.locator("#insp-submit").tap()
    page.wait_for_function("() => document.getElementById('insp-status').className.includes('error')")
    text = page.locator("#insp-status").inner_text()
    assert "사진이 너무 커서" in text and "로그인" not in text
    assert saved() == (0, 0)
    assert page.is_checked("#a-office_clean-yes") and page.locator("#insp-submit").is_enabled()
    page.locator("input[name='p-office_clean']").set_input_files([])
    page.locator("#insp-submit").tap()
    page.wait_for_url("**/inspections/*")
    assert saved() == (1, 17)
    page.goto(f"{base}/inspect")
    page.wait_for_timeout(500)
    assert queue_count(page) == 0 and not page.locator("#insp-queue").is_visible()


def test_a_reload_keeps_the_shrunk_photos(app, phone, site_factory):
    app.config["TRACKER_PHOTO_MAX_PX"] = 4000  # so that only the phone can have made it 1600 px
    page, _ctx, base = phone
    site = site_factory()
    page.goto(f"{base}/s/{site.qr_token}")
    page.locator("label[for='a-disinfection-no']").tap()
    page.locator("input[name='p-disinfection']").set_input_files(
        files=[{"name": "log.jpg", "mimeType": "image/jpeg", "buffer": big_jpeg()}])
    page.wait_for_function("() => document.querySelector('#q-disinfection .photo-info').textContent.includes('KB')")
    page.reload()
    page.wait_for_function("() => document.querySelector('#q-disinfection .photo-info').textContent.includes('KB')")
    assert "보관된 사진" in page.locator("#q-disinfection .photo-info").inner_text()
    assert page.locator("#q-disinfection details").get_attribute("open") is not None
    answer_all(page, "yes", skip=("disinfection",))
    page.locator("#insp-submit").tap()
    page.wait_for_url("**/inspections/*")
    assert saved() == (1, 17)
    photo = _db.session.scalar(select(Photo))
    assert photo.item_key == "disinfection" and (photo.width, photo.height) == (1600, 1200)
    # Sent: the kept photo is gone with the draft, and a new form starts without it.
    page.goto(f"{base}/s/{site.qr_token}")
    page.wait_for_timeout(300)
    assert page.locator("#q-disinfection .photo-info").inner_text() == ""


# --- GPS: asked for after the inspector's consent (test_browser_consent.py), never required ---------------------

def test_gps_granted_is_saved(new_phone, site_factory):
    page, _ctx, base, _u = new_phone(geolocation={"latitude": 37.521912, "longitude": 126.924561},
                                     permissions=["geolocation"])
    site = site_factory()
    page.goto(f"{base}/s/{site.qr_token}")
    page.locator("#consent button[data-answer=given]").tap()
    page.wait_for_function("() => document.getElementById('gps-line').textContent === '위치 확인됨'")
    answer_all(page)
    page.locator("#insp-submit").tap()
    page.wait_for_url("**/inspections/*")
    insp = _db.session.scalar(select(Inspection))
    assert (insp.lat, insp.lng) == (37.521912, 126.924561)
    assert "37.52191" in page.locator(".result-head").inner_text()


def test_gps_denied_still_saves(new_phone, site_factory):
    page, ctx, base, _u = new_phone(geolocation={"latitude": 37.5, "longitude": 126.9})
    ctx.clear_permissions()  # not granted: the browser refuses the position
    site = site_factory()
    page.goto(f"{base}/s/{site.qr_token}")
    page.locator("#consent button[data-answer=given]").tap()  # consented, but the browser refuses
    page.wait_for_function("() => document.getElementById('gps-line').textContent.includes('위치 없이')")
    answer_all(page)
    page.locator("#insp-submit").tap()
    page.wait_for_url("**/inspections/*")
    insp = _db.session.scalar(select(Inspection))
    assert saved() == (1, 17) and insp.lat is None and insp.lng is None and insp.qr_scanned_at is not None


# --- the phone mode's fields -----------------------------------------------------------------------------------

def test_phone_mode_asks_who_was_called_and_times_the_call_at_submit(phone, site_factory):
    """The person spoken to is not assumed to be the registered manager (one tap offers that name); an untouched
    call time is the moment of the tap on 제출, even when the network sends it later."""
    from datetime import datetime, timedelta, timezone
    page, ctx, base = phone
    site = site_factory(manager_name="김방역", manager_phone="02-123-4567")
    page.goto(f"{base}/inspect/sites/{site.id}?mode=phone")
    assert page.input_value("#contact_name") == "" and page.input_value("#called_at") == ""
    page.locator("#contact-suggest").tap()
    assert page.input_value("#contact_name") == "김방역"
    answer_all(page)
    shot(page, "inspect-form-phone-390.png")
    ctx.set_offline(True)
    tapped = datetime.now(timezone.utc)
    page.locator("#insp-submit").tap()
    page.locator("#insp-status").wait_for(state="visible")
    page.wait_for_timeout(3000)
    ctx.set_offline(False)
    page.wait_for_url("**/inspections/*")
    insp = _db.session.scalar(select(Inspection))
    assert insp.contact_name == "김방역"
    assert abs(insp.called_at - tapped) < timedelta(seconds=2)
    assert insp.submitted_at - tapped > timedelta(seconds=2.5)  # it did arrive later


# --- thumbs: tap targets, critical items, the camera button -----------------------------------------------------

def test_form_controls_fit_a_thumb(phone, site_factory):
    page, _ctx, base = phone
    site = site_factory()
    refused = []  # what the page's Content-Security-Policy blocked, if anything
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    icons = []
    page.on("response", lambda r: icons.append(r.status) if re.search(r"/camera\.[0-9a-f]{12}\.svg$", r.url) else None)
    page.goto(f"{base}/s/{site.qr_token}")
    switch = page.locator("a.mode-switch")
    assert switch.inner_text() == "전화 모니터링으로 바꾸기"
    box = switch.bounding_box()
    first_answer = page.locator("fieldset.q .yn label").first.bounding_box()
    assert box["height"] >= 44 and box["width"] >= 300
    assert first_answer["y"] - (box["y"] + box["height"]) >= 40  # not right above the answers
    # A critical item's buttons line up with the others'.
    crit = page.locator("label[for='a-officer_designated-yes']").bounding_box()      # critical
    plain = page.locator("label[for='a-visitor_log-yes']").bounding_box()            # not critical
    assert (crit["x"], crit["width"]) == (plain["x"], plain["width"])
    # The photo control: a big labelled camera button; the raw file input is out of sight but still works.
    page.locator("#q-visitor_log summary").tap()
    label = page.locator("#q-visitor_log label.photo-btn")
    assert label.inner_text().strip() == "사진 찍기" and label.bounding_box()["height"] >= 48
    assert page.locator("input[name='p-visitor_log']").bounding_box()["width"] <= 1
    with page.expect_file_chooser() as chooser:
        label.tap()
    assert chooser.value.element.get_attribute("name") == "p-visitor_log"
    page.wait_for_timeout(200)
    assert icons == [200] and refused == []  # the camera icon is drawn, and nothing was blocked
    page.locator("#q-visitor_log summary").tap()
    shot(page, "inspect-form-onsite-390.png")


# --- the home page: QR scan ------------------------------------------------------------------------------------

def test_qr_scan_without_barcode_detector_says_what_to_do(phone):
    page, _ctx, base = phone
    assert page.evaluate("() => 'BarcodeDetector' in window") is False  # Chromium on Linux has none
    page.locator("#qr-scan").tap()
    note = page.locator("#qr-note")
    note.wait_for(state="visible")
    assert "카메라 앱" in note.inner_text() and "코드를 입력" in note.inner_text()


def test_qr_scan_with_barcode_detector_opens_the_sites_form(new_phone, site_factory):
    """Where the browser has BarcodeDetector (Android Chrome), the button reads the code from the camera. Chromium
    on Linux has no detector, so the test gives the page one that reports the code a camera would see: it stands
    in for the phone's browser, not for anything of ours. The camera is Chromium's fake device."""
    site = site_factory(name="스캔센터")
    page, _ctx, base, _u = new_phone(permissions=["camera"])
    code = f"https://tracker.district.example/s/{site.qr_token}"
    page.add_init_script(f"""window.BarcodeDetector = class {{
        constructor(o) {{ this.formats = o.formats; }}
        async detect(video) {{ return video.srcObject ? [{{rawValue: "{code}"}}] : []; }}
    }};""")
    page.goto(f"{base}/inspect")
    page.locator("#qr-scan").tap()
    page.wait_for_url(f"{base}/inspect/sites/{site.id}?mode=onsite&scan=*")  # /s/<code> signs the scan into it
    assert page.locator("h1").inner_text() == "스캔센터" and "QR 스캔 확인" in page.locator(".mode-line").inner_text()


def test_a_refused_kept_inspection_comes_back_into_its_form(phone, site_factory):
    """Kept offline; meanwhile the admin publishes a checklist with one more item, so the server refuses the kept
    copy (an item unanswered). Opening the site's form again brings every answer and note back, under the same
    client_uuid, and once the new item is answered it is saved, once."""
    page, ctx, base = phone
    site = site_factory(name="판바뀐센터")
    page.goto(f"{base}/inspect/sites/{site.id}?mode=onsite")
    uuid = page.input_value("input[name=client_uuid]")
    answer_all(page)
    page.locator("label[for='a-ventilation-no']").tap()
    page.locator("#n-ventilation").fill("창문 없음")
    ctx.set_offline(True)
    page.locator("#insp-submit").tap()
    page.locator("#insp-status").wait_for(state="visible")
    page.goto("about:blank")
    items = checklist.default_items() + [{"key": "canteen_zigzag", "label_ko": "구내식당 지그재그 앉기",
                                          "category": "workspace", "critical": True, "modes": ["onsite"]}]
    checklist.publish("2판", items)
    _db.session.commit()
    ctx.set_offline(False)
    page.goto(f"{base}/inspect")
    note = page.locator("#insp-queue")
    wait_until(lambda: "판바뀐센터" in (note.inner_text() if note.is_visible() else ""))
    assert "구내식당 지그재그 앉기" in note.inner_text()  # the server's reason
    page.goto(f"{base}/inspect/sites/{site.id}?mode=onsite")
    # The phone first shows the form it kept, then the new checklist as soon as its service worker has it.
    page.wait_for_function("() => document.getElementById('insp-progress').textContent === '17 / 18' && "
                           "document.getElementById('insp-status').textContent.includes('불러왔습니다')")
    assert page.input_value("input[name=client_uuid]") == uuid
    assert page.is_checked("#a-ventilation-no") and page.input_value("#n-ventilation") == "창문 없음"
    assert page.locator("#insp-progress").inner_text() == "17 / 18"
    page.locator("label[for='a-canteen_zigzag-yes']").tap()
    page.locator("#insp-submit").tap()
    page.wait_for_url("**/inspections/*")
    assert saved() == (1, 18)
    insp = _db.session.scalar(select(Inspection))
    assert insp.client_uuid == uuid and {a.item_key: a.note for a in insp.answers}["ventilation"] == "창문 없음"
    page.goto(f"{base}/inspect")
    page.wait_for_timeout(500)
    assert queue_count(page) == 0 and not page.locator("#insp-queue").is_visible()
