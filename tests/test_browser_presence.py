"""Scanning a site's code with no signal (issue 14 item 4), in Debian's Chromium: the service worker opens the kept
form, the phone keeps the code and its own time in the draft, and the server records them as a weaker, offline
proof in a field of their own, shown as such; never as qr_scanned_at."""
import pytest
from sqlalchemy import select

from tests.test_browser_inspect import answer_all, new_phone, phone, saved  # noqa: F401 (fixtures)
from tests.test_browser_offline import wait_kept
from tracker.extensions import db as _db
from tracker.models import Inspection

pytestmark = pytest.mark.usefixtures("app_ctx")


def test_a_code_scanned_offline_is_kept_in_the_draft_and_saved_as_an_offline_scan(phone, site_factory):  # noqa: F811
    page, ctx, base = phone
    site = site_factory(name="지하센터")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    page.goto(f"{base}/s/{site.qr_token}")  # opened once with a signal: the phone keeps the form and its code
    wait_kept(page, f"/inspect/sites/{site.id}?mode=onsite")
    page.goto(f"{base}/inspect")
    ctx.set_offline(True)  # in the basement: the code again, with no signal
    page.goto(f"{base}/s/{site.qr_token}")
    page.wait_for_function("() => document.querySelector('input[name=offline_qr_token]').value !== ''")
    assert site.qr_token not in page.url and "#" not in page.url  # the code leaves the address bar and history
    assert page.locator("#scan-offline").is_visible() and not page.locator("#scan-ok").is_visible()
    answer_all(page)
    page.reload()  # the code is in the draft, with the phone's time
    page.wait_for_function("() => document.querySelector('input[name=offline_qr_token]').value !== ''")
    assert page.input_value("input[name=offline_qr_token]") == site.qr_token
    assert page.input_value("input[name=offline_scanned_at]")
    ctx.set_offline(False)
    page.locator("#insp-submit").tap()
    page.wait_for_url("**/inspections/*")
    assert saved() == (1, 17)
    insp = _db.session.scalar(select(Inspection))
    assert insp.qr_scanned_at is None and insp.offline_scanned_at is not None
    assert "오프라인 스캔 (시각 미확인)" in page.locator(".result-head").inner_text()
