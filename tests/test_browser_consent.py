"""Location only with consent, on a phone in Debian's Chromium (issue 13): without a yes the page never asks the
browser for a position (a spy stands in for navigator.geolocation), and the check saves either way."""
import pytest
from sqlalchemy import select

from tests.test_browser_inspect import answer_all, new_phone, queue_count, saved, wait_until  # noqa: F401
from tracker.extensions import db as _db
from tracker.models import Inspection, User
from tracker.services import location

pytestmark = pytest.mark.usefixtures("app_ctx")

# Counts every call that would ask for the position, across page loads, and still answers it (as a phone whose
# permission was granted would), so that a call the page should not make would succeed unnoticed but for the count.
SPY = """(() => {
  const geo = navigator.geolocation;
  for (const name of ['getCurrentPosition', 'watchPosition']) {
    const real = geo[name].bind(geo);
    geo[name] = function (...args) {
      localStorage.setItem('geo-calls', String(Number(localStorage.getItem('geo-calls') || 0) + 1));
      return real(...args);
    };
  }
})();"""
GRANTED = {"geolocation": {"latitude": 37.521912, "longitude": 126.924561}, "permissions": ["geolocation"]}


@pytest.fixture
def spied_phone(new_phone):  # noqa: F811 (the fixture imported above)
    def make():
        page, ctx, base, user = new_phone(**GRANTED)
        page.add_init_script(SPY)
        return page, ctx, base, user
    return make


def geo_calls(page) -> int:
    return int(page.evaluate("localStorage.getItem('geo-calls') || 0"))


def state(user) -> str:
    _db.session.rollback()  # see the server thread's commits
    return location.state(_db.session.get(User, user.id)).state


def test_an_inspector_who_refuses_location_still_saves_the_check(spied_phone, site_factory):
    page, _ctx, base, user = spied_phone()
    site = site_factory()
    page.goto(f"{base}/s/{site.qr_token}")
    panel = page.locator("#consent")
    assert panel.is_visible() and "현장에 있었음을 증명" in panel.inner_text() and "90일" in panel.inner_text()
    page.locator("#consent button[data-answer=refused]").tap()
    assert not panel.is_visible() and page.locator("#gps-line").inner_text() == "위치를 수집하지 않습니다."
    wait_until(lambda: state(user) == "refused")  # recorded on the server at once
    answer_all(page)
    page.locator("#insp-submit").tap()
    page.wait_for_url("**/inspections/*")
    insp = _db.session.scalar(select(Inspection))
    assert saved() == (1, 17) and (insp.lat, insp.lng) == (None, None)
    # The next check asks nothing: the answer stands, with a link to change it.
    page.goto(f"{base}/s/{site_factory().qr_token}")
    assert not page.locator("#consent").is_visible() and page.locator("#consent-change").is_visible()
    assert geo_calls(page) == 0


def test_a_question_left_unanswered_asks_the_browser_nothing(spied_phone, site_factory):
    page, _ctx, base, user = spied_phone()
    page.goto(f"{base}/s/{site_factory().qr_token}")
    answer_all(page)
    page.locator("#insp-submit").tap()
    page.wait_for_url("**/inspections/*")
    assert saved() == (1, 17) and _db.session.scalar(select(Inspection.lat)) is None
    assert geo_calls(page) == 0 and state(user) == "unasked"


def test_consent_given_offline_goes_with_the_queued_check(spied_phone, site_factory):
    page, ctx, base, user = spied_phone()
    page.goto(f"{base}/s/{site_factory().qr_token}")
    ctx.set_offline(True)
    page.locator("#consent button[data-answer=given]").tap()
    page.wait_for_function("() => document.getElementById('gps-line').textContent === '위치 확인됨'")
    assert geo_calls(page) == 1 and state(user) == "unasked"
    answer_all(page)
    page.locator("#insp-submit").tap()
    wait_until(lambda: queue_count(page) == 1)
    ctx.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    wait_until(lambda: saved()[0] == 1)
    assert state(user) == "given"
    assert _db.session.execute(select(Inspection.lat, Inspection.lng)).one() == (37.521912, 126.924561)
