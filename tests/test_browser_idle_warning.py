"""The idle warning in Debian's Chromium (KWCAG 2.2 / WCAG 2.2.1 Timing Adjustable, issue 13 §3 and §5).

The page's clock is Playwright's (page.clock), moved on instead of waited for; the server's is moved with it by
ageing the login's last_seen_at in the database, as time passing would."""
import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select, update

from tests.test_accessibility import AXE, assert_axe_passes
from tests.test_browser_inspect import wait_until
from tracker import clock
from tracker.extensions import db as _db
from tracker.models import UserSession

pytestmark = pytest.mark.usefixtures("app_ctx")
WARNING = "1분 뒤 자동 로그아웃됩니다. 계속 쓰시겠습니까?"


def unused_for(seconds):
    """The server's side of time passing: the login was last used that long ago."""
    before = clock.now() - timedelta(seconds=seconds)
    _db.session.execute(update(UserSession).values(last_seen_at=before))
    _db.session.commit()
    return before


def last_seen():
    _db.session.rollback()  # see what the server committed since
    return _db.session.scalar(select(UserSession.last_seen_at))


def open_with_clock(page, url):
    """The page under Playwright's clock (installed before its scripts set their timers)."""
    page.clock.install()
    page.goto(url)


@pytest.fixture
def short_limit(app):
    app.config["TRACKER_IDLE_TIMEOUT_MINUTES"] = 3  # warned at 80 %: 36 seconds before the end


def test_warned_before_the_end_and_kept_signed_in_by_keyboard(browse, short_limit):
    page, base = browse("lead", 1366, 900)
    page.context.add_init_script(path=str(AXE))
    open_with_clock(page, f"{base}/sites/")
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_be_hidden()
    aged = unused_for(150)
    page.clock.fast_forward("02:30")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(WARNING)
    assert page.evaluate("() => document.getElementById('idle-dialog').contains(document.activeElement)")
    assert_axe_passes(page, "/sites/ with the idle warning open")
    page.keyboard.press("Enter")  # focus is on 계속 사용
    expect(dialog).to_be_hidden()
    wait_until(lambda: last_seen() > aged + timedelta(seconds=100))
    page.goto(f"{base}/sites/")
    assert page.url == f"{base}/sites/"  # still signed in


def test_says_plainly_when_the_login_has_ended_and_keeps_the_draft(browse, short_limit):
    page, base = browse("inspector", 390, 844)
    page.context.add_init_script(path=str(AXE))
    open_with_clock(page, f"{base}/me")
    page.evaluate("() => localStorage.setItem('tracker:draft:test', 'half-filled')")
    # app.config's 3 minutes are a lead's: this inspector's limit is the default four hours
    unused_for(4 * 3600 + 5)
    page.clock.fast_forward("03:58:00")
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("로그인이 끝났습니다")
    expect(dialog).not_to_contain_text(WARNING)
    assert_axe_passes(page, "/me with the ended notice open")
    assert page.evaluate("() => localStorage.getItem('tracker:draft:test')") == "half-filled"
    dialog.get_by_role("link", name="다시 로그인").tap()
    page.wait_for_url(re.compile(r"/login\?next=/me"))
    assert "오래 사용하지 않아 로그인이 끝났습니다" in page.locator("main").inner_text()
    assert page.evaluate("() => localStorage.getItem('tracker:draft:test')") == "half-filled"


def test_offline_no_warning_then_warned_once_back_online(browse, short_limit):
    page, base = browse("lead", 390, 844)
    open_with_clock(page, f"{base}/sites/")
    unused_for(150)
    page.context.set_offline(True)
    page.clock.fast_forward("02:30")
    page.clock.run_for(2000)
    expect(page.get_by_role("alertdialog")).to_be_hidden()  # the server cannot be reached: nothing to claim
    page.context.set_offline(False)
    expect(page.get_by_role("alertdialog")).to_contain_text(WARNING)


def test_typing_on_a_page_counts_as_use_at_most_every_five_minutes(browse):
    page, base = browse("inspector", 390, 844)
    open_with_clock(page, f"{base}/me/password")
    field = page.locator("input[type=password]").first
    field.press_sequentially("ab")  # just signed in: nothing is sent
    page.clock.run_for(1000)
    aged = unused_for(6 * 60)
    page.clock.fast_forward("06:00")
    field.press_sequentially("cd")  # six minutes on: the keys count as use
    wait_until(lambda: last_seen() > aged + timedelta(minutes=5))
    expect(page.get_by_role("alertdialog")).to_be_hidden()
