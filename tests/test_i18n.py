"""Korean first, English on request: ?lang= switches the session's language, and the catalogue covers the pages."""
import io
import re
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import csrf_from

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "translations" / "en" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
HANGUL = re.compile(r"[\uac00-\ud7a3]")
NAV_EN = ["Dashboard", "Weekly status", "This week's inspections", "Sites", "Corrective actions", "Weekly mail",
          "Admin", "Checklist", "Mail"]


@pytest.fixture(scope="session", autouse=True)
def compiled_catalogue():
    """The .mo is build output (`make translations`); compile it here when it is missing or older than the .po."""
    if not MO.exists() or MO.stat().st_mtime < PO.stat().st_mtime:
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po
        with PO.open("rb") as f:
            catalog = read_po(f, locale="en")
        tmp = MO.with_suffix(".mo.tmp")
        with tmp.open("wb") as f:
            write_mo(f, catalog)
        tmp.replace(MO)
    return MO


@pytest.fixture(scope="session")
def catalogue():
    from babel.messages.pofile import read_po
    with PO.open("rb") as f:
        return read_po(f, locale="en")


class _Text(HTMLParser):
    """Visible text and labelling attributes of a page, each with whether it sits in the main nav."""
    ATTRS = ("aria-label", "placeholder", "title", "alt", "data-confirm")

    def __init__(self):
        super().__init__()
        self.items, self._skip, self._nav, self._depth = [], 0, None, 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "style"):
            self._skip += 1
        if tag == "nav":
            self._depth += 1
            if "nav" in (attrs.get("class") or "").split():
                self._nav = self._depth
        for name in self.ATTRS:
            if attrs.get(name):
                self.items.append((attrs[name].strip(), self._nav is not None))

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1
        if tag == "nav":
            if self._nav == self._depth:
                self._nav = None
            self._depth -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.items.append((data.strip(), self._nav is not None))


def page_text(html: str) -> list[tuple[str, bool]]:
    parser = _Text()
    parser.feed(html)
    return parser.items


def test_korean_is_the_default(client):
    html = client.get("/login").get_data(as_text=True)
    assert '<html lang="ko">' in html
    assert "로그인" in html and "비밀번호" in html
    assert "Log in" not in html and "Password" not in html


def test_lang_en_switches_and_sticks_then_lang_ko_switches_back(client):
    html = client.get("/login?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Log in" in html and "Password" in html and "로그인" not in html

    html = client.get("/login").get_data(as_text=True)  # no ?lang: the session remembers English
    assert '<html lang="en">' in html and "Log in" in html and "로그인" not in html

    html = client.get("/login?lang=ko").get_data(as_text=True)
    assert '<html lang="ko">' in html and "로그인" in html and "Log in" not in html
    html = client.get("/login").get_data(as_text=True)
    assert "로그인" in html and "Log in" not in html


def test_an_unknown_lang_is_ignored(client):
    client.get("/login?lang=en")
    html = client.get("/login?lang=fr").get_data(as_text=True)
    assert '<html lang="en">' in html and "Log in" in html


def test_the_language_survives_logging_in_and_flashes_are_translated(client, login):
    client.get("/login?lang=en")
    login("lead")
    html = client.get("/sites/").get_data(as_text=True)
    assert '<html lang="en">' in html and "Register site" in html
    page = client.get("/sites/").get_data(as_text=True)
    resp = client.post("/logout", data={"csrf_token": csrf_from(page)}, follow_redirects=True)
    assert "You have been logged out." in resp.get_data(as_text=True)


def test_lang_on_a_redirecting_url_is_remembered(client, login):
    login("lead")
    assert client.get("/?lang=en").status_code == 302
    assert '<html lang="en">' in client.get("/sites/").get_data(as_text=True)


def test_login_error_is_in_english(client, make_user):
    user = make_user("inspector")
    page = client.get("/login?lang=en").get_data(as_text=True)
    resp = client.post("/login", data={"email": user.email, "password": "wrong-password-1",
                                       "csrf_token": csrf_from(page)})
    assert "Incorrect email or password." in resp.get_data(as_text=True)


def _upload(client, rows, filename="register.csv"):
    data = ("\r\n".join(",".join(r) for r in rows) + "\r\n").encode("utf-8")
    token = csrf_from(client.get("/sites/import").get_data(as_text=True))
    return client.post("/sites/import", data={"csrf_token": token, "file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


HEAD = ["사업장명", "사업자등록번호", "행정동", "소재지", "종사자수", "방역담당자", "연락처"]
GOOD = ["한빛고객센터", "107-81-00001", "여의동", "", "120", "", ""]


def test_an_english_users_bad_import_shows_english_errors_with_row_numbers(client, login, count_rows):
    from tracker.models import Site
    login("lead")
    client.get("/sites/?lang=en")
    resp = _upload(client, [HEAD, GOOD, ["가센터", "107-81-00002", "여의동", "", "많음", "", ""],
                            ["나센터", "", "없는동", "", "10", "", ""]])
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422
    # The column keeps the Korean name written in the spreadsheet's header; the rest is English.
    assert "row 3, column E: 종사자수 &#39;많음&#39; is not a number" in body
    assert "row 4, column B: 사업자등록번호 is empty" in body
    assert "row 4, column C: 행정동 &#39;없는동&#39; is not a dong of this district" in body
    assert "Invalid rows: 2, errors: 3 — nothing was saved" in body
    assert "행:" not in body and "숫자가 아닙니다" not in body
    assert count_rows(Site) == 0


def test_an_unreadable_file_and_a_missing_header_are_explained_in_english(client, login):
    login("lead")
    client.get("/sites/?lang=en")
    body = _upload(client, [["이름", "주소"], ["가센터", "서울"]]).get_data(as_text=True)
    assert "Import failed" in body
    assert "No header row found. Missing columns: 사업장명, 사업자등록번호, 행정동, 종사자수" in body


def test_the_same_bad_import_stays_korean_for_a_korean_user(client, login):
    login("lead")
    resp = _upload(client, [HEAD, GOOD, ["가센터", "107-81-00002", "여의동", "", "많음", "", ""]])
    body = resp.get_data(as_text=True)
    assert "3행 E열: 종사자수 &#39;많음&#39;은(는) 숫자가 아닙니다" in body
    assert "row 3" not in body


def test_an_english_import_preview_summarises_in_english(client, login):
    login("lead")
    client.get("/sites/?lang=en")
    token = csrf_from(client.get("/sites/import").get_data(as_text=True))
    data = ("\r\n".join(",".join(r) for r in [HEAD, GOOD]) + "\r\n").encode("utf-8")
    body = client.post("/sites/import", data={"csrf_token": token, "dry_run": "y",
                                              "file": (io.BytesIO(data), "r.csv")},
                       content_type="multipart/form-data").get_data(as_text=True)
    assert "Preview: nothing was saved" in body and "1 new, 0 changed, 0 unchanged" in body


PAGES = [
    ("/sites/", ["Call centres in the district", "Register site", "Import", "All dongs"]),
    ("/sites/{site}", ["Business registration no.", "Headcount", "Change history", "Issue new QR code"]),
    ("/sites/new", ["Register site", "Site name", "Business registration no.", "Select"]),
    ("/sites/import", ["Import sites", "File (CSV or XLSX)", "Preview only (don't save)", "Upload"]),
    ("/inspect", ["This week's inspections", "Start an inspection with a QR code", "Not inspected"]),
    ("/schedule", ["Weekly status", "Overdue and missed sites", "Workload by inspector"]),
    ("/actions", ["Corrective actions", "Open (including overdue)", "All items"]),
    ("/dashboard", ["Compliance dashboard", "Key figures", "Definitions"]),
]


@pytest.mark.parametrize("url,expected", PAGES, ids=[p[0] for p in PAGES])
def test_pages_render_in_english(app, client, login, site_factory, catalogue, url, expected):
    endpoint_url = url.format(site=1)
    adapter = app.url_map.bind("tracker.test")
    try:
        adapter.match(endpoint_url, method="GET")
    except Exception:
        pytest.skip(f"{url} does not exist in this build")
    site = site_factory()
    login("admin")  # an admin sees every nav link
    client.get("/sites/?lang=en")
    resp = client.get(url.format(site=site.id))
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert '<html lang="en">' in html
    shown = unescape(html)
    for text in expected:
        assert text in shown, text

    items = page_text(html)
    nav = [t for t, in_nav in items if in_nav]
    assert nav, "the page has no nav"
    assert not [t for t in nav if HANGUL.search(t)], nav
    assert set(NAV_EN) <= set(nav)

    # No visible label is still the Korean msgid of a catalogue entry (data such as dong names is not a msgid).
    # "한국어" is the language switch, written in its own language on purpose.
    msgids = {m.id for m in catalogue if m.id and "%" not in m.id and m.string != m.id}
    leftover = sorted({t for t, _ in items if t in msgids and t != "한국어"})
    assert not leftover, leftover


def test_every_catalogue_entry_is_translated_and_keeps_its_placeholders(catalogue):
    placeholder = re.compile(r"%\([a-z_]+\)[sd]")
    untranslated = [m.id for m in catalogue if m.id and (not m.string or m.fuzzy)]
    assert not untranslated, untranslated
    wrong = [(m.id, m.string) for m in catalogue if m.id and
             sorted(placeholder.findall(m.id)) != sorted(placeholder.findall(m.string))]
    assert not wrong, wrong


def test_the_language_link_keeps_the_page_and_its_filters(client, login, site_factory):
    import html as htmllib
    import re
    from urllib.parse import parse_qs, urlsplit
    site = site_factory()
    login("inspector")
    for url, expected in ((f"/inspect/sites/{site.id}?mode=phone", {"mode": ["phone"]}),
                          ("/sites/?dong=여의동&page=2", {"dong": ["여의동"], "page": ["2"]})):
        page = client.get(url).get_data(as_text=True)
        href = htmllib.unescape(re.search(r'<a href="([^"]+)" hreflang="en">', page).group(1))
        parts = urlsplit(href)
        assert parts.path == urlsplit(url).path
        assert parse_qs(parts.query) == {**expected, "lang": ["en"]}


def test_size_bands_read_naturally_in_english(client, login, site_factory):
    site_factory(headcount=30)
    site_factory(headcount=900)
    login("lead")
    html = client.get("/sites/?lang=en").get_data(as_text=True)
    assert "≤ 50" in html and "≥ 701" in html and "51–100" in html and ">50 이하<" not in html  # values stay
    assert "50 이하" in client.get("/sites/?lang=ko").get_data(as_text=True)
