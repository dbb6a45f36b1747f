"""One phone, two inspectors (issue 14 item 1), in Debian's Chromium: an inspection queued offline by A is never sent
in B's session (the phone keeps it sealed, B is told, and the server refuses it with 409 if it is sent anyway); A's
next login sends it, under A, once. Logging out with it unsent asks first and names it, and clears the kept pages."""
import pytest
from playwright.sync_api import Error as PlaywrightError
from sqlalchemy import select

from tests.test_browser_inspect import answer_all, log_in, new_phone, queue_count, saved, wait_until  # noqa: F401
from tracker.extensions import db as _db
from tracker.models import Inspection

pytestmark = pytest.mark.usefixtures("app_ctx")


def log_out(page) -> list[str]:
    """Log out through 메뉴, as on a phone; the texts of the confirm dialogs met on the way (each accepted)."""
    seen = []

    def accept(dialog):
        seen.append(dialog.message)
        dialog.accept()
    page.on("dialog", accept)
    page.locator("details.menu summary").tap()
    page.locator("details.menu form[data-logout] button").tap()
    page.wait_for_url("**/login")
    page.remove_listener("dialog", accept)
    return seen


# A's queued entry posted as it is from B's session, as a phone with an older script (no owner check) would.
SEND_AS_IS = """async () => {
  const d = await new Promise(ok => { const r = indexedDB.open('tracker'); r.onsuccess = () => ok(r.result); });
  const e = await new Promise(ok => { const q = d.transaction('queue').objectStore('queue').getAll();
                                      q.onsuccess = () => ok(q.result[0]); });
  d.close();
  const token = (await (await fetch('/api/v1/csrf-token')).json()).csrf_token;
  const fd = new FormData();
  e.fields.forEach(f => fd.append(f[0], f[0] === 'csrf_token' ? token : f[1]));
  const r = await fetch(e.url, {method: 'POST', body: fd, headers: {Accept: 'application/json', 'X-CSRFToken': token}});
  return {status: r.status, body: await r.json()};
}"""


def test_a_shared_phone_keeps_a_queued_inspection_for_its_own_inspector(new_phone, make_user, site_factory):  # noqa: F811
    a, b = make_user("inspector", name="김점검"), make_user("inspector", name="이점검")
    page, ctx, base, _ = new_phone(user=a)
    site = site_factory(name="공유폰센터")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")  # /inspect installed it
    page.goto(f"{base}/s/{site.qr_token}")  # A scans the site's code: a scan record of A's
    form_url = page.url
    assert "scan=" in form_url and site.qr_token not in form_url
    answer_all(page)
    page.locator("label[for='a-ventilation-no']").tap()
    ctx.set_offline(True)
    page.locator("#insp-submit").tap()
    page.locator("#insp-status").wait_for(state="visible")
    page.goto("about:blank")
    ctx.set_offline(False)
    page.goto(f"{base}/sites/")  # a page that does not send the queue
    assert queue_count(page) == 1 and saved() == (0, 0)

    # A logs out: asked first, with the site named; the kept pages and drafts go, the inspection stays.
    dialogs = log_out(page)
    assert len(dialogs) == 1 and "1건" in dialogs[0] and "공유폰센터" in dialogs[0]
    assert page.evaluate("caches.keys()") == [] and queue_count(page) == 1
    ctx.set_offline(True)  # offline and logged out, the form no longer opens from a kept copy
    with pytest.raises(PlaywrightError):
        page.goto(form_url)
    ctx.set_offline(False)

    # B logs in on the same phone: told, never sent, and the server refuses it in B's name all the same.
    log_in(page, base, b)
    note = page.locator("#insp-queue")
    note.wait_for(state="visible")
    assert "다른 점검원이 작성해" in note.inner_text() and "보낼 수 없으며" in note.inner_text()
    page.wait_for_timeout(1000)  # time for a (wrong) send to happen
    assert saved() == (0, 0) and queue_count(page) == 1
    forced = page.evaluate(SEND_AS_IS)
    assert forced["status"] == 409 and "다른 점검원이 작성한" in forced["body"]["message"]
    assert saved() == (0, 0) and queue_count(page) == 1
    assert log_out(page) == []  # B has nothing unsent of B's own: no question

    # A logs in again: it goes out, under A, with A's proof of presence, once.
    log_in(page, base, a)
    wait_until(lambda: saved() == (1, 17))
    wait_until(lambda: queue_count(page) == 0)
    insp = _db.session.scalar(select(Inspection))
    assert insp.inspector_id == a.id and insp.no_count == 1 and insp.qr_scanned_at is not None
    page.reload()
    page.wait_for_timeout(500)
    assert saved() == (1, 17)


def test_cancelling_the_logout_question_stays_logged_in_and_keeps_everything(new_phone, site_factory):  # noqa: F811
    page, ctx, base, _user = new_phone()
    site = site_factory(name="취소센터")
    page.goto(f"{base}/inspect/sites/{site.id}?mode=onsite")
    answer_all(page)
    ctx.set_offline(True)
    page.locator("#insp-submit").tap()
    page.locator("#insp-status").wait_for(state="visible")
    page.goto("about:blank")
    ctx.set_offline(False)
    page.goto(f"{base}/sites/")
    page.once("dialog", lambda d: d.dismiss())
    page.locator("details.menu summary").tap()
    page.locator("details.menu form[data-logout] button").tap()
    page.wait_for_timeout(500)
    assert "/sites/" in page.url and queue_count(page) == 1
    assert page.evaluate("caches.keys()") != []  # nothing cleared: the inspector chose to stay
