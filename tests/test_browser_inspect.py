"""The inspection form in Debian's Chromium at phone size: QR to result, offline and back, double tap, reload.

These tests fail (never skip) when Chromium is missing: `make test` installs it.
"""
import io
import os
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from tests.conftest import PASSWORD
from tracker.extensions import db as _db
from tracker.models import Answer, Inspection, Photo
from tracker.services import checklist

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
SHOTS = os.environ.get("TRACKER_SHOTS_DIR")  # set it to keep screenshots of the form and the result


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (make chromium); never `playwright install`")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def phone(browser, live_server, db, make_user):
    """A logged-in inspector's phone: (page, context, base url)."""
    checklist.ensure_default()
    db.session.commit()
    user = make_user("inspector")
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                              locale="ko-KR")
    page = ctx.new_page()
    page.set_default_timeout(15000)
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/inspect")
    yield page, ctx, live_server
    ctx.close()


def saved():
    _db.session.rollback()  # see the server thread's commits
    return (_db.session.scalar(select(func.count()).select_from(Inspection)),
            _db.session.scalar(select(func.count()).select_from(Answer)))


QUEUE_COUNT = """() => new Promise(ok => { const r = indexedDB.open('tracker', 1);
    r.onupgradeneeded = () => r.result.createObjectStore('queue', {keyPath: 'uuid'});
    r.onsuccess = () => { const q = r.result.transaction('queue').objectStore('queue').count();
    q.onsuccess = () => ok(q.result); }; })"""


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


def test_qr_to_result_saves_one(phone, site_factory):
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
