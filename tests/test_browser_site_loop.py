"""The site's loop at phone size in Debian's Chromium (issue 16): the officer signs on the inspector's phone, then
opens the reply link from the notice, reports the action with a photo, and a lead accepts it."""
import io
import os
import re
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select

from tests.conftest import close_context
from tests.test_browser_inspect import answer_all, log_in, new_phone  # noqa: F401 (new_phone: a fixture)
from tracker import jobs
from tracker.extensions import db as _db
from tracker.models import Action, Inspection

pytestmark = pytest.mark.usefixtures("app_ctx")
SHOTS = os.environ.get("TRACKER_SHOTS")


def shot(page, name):
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / name), full_page=True)


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (1200, 900), (40, 140, 60)).save(buf, format="JPEG")
    return buf.getvalue()


def test_sign_on_site_then_report_by_link_and_a_lead_accepts(app, browser, new_phone, site_factory,  # noqa: F811
                                                            make_user, smtp_server):
    app.config["TRACKER_NOTICE_HOLD_MINUTES"] = 0
    site = site_factory(name="여의도 고객센터", manager_email="officer@yeouido.example")
    page, _ctx, base, _user = new_phone()
    page.goto(f"{base}/s/{site.qr_token}")
    answer_all(page)
    page.locator("label[for='a-masks_mandatory-no']").tap()
    pad = page.locator("#sig-pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + box["height"] * 0.7)
    page.mouse.down()
    for i in range(1, 12):
        page.mouse.move(box["x"] + 20 + i * (box["width"] - 40) / 11, box["y"] + box["height"] * (0.3 + 0.4 * (i % 2)))
    page.mouse.up()
    assert page.locator("#sig-data").input_value().startswith("data:image/png;base64,")
    shot(page, "signature-390.png")
    page.locator("#insp-submit").tap()
    page.wait_for_url("**/inspections/*")
    assert page.locator("img.signature").is_visible()
    shot(page, "result-notice-390.png")
    _db.session.rollback()
    assert _db.session.scalar(select(Inspection.signature_sha256))
    # The notice leaves (no hold here); the officer opens its link on a phone with no account.
    assert jobs.send_due_mail()["sent"] == 1
    body = smtp_server.messages[0].get_body(("plain",)).get_content()
    link = re.search(r"(http://127\.0\.0\.1:\d+/r/\S+)", body).group(1)
    officer = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                  locale="ko-KR").new_page()
    officer.goto(link)
    assert "여의도 고객센터" in officer.locator("h1").inner_text()
    officer.locator("textarea[name=note]").first.fill("상담석마다 마스크 착용 안내문을 붙이고 매시간 확인합니다.")
    officer.locator("input[name=photo]").first.set_input_files(
        files=[{"name": "fix.jpg", "mimeType": "image/jpeg", "buffer": _jpeg()}])
    officer.locator("form button[type=submit]").first.tap()
    officer.wait_for_load_state()
    assert officer.locator(".badge.ok").first.inner_text().startswith("조치 보고됨")
    assert officer.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    shot(officer, "reply-390.png")
    close_context(officer.context)
    _db.session.rollback()
    assert _db.session.scalar(select(Action.status)) == "reported"
    # A lead accepts it: the action is cleared.
    lead_page = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                    locale="ko-KR").new_page()
    log_in(lead_page, base, make_user("lead"), then="/dashboard")
    lead_page.goto(f"{base}/replies")
    assert "마스크 착용 안내문" in lead_page.content()
    shot(lead_page, "review-390.png")
    lead_page.get_by_role("button", name="확인: 조치 완료").tap()
    lead_page.wait_for_selector("text=조치 완료로 처리했습니다")
    _db.session.rollback()
    assert _db.session.scalar(select(Action.status)) == "cleared"
    close_context(lead_page.context)
