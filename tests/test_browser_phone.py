"""Every page on a phone (390x844) in Debian's Chromium, in Korean and in English, as each role meets it on the demo
with its week in progress: nothing scrolls sideways, and the header's links fold under 메뉴 (issue 15)."""
from datetime import datetime

import pytest
from sqlalchemy import select

from conftest import close_context, overflows_sideways
from tracker import clock
from tracker.models import Inspection, Site, User
from tracker.services import demo, mail

KST = clock.ZoneInfo("Asia/Seoul")
SATURDAY = datetime(2026, 11, 28, 11, 0, tzinfo=KST)  # W48: overdue sites, open and escalated actions, W47 missed
PASSWORDS = {email: password for email, _name, _role, password in demo.DEMO_USERS}
LOGIN = {"admin": "admin@tracker.local", "lead": "lead@tracker.local", "inspector": "inspector@tracker.local"}

# What a thumb could scroll sideways: the page itself, or any box inside it (a table wider than its card).
SIDEWAYS = """() => {
  const out = [];
  if (document.documentElement.scrollWidth > window.innerWidth + 1)
    out.push('page ' + document.documentElement.scrollWidth + ' > ' + window.innerWidth);
  for (const el of document.querySelectorAll('body *')) {
    const cs = getComputedStyle(el);
    if (['auto', 'scroll'].includes(cs.overflowX) && el.clientWidth && el.scrollWidth > el.clientWidth + 1)
      out.push(el.tagName.toLowerCase() + '.' + el.className + ' ' + el.scrollWidth + ' > ' + el.clientWidth);
  }
  return out;
}"""


@pytest.fixture
def demo_week(app, db, clock_at):
    """The demo laid on a Saturday, with last week's summary in the outbox; the pages each role is to open."""
    clock_at(SATURDAY)
    with app.app_context():
        demo.seed(out=lambda *_: None)
        db.session.commit()
        demo.seed_history()
        mail.queue_weekly_summary("2026-W47")
        db.session.commit()
        inspector = db.session.scalar(select(User).where(User.email == LOGIN["inspector"]))
        # The inspector's latest inspection that found something to fix: the result page with the most on it.
        own = db.session.scalar(select(Inspection.id).where(Inspection.inspector_id == inspector.id)
                                .order_by(Inspection.no_count.desc(), Inspection.id.desc()).limit(1))
        site = db.session.scalar(select(Site.id).order_by(Site.headcount.desc()).limit(1))
    return {
        "inspector": ["/inspect", "/inspect?todo=1", f"/inspect/sites/{site}?mode=onsite",
                      f"/inspect/sites/{site}?mode=phone", f"/inspections/{own}", "/sites/", f"/sites/{site}"],
        "lead": ["/dashboard", "/dashboard?from=2026-W48&to=2026-W48", "/schedule", "/schedule?week=2026-W47",
                 "/schedule/assignments", "/actions", "/actions?status=", "/sites/", f"/sites/{site}?history=all",
                 "/sites/new", f"/sites/{site}/edit", "/sites/import", "/sites/qr-sheet", "/reports/council",
                 "/mail/preview?week=2026-W47", f"/inspections/{own}"],
        "admin": ["/admin/users", "/admin/checklist", "/admin/checklist/edit", "/admin/outbox/"],
    }


def phone(browser, width=390, height=844):
    ctx = browser.new_context(viewport={"width": width, "height": height}, is_mobile=width < 600,
                              has_touch=width < 600, locale="ko-KR")
    page = ctx.new_page()
    page.set_default_timeout(15000)
    return ctx, page


def log_in(page, base, role, lang):
    page.goto(f"{base}/login?lang={lang}")
    page.fill("input[name=email]", LOGIN[role])
    page.fill("input[name=password]", PASSWORDS[LOGIN[role]])
    page.click("button[type=submit]")
    page.wait_for_load_state()


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_no_page_scrolls_sideways_on_a_phone(browser, live_server, demo_week, lang):
    seen = {}
    for role, urls in demo_week.items():
        ctx, page = phone(browser)
        try:
            if role == "lead":
                page.goto(f"{live_server}/login?lang={lang}")
                seen["/login"] = page.evaluate(SIDEWAYS)
            log_in(page, live_server, role, lang)
            for url in urls:
                resp = page.goto(live_server + url)
                assert resp.status == 200, (role, url, resp.status)
                assert page.locator("html").get_attribute("lang") == lang
                seen[f"{role} {url}"] = page.evaluate(SIDEWAYS)
                assert not overflows_sideways(page) or seen[f"{role} {url}"]
        finally:
            close_context(ctx)
    assert len(seen) == 1 + sum(len(u) for u in demo_week.values())
    assert not {k: v for k, v in seen.items() if v}


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_header_folds_its_links_under_a_menu_the_keyboard_opens(browser, live_server, demo_week, lang):
    ctx, page = phone(browser)
    try:
        log_in(page, live_server, "admin", lang)   # an admin has the most links
        page.goto(f"{live_server}/admin/users")
        header = page.locator("header.top")
        assert header.bounding_box()["height"] <= 64          # one row: brand, language, 메뉴
        menu = page.locator("details.menu")
        links = menu.locator("nav a")
        assert page.locator("nav.bar-nav").is_hidden() and menu.locator("summary").is_visible()
        assert links.count() == 10 and not links.first.is_visible()  # the admin's nine, then 내 정보
        # The keyboard opens it like a button, and the links follow it in the tab order.
        page.focus("details.menu summary")
        page.keyboard.press("Enter")
        assert menu.get_attribute("open") is not None and links.nth(9).is_visible()
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == links.first.inner_text()
        for i in range(links.count()):
            box = links.nth(i).bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["height"] >= 44
        current = menu.locator("nav a[aria-current=page]")
        assert current.count() == 1 and current.get_attribute("href") == "/admin/users"
        assert menu.locator("form.logout button").is_visible()      # 로그아웃 is in the menu too
        assert not overflows_sideways(page)
        page.focus("details.menu summary")
        page.keyboard.press("Enter")
        assert menu.get_attribute("open") is None and not links.first.is_visible()
        # Without the menu the page is unchanged by it: the next link is a tap away, and works.
        menu.locator("summary").click()
        links.filter(has_text="Sites" if lang == "en" else "사업장").first.click()
        page.wait_for_url(f"{live_server}/sites/")
    finally:
        close_context(ctx)
    # On a desk the links sit in the bar and there is no menu.
    ctx, page = phone(browser, 1366, 900)
    try:
        log_in(page, live_server, "admin", lang)
        page.goto(f"{live_server}/admin/users")
        assert page.locator("nav.bar-nav a").count() == 9 and page.locator("nav.bar-nav a").nth(8).is_visible()
        assert page.locator("details.menu").is_hidden()
        assert page.locator(".bar-logout a[href='/me']").is_visible()  # 내 정보 beside 로그아웃
        assert page.locator("header.top").bounding_box()["height"] <= 64
        assert not page.evaluate(SIDEWAYS)
    finally:
        close_context(ctx)
