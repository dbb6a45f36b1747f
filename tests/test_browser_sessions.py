"""Sessions that end, tried on phones in Debian's Chromium: a copied cookie after logout, and an idle end that
costs the inspector neither a half-filled form nor a queued inspection."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.conftest import PASSWORD, close_context
from tests.test_browser_inspect import answer_all, new_phone, queue_count, saved, wait_until  # noqa: F401 (fixture)
from tracker import clock
from tracker.extensions import db as _db
from tracker.models import Inspection, UserSession

pytestmark = pytest.mark.usefixtures("app_ctx")


def test_a_cookie_copied_from_a_phone_is_refused_once_its_inspector_logs_out(browser, new_phone):  # noqa: F811
    page, ctx, base, _user = new_phone()
    other = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                locale="ko-KR")
    try:
        other.add_cookies(ctx.cookies())  # another phone with a copy of this one's cookies
        thief = other.new_page()
        thief.goto(f"{base}/inspect")
        assert thief.url == f"{base}/inspect"  # the copy works while the login lasts
        page.locator("details.menu summary").tap()
        page.locator("details.menu form[data-logout] button").tap()
        page.wait_for_url("**/login")
        thief.goto(f"{base}/inspect")
        assert re.search(r"/login\?next=", thief.url)
        assert thief.request.get(f"{base}/api/v1/sites").status == 401
        _db.session.rollback()
        assert _db.session.scalar(select(UserSession.end_reason)) == "logout"
    finally:
        close_context(other)


def test_an_idle_end_keeps_the_draft_and_the_queue_and_sends_it_after_the_next_login(new_phone, site_factory):  # noqa: F811
    page, _ctx, base, user = new_phone()
    half, full = site_factory(name="반쯤센터"), site_factory(name="제출센터")
    page.goto(f"{base}/inspect/sites/{half.id}?mode=onsite")
    page.locator("label[for='a-disinfection-no']").tap()  # a half-filled form
    page.locator("#q-disinfection textarea").fill("소독 대장 없음")
    page.goto(f"{base}/inspect/sites/{full.id}?mode=onsite")
    answer_all(page)
    # The inspector drives for five hours: the server ends the login (an inspector's default is four).
    _db.session.execute(update(UserSession).values(last_seen_at=clock.now() - timedelta(hours=5)))
    _db.session.commit()
    page.locator("#insp-submit").tap()
    status = page.locator("#insp-status")
    page.wait_for_function("() => document.getElementById('insp-status').textContent.includes('다시 로그인')")
    assert "보관했습니다" in status.inner_text()
    assert queue_count(page) == 1 and saved() == (0, 0)
    status.locator("a").tap()  # "다시 로그인"
    page.wait_for_url(re.compile(r"/login\?next="))
    assert "오래 사용하지 않아 로그인이 끝났습니다" in page.locator("main").inner_text()
    page.fill("input[name=email]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/(inspect|inspections)"))
    wait_until(lambda: saved() == (1, 17))
    insp = _db.session.scalar(select(Inspection))
    assert insp.inspector_id == user.id and insp.site_id == full.id
    wait_until(lambda: queue_count(page) == 0)
    page.goto(f"{base}/inspect/sites/{half.id}?mode=onsite")  # the half-filled form is as it was left
    assert page.is_checked("#a-disinfection-no")
    assert page.input_value("#n-disinfection") == "소독 대장 없음"
    assert saved() == (1, 17)
