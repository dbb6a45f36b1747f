"""A site's self-check (자체점검, issue 16 §5) on the officer's phone with no signal, in Debian's Chromium at 390×844:
opened once online through the signed link, the page opens again offline from the service worker's kept copy; the
answers wait on the phone and, back online, are saved once."""
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.conftest import close_context
from tests.test_browser_inspect import answer_all, shot
from tracker.extensions import db as _db
from tracker.models import SelfCheck
from tracker.services import replies

pytestmark = pytest.mark.usefixtures("app_ctx")


def self_checks() -> list[tuple[int, str]]:
    _db.session.rollback()  # see the live server's commits
    return [(r.site_id, r.officer_name) for r in _db.session.scalars(select(SelfCheck))]


@pytest.fixture
def officer_phone(browser, live_server, default_checklist):
    """The officer's own phone, with no account: (page, context, base url)."""
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="ko-KR")
    page = ctx.new_page()
    page.set_default_timeout(15000)
    yield page, ctx, live_server
    close_context(ctx)


def test_the_self_check_reopens_offline_and_is_saved_once_back_online(officer_phone, site_factory):
    page, ctx, base = officer_phone
    site = site_factory(name="자체점검센터", manager_email="officer@x.example")
    path = f"/r/{replies.make_token(site)}/self-check"
    page.goto(base + path)  # from the e-mail, online: the page asks the service worker to keep it
    # kept by the worker (on the first visit, once it is in charge: self_check.js asks it)
    kept = page.evaluate("""async (u) => { for (let i = 0; i < 100; i++) {
        const hit = await caches.match(u, {cacheName: 'tracker-pages'}); if (hit) return hit.text();
        await new Promise(ok => setTimeout(ok, 100)); } return ''; }""", base + path)
    items = page.locator("fieldset.q").count()
    assert items > 0
    assert "자체점검센터" in kept and "officer@x.example" not in kept  # the site and the checklist, no one's address

    ctx.set_offline(True)
    page.reload()  # no signal: the kept copy
    assert "자체점검센터" in page.locator("h1").inner_text() and page.locator("fieldset.q").count() == items
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    page.fill("#officer_name", "이자율")
    answer_all(page)
    page.locator("#sc-submit").tap()
    expect(page.locator("#sc-status")).to_contain_text("보관했습니다")
    shot(page, "self-check-offline-390.png")
    assert self_checks() == []

    ctx.set_offline(False)  # back online: sent by itself, once
    page.wait_for_url("**/r/*?sent=*")
    assert "자체점검을 보냈습니다" in page.locator("main").inner_text()
    assert self_checks() == [(site.id, "이자율")]
    page.reload()
    assert self_checks() == [(site.id, "이자율")]
