"""Accessibility (KWCAG 2.2, issue 13): axe-core on every page, as every role that can see it, at phone and desk
size, in Korean and in English; the inspection form by keyboard alone; answer buttons named with their item;
errors announced and tied to their field.

axe-core is vendored for the tests only (tests/vendor/axe-core/, see its README) and runs in Debian's Chromium.
One app, one database seeded with the demo, and one live server serve the whole module.

To add a page to the axe set, add one line to PAGES: its path, the roles that can see it (and its status if not 200).
"""
import json
import re
import shutil
import threading
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select, text

from tests.conftest import ENGINE, close_context
from tracker import clock, create_app
from tracker.extensions import db as _db
from tracker.models import Action, Inspection, Outbox, Site, User
from tracker.services import accounts, checklist, demo, mail, replies, self_checks, sites

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
ANON = "anonymous"
ALL = ("admin", "lead", "inspector")
LEADS = ("admin", "lead")
ADMIN = ("admin",)

# (path, roles that see it[, HTTP status, 200 if left out]). {site} and {inspection} are filled in per role (see
# `placeholders`). Error pages are entries of their own, with their status.
PAGES = [
    ("/login", (ANON,)),
    ("/offline", (ANON, "inspector")),
    ("/inspect", ALL),
    ("/inspect?todo=1", ("inspector",)),
    ("/inspect/sites/{site}?mode=onsite", ALL),
    ("/inspect/sites/{site}?mode=phone", ALL),
    ("/inspections/{inspection}", ALL),
    ("/dashboard", LEADS),
    ("/schedule", LEADS),
    ("/schedule/assignments", ("lead",)),
    ("/actions", LEADS),
    ("/sites/", ALL),
    ("/sites/?status=closed", ("lead",)),
    ("/sites/{site}", ALL),
    ("/sites/new", ("lead",)),
    ("/sites/{site}/edit", ("lead",)),
    ("/sites/import", ("lead",)),
    ("/sites/qr-sheet", ("lead",)),
    ("/reports/council", LEADS),
    ("/mail/preview", LEADS),
    ("/admin/users", ADMIN),
    ("/admin/checklist", ADMIN),
    ("/admin/checklist/edit", ADMIN),
    ("/admin/outbox/", ADMIN),
    ("/admin/users/{user}", ADMIN),
    ("/admin/access-log", ADMIN),
    # 내 정보 and what it links to; the page that asks an export's reason; the privacy page
    ("/me", ALL),
    ("/me/password", ALL),
    ("/me/totp", ALL),
    ("/me/location", ALL),
    ("/me/reminders", ALL),
    ("/sites/export.csv", LEADS),
    ("/privacy", (ANON, *ALL)),
    # the site's side (issue 16): the reply link's page with no account, and an expired or broken one; the
    # office's review of replies; the admin's settings
    ("/r/{reply}", (ANON,)),
    ("/r/{reply}/self-check", (ANON,)),  # the site's self-check form (issue 16 §5)
    ("/r/broken-link", (ANON,), 404),
    ("/replies", ALL),
    ("/admin/settings", ADMIN),
    # error pages: not found, and a page the role may not open
    ("/no-such-page", (ANON, *ALL), 404),
    ("/admin/users", ("lead", "inspector"), 403),
]
SIZES = {"390": (390, 844), "1366": (1366, 900)}
LANGS = ("ko", "en")
ROLES = (ANON, *ALL)
LOGINS = {role: (email, pw) for email, _name, role, pw in demo.DEMO_USERS[:3]}  # admin, lead, inspector

# axe-core returns these impacts: minor, moderate, serious, critical. The bar (issue 13) is none of the last two.
SERIOUS = ("serious", "critical")
# Started without waiting (the page keeps the promise), so that the next page loads in another tab meanwhile.
START_AXE = """() => { window.__axe = axe.run(document, {resultTypes: ['violations']}).then(r =>
  r.violations.filter(v => %s.includes(v.impact)).map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => ({target: n.target.join(' '), summary: n.failureSummary}))}))); }""" % (
    json.dumps(SERIOUS))


@pytest.fixture(scope="module")
def a11y_app(tmp_path_factory, _pg_schema, _sqlite_schema):
    """One app for the module, its database seeded with the demo once: users, checklist, 73 sites, 12 weeks."""
    folder = tmp_path_factory.mktemp("a11y")
    if _pg_schema:
        url = _pg_schema
    else:
        shutil.copyfile(_sqlite_schema, folder / "test.db")
        url = f"sqlite:///{folder / 'test.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TRACKER_INSTANCE_PATH", str(folder / "instance"))
        app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "test-secret",
                          "TRACKER_UPLOAD_DIR": str(folder / "uploads"), "TRACKER_PASSWORD_HASH": "pbkdf2:sha256:1"})
    with app.app_context():
        demo.seed(out=lambda *_: None)
        demo.seed_history()
        more_states()
        _db.session.commit()
    yield app
    with app.app_context():
        if ENGINE == "postgres":  # as conftest's `app` leaves it: empty, sequences back at 1
            with _db.engine.begin() as conn:
                for table in reversed(_db.metadata.sorted_tables):
                    conn.execute(table.delete())
                conn.execute(text("SELECT setval(oid::regclass, 1, false) FROM pg_class WHERE relkind = 'S'"))
        _db.engine.dispose()


def more_states():
    """What the demo lacks, so that its look is checked too: an inactive user, a closed site, mail sent and failed."""
    user = accounts.create_user("gone@tracker.local", "퇴직자", "inspector", "correct-horse-1")
    accounts.update_user(user, "inspector", False)
    closed = _db.session.scalars(select(Site).where(Site.id.not_in(select(Action.site_id)))
                                 .order_by(Site.id.desc())).first()
    sites.set_status(closed, "closed")
    week = clock.week_of()
    mail.queue("weekly", week, [{"recipient": f"{who}@district.example", "subject": "주간 점검 요약",
                                 "body_text": "요약", "body_html": "<p>요약</p>"} for who in ("a", "b", "c")])
    rows = _db.session.scalars(select(Outbox).order_by(Outbox.id)).all()
    rows[0].status, rows[0].last_error, rows[0].attempts = "failed", "550 5.1.1 mailbox unavailable", 5
    rows[1].status = "sent"
    _db.session.flush()


@pytest.fixture(scope="module")
def server(a11y_app):
    """The module's app behind a real HTTP server on 127.0.0.1."""
    from werkzeug.serving import make_server
    srv = make_server("127.0.0.1", 0, a11y_app, threaded=True)
    url = f"http://127.0.0.1:{srv.server_port}"
    a11y_app.config["TRACKER_BASE_URL"] = url
    thread = threading.Thread(target=srv.serve_forever, name="a11y-server", daemon=True)
    thread.start()
    yield url
    srv.shutdown()
    thread.join(10)


@pytest.fixture(scope="module")
def placeholders(a11y_app):
    """{role: {"site": id, "inspection": id, "user": id}}: the site with the most open actions (the fullest site
    page and form), the newest failed inspection the role may open (an inspector's own), and the demo lead."""
    with a11y_app.app_context():
        site = _db.session.scalar(
            select(Site.id).join(Action, Action.site_id == Site.id).where(Site.status == "active")
            .group_by(Site.id).order_by(func.count().desc(), Site.id).limit(1))
        out = {}
        for role in ROLES:
            stmt = select(Inspection.id).where(Inspection.compliant.is_(False)).order_by(Inspection.id.desc())
            if role == "inspector":
                stmt = stmt.join(User, User.id == Inspection.inspector_id).where(User.email == LOGINS[role][0])
            out[role] = {"site": site, "inspection": _db.session.scalar(stmt.limit(1)),
                         "user": _db.session.scalar(select(User.id).where(User.email == LOGINS["lead"][0])),
                         "reply": replies.make_token(_db.session.get(Site, site))}
        # The site's own self-check of this week: the phone form then shows its answers as the site's.
        the_site = _db.session.get(Site, site)
        self_checks.submit(the_site, "자체점검 담당", str(uuid.uuid4()),
                           {i.key: "yes" for i in self_checks.items(checklist.current())})
        _db.session.commit()
    assert all(v["site"] and v["inspection"] for k, v in out.items() if k != ANON), out
    return out


def open_context(browser, base, role, size, lang):
    """A browser context of a role at a size, in a language, with axe-core loaded into every page and frame."""
    width, height = SIZES[size]
    phone = width < 600
    ctx = browser.new_context(viewport={"width": width, "height": height}, is_mobile=phone, has_touch=phone,
                              locale="ko-KR" if lang == "ko" else "en-US")
    # An init script, not a <script> tag: the pages' Content-Security-Policy allows only the app's own scripts.
    ctx.add_init_script(path=str(AXE))
    page = ctx.new_page()
    page.set_default_timeout(15000)
    page.goto(f"{base}/login?lang={lang}")  # the language is the session's from here on
    if role != ANON:
        email, password = LOGINS[role]
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)
    return ctx, page


def settle(page, path):
    """Wait for what a page's script adds after load (the form's contact line, the mail preview's frame)."""
    if "mode=phone" in path:
        page.wait_for_selector("#contact-call:not([hidden]), #contact-note:not([hidden])", state="attached")
    if path.startswith("/mail/preview"):
        page.wait_for_function("() => [...document.querySelectorAll('iframe')]"
                               ".every(f => f.contentDocument && f.contentDocument.readyState === 'complete')")


def pages_for(role, fill) -> list[tuple[str, int]]:
    """(url, expected status) of every entry of PAGES that the role sees."""
    return [(path.format(**fill), status[0] if status else 200) for path, roles, *status in PAGES if role in roles]


def describe(where, violations) -> str:
    lines = []
    for v in violations:
        lines.append(f"{where}: {v['id']} ({v['impact']}): {v['help']}")
        lines += [f"    {n['target']}\n      {n['summary']}".replace("\n", "\n      ") for n in v["nodes"]]
    return "\n".join(lines)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("role", ROLES)
def test_no_serious_axe_violations(browser, server, placeholders, role, size, lang):
    """Every page a role can see: 0 axe violations of impact serious or critical, and the page's lang right.

    Two tabs take turns: one loads the next page while axe-core runs in the other."""
    ctx, page = open_context(browser, server, role, size, lang)
    tabs, failures, running = [page, ctx.new_page()], [], None
    try:
        for i, (url, status) in enumerate(pages_for(role, placeholders[role])):
            tab = tabs[i % 2]
            # Deferred scripts have run by DOMContentLoaded; images (73 QR codes on the sheet) do not matter to axe.
            resp = tab.goto(f"{server}{url}", wait_until="domcontentloaded")
            assert resp.status == status, url
            settle(tab, url)
            assert tab.get_attribute("html", "lang") == lang, url
            tab.evaluate(START_AXE)
            if running:
                failures += collect(*running)
            running = (tab, f"{url} as {role} at {size} in {lang}")
        if running:
            failures += collect(*running)
    finally:
        close_context(ctx)
    assert not failures, "axe-core found serious or critical violations:\n" + "\n".join(failures)


def collect(tab, where) -> list[str]:
    found = tab.evaluate("() => window.__axe")
    return [describe(where, found)] if found else []


def assert_axe_passes(page, where):
    """axe-core on the page as it is now (a state reached by using it, such as its errors shown)."""
    page.evaluate(START_AXE)
    failures = collect(page, where)
    assert not failures, "\n".join(failures)


ANSWERS = {"ko": ("예", "아니오", "해당없음"), "en": ("Yes", "No", "N/A")}


@pytest.mark.parametrize(("mode", "lang"), [("onsite", "ko"), ("phone", "en")])
def test_every_answer_is_named_with_its_item(browser, server, placeholders, a11y_app, mode, lang):
    """A screen reader moving from control to control hears the item with the answer: "방역 전담자 지정: 예"."""
    with a11y_app.app_context():
        items = [(it.label_ko, it.label_en) for it in checklist.current().items if mode in it.modes.split(",")]
    ctx, page = open_context(browser, server, "inspector", "390", lang)
    try:
        page.goto(f"{server}/inspect/sites/{placeholders['inspector']['site']}?mode={mode}")
        assert page.get_by_role("radio").count() == 3 * len(items)
        for ko, en in items:
            for answer in ANSWERS[lang]:
                name = f"{ko if lang == 'ko' else en}: {answer}"
                expect(page.get_by_role("radio", name=name, exact=True)).to_have_count(1)
    finally:
        close_context(ctx)


FOCUS = """() => {
  const el = document.activeElement;
  // A hidden radio or file input shows its focus on its label (the button a thumb sees).
  const shown = el.matches('.yn input') ? document.querySelector(`label[for="${el.id}"]`)
    : el.closest('.photo-btn') || el;
  const st = getComputedStyle(shown);
  const fs = el.closest('fieldset.q');
  return {tag: el.tagName, type: el.type || '', id: el.id, text: (el.innerText || '').trim().slice(0, 40),
          ring: st.outlineStyle !== 'none' && parseFloat(st.outlineWidth) >= 2,
          item: fs ? fs.dataset.key : null, answered: fs ? !!fs.querySelector('input:checked') : null};
}"""


def tab_to(page, want, seen, limit=400):
    """Press Tab until `want(focus)` holds; every stop on the way is recorded in `seen`."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focus = page.evaluate(FOCUS)
        seen.append(focus)
        if want(focus):
            return focus
    raise AssertionError(f"Tab never reached the control; last stops: {seen[-5:]}")


def test_the_form_is_filled_and_sent_with_a_keyboard_alone(browser, server, placeholders, a11y_app):
    """Tab, Space and Enter only: every item answered, a forgotten one pointed out (announced, focused, tied to
    the message), then sent. Every stop shows where the focus is."""
    ctx, page = open_context(browser, server, "inspector", "1366", "ko")
    seen = []
    try:
        site = placeholders["inspector"]["site"]
        page.goto(f"{server}/inspect/sites/{site}?mode=onsite")
        page.wait_for_selector("form.insp.js")
        n = page.locator("fieldset.q").count()
        first = tab_to(page, lambda f: True, seen)
        assert first["text"] == "본문 바로가기"  # the first stop skips the header's links
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main"
        # Every item but the last answered "예" with Space, as Tab reaches it.
        for _ in range(n - 1):
            focus = tab_to(page, lambda f: f["item"] and not f["answered"], seen)
            page.keyboard.press("Space")
        last = page.locator("fieldset.q").last.get_attribute("data-key")
        assert focus["item"] != last
        tab_to(page, lambda f: f["id"] == "insp-submit", seen)
        page.keyboard.press("Enter")
        status = page.locator("#insp-status")
        expect(status).to_have_text("답하지 않은 항목이 있습니다: 1개")
        assert status.get_attribute("aria-live") in ("polite", "assertive")
        # Focus is on the forgotten item, whose answers say what is wrong.
        focused = page.locator(":focus")
        expect(focused).to_have_attribute("id", f"a-{last}-yes")
        expect(focused).to_have_attribute("aria-invalid", "true")
        expect(focused).to_have_accessible_description("답하지 않은 항목이 있습니다: 1개")
        assert_axe_passes(page, "the form with an item left unanswered")
        page.keyboard.press("Space")
        expect(focused).not_to_have_attribute("aria-invalid", "true")
        tab_to(page, lambda f: f["id"] == "insp-submit", seen)
        page.keyboard.press("Enter")
        page.wait_for_url("**/inspections/*")
    finally:
        close_context(ctx)
    assert not [f for f in seen if not f["ring"]], "focus not visible at: " + repr([f for f in seen if not f["ring"]])
    with a11y_app.app_context():
        insp = _db.session.scalar(select(Inspection).order_by(Inspection.id.desc()))
        assert insp.site_id == site and len(insp.answers) == n and {a.value for a in insp.answers} == {"yes"}


def test_errors_are_announced_and_tied_to_their_field(browser, server):
    """The login and the admin's user form: an error is read with its field (aria-describedby, aria-invalid), and
    announced (role=alert)."""
    ctx, page = open_context(browser, server, ANON, "390", "ko")
    try:
        page.locator("button[type=submit]").click()
        email = page.get_by_label("이메일")
        expect(email).to_have_attribute("aria-invalid", "true")
        error = page.locator(f"#{email.get_attribute('aria-describedby')}")
        expect(error).to_have_attribute("role", "alert")
        expect(email).to_have_accessible_description(error.inner_text())
        assert_axe_passes(page, "the login with its errors")
        page.fill("input[name=email]", LOGINS["lead"][0])
        page.fill("input[name=password]", "not-the-password")
        page.locator("button[type=submit]").click()
        expect(page.get_by_role("alert")).to_contain_text("비밀번호")
    finally:
        close_context(ctx)
    ctx, page = open_context(browser, server, "admin", "1366", "en")
    try:
        page.goto(f"{server}/admin/users")
        form = page.locator("form", has=page.get_by_role("button", name="Create"))
        form.get_by_label("Email").fill("new@district.example")
        form.get_by_role("button", name="Create").click()
        for label in ("Name", "Password"):
            field = page.locator("form", has=page.get_by_role("button", name="Create")).get_by_label(label)
            expect(field).to_have_attribute("aria-invalid", "true")
            expect(field).to_have_accessible_description(re.compile(r"\S"))
        expect(page.get_by_label("Email", exact=True)).not_to_have_attribute("aria-invalid", "true")
        assert_axe_passes(page, "the user form with its errors")
    finally:
        close_context(ctx)


def test_the_trend_chart_has_a_text_twin(browser, server):
    """The dashboard's chart is an image with a name and a description, and the weekly table beside it holds the
    same weeks."""
    ctx, page = open_context(browser, server, "lead", "1366", "ko")
    try:
        page.goto(f"{server}/dashboard")
        chart = page.get_by_role("img", name="주별 준수율(선, 위)과 점검 건수(막대, 아래)")
        expect(chart).to_have_count(1)  # the one shown at this width; the other is display:none
        expect(chart).to_have_accessible_description(re.compile("주별 표"))
        chart_weeks = [t.split(":")[0] for t in chart.locator("circle title").all_text_contents()]
        page.locator("summary", has_text="주별 표").click()
        table = page.get_by_role("table", name="주별 표")
        table_weeks = [w for w, n in zip(table.locator("tbody th").all_inner_texts(),
                                         table.locator("td[data-figure=inspections]").all_inner_texts())
                       if n != "0"]
        assert chart_weeks and chart_weeks == table_weeks
    finally:
        close_context(ctx)
