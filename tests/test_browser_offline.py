"""The phone on a weak signal (issue 15), in Debian's Chromium at 390×844, in Korean and in English: what 제출 says
and where, what the result names, what the service worker keeps offline and what logging out clears."""
import re

import pytest
from sqlalchemy import select

from tests.test_browser_inspect import answer_all, new_phone, phone, queue_count, saved, shot  # noqa: F401 (fixtures)
from tracker import clock
from tracker.extensions import db as _db
from tracker.models import Action, Task

# The test reads the database in an app context of its own; the live server's requests, in their own threads,
# never see it.
pytestmark = pytest.mark.usefixtures("app_ctx")

TEXT = {
    "ko": {"kept": "이 휴대폰에 보관했습니다", "saved": "점검 결과를 저장했습니다", "fix_by": "조치 기한",
           "reinspect": "재점검", "call": "전화 걸기", "home": "이번 주 점검 목록"},
    "en": {"kept": "kept on this phone", "saved": "Inspection result saved", "fix_by": "Fix by",
           "reinspect": "Re-inspection", "call": "Call", "home": "This week's inspection list"},
}


@pytest.fixture
def lang_phone(new_phone):  # noqa: F811 (the fixture imported above)
    """An inspector's phone in a language: (page, context, base url, the texts to expect)."""
    def make(lang):
        page, ctx, base, user = new_phone()
        page.goto(f"{base}/inspect?lang={lang}")
        return page, ctx, base, TEXT[lang]
    return make


def in_viewport(page, selector) -> bool:
    box = page.locator(selector).bounding_box()
    return bool(box) and box["height"] > 0 and box["y"] >= 0 and box["y"] + box["height"] <= 844


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_offline_message_is_in_view_and_announced(lang_phone, site_factory, lang):
    page, ctx, base, t = lang_phone(lang)
    site = site_factory()
    page.goto(f"{base}/inspect/sites/{site.id}?mode=onsite")
    answer_all(page)
    page.mouse.wheel(0, 400)  # a thumb somewhere in the middle of the list
    ctx.set_offline(True)
    page.locator("#insp-submit").tap()
    status = page.locator("#insp-status")
    status.wait_for(state="visible")
    assert t["kept"] in status.inner_text() and status.get_attribute("aria-live") in ("polite", "assertive")
    assert in_viewport(page, "#insp-status")
    assert status.locator("a").inner_text() == t["home"]  # somewhere to go next
    shot(page, f"offline-kept-{lang}-390.png")
    assert queue_count(page) == 1
    ctx.set_offline(False)
    page.wait_for_url("**/inspections/*")


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_a_refusal_and_a_lost_login_are_said_in_view(lang_phone, site_factory, lang):
    page, ctx, base, t = lang_phone(lang)
    site = site_factory()
    page.goto(f"{base}/inspect/sites/{site.id}?mode=onsite")
    answer_all(page, skip=("case_reporting",))
    page.evaluate("() => { document.querySelector('#a-case_reporting-yes').required = false; }")
    page.evaluate("() => document.getElementById('insp').requestSubmit()")
    assert in_viewport(page, "#insp-status") and page.locator("#insp-status").get_attribute("class") == "flash error"
    page.locator("label[for='a-case_reporting-yes']").tap()
    ctx.clear_cookies()
    page.locator("#insp-submit").tap()
    page.wait_for_function("() => document.querySelector('#insp-status a') !== null")
    assert in_viewport(page, "#insp-status") and "/login" in page.locator("#insp-status a").get_attribute("href")


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_result_page_says_saved_and_names_what_the_no_answers_opened(lang_phone, site_factory, lang):
    page, _ctx, base, t = lang_phone(lang)
    site = site_factory(name="후속센터")
    page.goto(f"{base}/inspect/sites/{site.id}?mode=onsite")
    answer_all(page)
    page.locator("label[for='a-officer_designated-no']").tap()   # critical: 3 days
    page.locator("label[for='a-visitor_log-no']").tap()          # not critical: 7 days
    page.locator("#insp-submit").tap()
    page.wait_for_url("**/inspections/*")
    assert t["saved"] in page.locator("main .flash").first.inner_text()
    follow = page.locator("#follow-ups")
    text = follow.inner_text()
    _db.session.rollback()
    actions = _db.session.scalars(select(Action).order_by(Action.due_at)).all()
    task = _db.session.scalars(select(Task).where(Task.kind == "reinspection")).one()
    assert len(actions) == 2
    labels = follow.locator("li.res.no b").all_inner_texts()
    assert len(labels) == 2 and all(lbl.strip() for lbl in labels)
    for a in actions:
        assert clock.local(a.due_at).strftime("%Y-%m-%d %H:%M") in text
    assert t["fix_by"] in text and t["reinspect"] in text
    assert clock.local(task.due_at).strftime("%Y-%m-%d %H:%M") in follow.locator("li.reinspect").inner_text()
    shot(page, f"result-follow-ups-{lang}-390.png")


def test_the_phone_forms_call_button_is_full_width(phone, site_factory):  # noqa: F811
    page, _ctx, base = phone
    site = site_factory(manager_name="김방역", manager_phone="02-123-4567")
    page.goto(f"{base}/inspect/sites/{site.id}?mode=phone")
    call = page.locator("#contact-call")
    call.wait_for(state="visible")
    assert call.get_attribute("href") == "tel:021234567" and "02-123-4567" in call.inner_text()
    box, card = call.bounding_box(), page.locator("section.card").first.bounding_box()
    assert box["width"] >= card["width"] - 40 and box["height"] >= 48
    shot(page, "phone-form-call-390.png")


def kept_forms(page) -> list[str]:
    return page.evaluate("""async () => { if (!(await caches.has('tracker-pages'))) return [];
        const c = await caches.open('tracker-pages');
        return (await c.keys()).map(r => new URL(r.url).pathname + new URL(r.url).search); }""")


def wait_kept(page, path):
    page.wait_for_function("""async (p) => { if (!(await caches.has('tracker-pages'))) return false;
        const c = await caches.open('tracker-pages');
        return (await c.keys()).some(r => { const u = new URL(r.url); return u.pathname + u.search === p; }); }""",
                           arg=path)


def test_the_service_worker_opens_an_opened_form_offline_and_keeps_no_contact(phone, site_factory):  # noqa: F811
    page, ctx, base = phone
    site = site_factory(name="오프라인센터", address="여의대로 1", manager_name="김방역", manager_phone="02-123-4567")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")  # /inspect installed it
    page.goto(f"{base}/s/{site.qr_token}")  # the QR: the server signs the scan into the form's URL
    assert "scan=" in page.url and page.locator("#scan-ok").is_visible()
    page.goto(f"{base}/inspect/sites/{site.id}?mode=phone")
    wait_kept(page, f"/inspect/sites/{site.id}?mode=onsite")
    wait_kept(page, f"/inspect/sites/{site.id}?mode=phone")
    kept_html = page.evaluate("""async (u) => (await (await caches.open('tracker-pages')).match(u)).text()""",
                              f"{base}/inspect/sites/{site.id}?mode=phone")
    assert "오프라인센터" in kept_html and "여의대로 1" in kept_html
    assert "김방역" not in kept_html and "123-4567" not in kept_html and "scan=" not in kept_html
    ctx.set_offline(True)
    page.goto(f"{base}/inspect/sites/{site.id}?mode=onsite")
    assert page.locator("h1").inner_text() == "오프라인센터" and page.locator("fieldset.q").count() == 17
    page.goto(f"{base}/s/{site.qr_token}")  # the QR again, with no signal: the kept form of its site
    page.wait_for_url(f"**/inspect/sites/{site.id}?mode=onsite")
    page.goto(f"{base}/inspect/sites/{site.id}?mode=phone")
    page.locator("#contact-note").wait_for(state="visible")  # the officer's number needs the network
    assert not page.locator("#contact-call").is_visible()
    page.goto(f"{base}/dashboard")  # a page it does not keep: the offline page, listing the kept forms
    page.locator("#kept-forms a").first.wait_for()
    assert page.locator("#kept-forms a").count() == 2
    shot(page, "offline-page-390.png")


def test_logout_clears_kept_pages_and_drafts_but_keeps_a_queued_inspection(phone, site_factory):  # noqa: F811
    page, ctx, base = phone
    a, b = site_factory(name="초안센터"), site_factory(name="대기센터")
    page.goto(f"{base}/inspect/sites/{a.id}?mode=onsite")
    page.locator("label[for='a-disinfection-no']").tap()   # a draft
    wait_kept(page, f"/inspect/sites/{a.id}?mode=onsite")
    page.goto(f"{base}/inspect/sites/{b.id}?mode=onsite")
    answer_all(page)
    ctx.set_offline(True)
    page.locator("#insp-submit").tap()
    page.locator("#insp-status").wait_for(state="visible")
    page.goto("about:blank")
    ctx.set_offline(False)
    page.goto(f"{base}/sites/")  # a page that does not send the queue (inspect.js would, being online)
    assert queue_count(page) == 1
    assert page.evaluate("Object.keys(localStorage).some(k => k.startsWith('tracker:draft:'))")
    asked = []
    page.once("dialog", lambda d: (asked.append(d.message), d.accept()))  # the unsent one is named first
    page.locator("details.menu summary").tap()   # on a phone, 로그아웃 is under 메뉴
    page.locator("details.menu form[data-logout] button").tap()
    page.wait_for_url("**/login")
    assert len(asked) == 1 and "대기센터" in asked[0] and "초안센터" not in asked[0]
    assert kept_forms(page) == [] and page.evaluate("caches.keys()") == []
    assert page.evaluate("navigator.serviceWorker.getRegistrations().then(r => r.length)") == 0
    assert not page.evaluate("Object.keys(localStorage).some(k => /^tracker:(draft|cur):/.test(k))")
    assert queue_count(page) == 1 and saved() == (0, 0)
    drafts = page.evaluate("""() => new Promise(ok => { const r = indexedDB.open('tracker');
        r.onsuccess = () => { const q = r.result.transaction('drafts').objectStore('drafts').count();
          q.onsuccess = () => { r.result.close(); ok(q.result); }; }; })""")
    assert drafts == 0
    assert re.search(r"/login", page.url)
