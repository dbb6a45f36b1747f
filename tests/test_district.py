"""The district: its 18 dongs with the spellings offices use, and the report's inclusive head-count bands."""
import unicodedata

import pytest

from tracker import create_app, district
from tracker.config import DEFAULT_BAND_EDGES, DEFAULT_DONGS
from tracker.district import District

REPORT_BANDS = ["50 이하", "51~100", "101~150", "151~200", "201~250", "251~300", "301~400", "401~700", "701이상"]


@pytest.fixture
def d():
    return District(DEFAULT_DONGS, DEFAULT_BAND_EDGES)


def test_default_district_is_yeongdeungpo_with_18_dongs(app_ctx):
    d = district.current()
    assert len(d.dongs) == 18
    assert d.dongs[:3] == ["영등포본동", "영등포동", "여의동"]
    assert {"당산1동", "당산2동", "문래동", "양평1동", "양평2동", "신길6동", "대림3동"} <= set(d.dongs)
    assert d.band_labels == REPORT_BANDS


@pytest.mark.parametrize("headcount,band", [
    (0, "50 이하"), (1, "50 이하"), (50, "50 이하"), (51, "51~100"),
    (100, "51~100"), (101, "101~150"), (150, "101~150"), (151, "151~200"),
    (200, "151~200"), (201, "201~250"), (250, "201~250"), (251, "251~300"),
    (300, "251~300"), (301, "301~400"), (400, "301~400"), (401, "401~700"),
    (700, "401~700"), (701, "701이상"), (1204, "701이상"),
])
def test_band_edges_are_inclusive(d, headcount, band):
    assert d.band_for(headcount) == band


@pytest.mark.parametrize("spelling,canonical", [
    ("당산1동", "당산1동"),
    ("당산 1동", "당산1동"),
    ("당산1동 ", "당산1동"),
    (" 당산 1 동 ", "당산1동"),
    ("당산１동", "당산1동"),            # full-width digit
    ("신길제6동", "신길6동"),
    ("신길 제6동", "신길6동"),
    ("당산1", "당산1동"),               # without the trailing 동
    ("여의", "여의동"),
    ("여의\u3000동", "여의동"),          # ideographic space
    (unicodedata.normalize("NFD", "문래동"), "문래동"),  # decomposed Hangul, as macOS writes it
])
def test_usual_spellings_fold_to_the_dong(d, spelling, canonical):
    assert d.canonical_dong(spelling) == canonical


@pytest.mark.parametrize("name", ["강남동", "당산3동", "역삼1동", "영등포구", "서초", "", "   ", None, "당산동1가"])
def test_names_outside_the_district_are_rejected(d, name):
    assert d.canonical_dong(name) is None


def test_band_order_follows_the_report(d):
    shuffled = ["701이상", "51~100", "50 이하", "401~700"]
    assert sorted(shuffled, key=d.band_order) == ["50 이하", "51~100", "401~700", "701이상"]


def test_dongs_and_bands_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TRACKER_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("TRACKER_DONGS", '["역삼1동", "역삼2동", "삼성1동"]')
    monkeypatch.setenv("TRACKER_BAND_EDGES", "[30, 300]")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}"})
    with app.app_context():
        d = district.current()
        assert d.dongs == ["역삼1동", "역삼2동", "삼성1동"]
        assert d.canonical_dong("역삼 2동") == "역삼2동"
        assert d.canonical_dong("당산1동") is None
        assert d.band_labels == ["30 이하", "31~300", "301이상"]
        assert [d.band_for(n) for n in (30, 31, 300, 301)] == ["30 이하", "31~300", "31~300", "301이상"]


@pytest.mark.parametrize("var,value", [
    ("TRACKER_DONGS", "여의동, 당산1동"),          # not JSON
    ("TRACKER_DONGS", "[]"),
    ("TRACKER_BAND_EDGES", '["50", "100"]'),      # strings, not numbers
    ("TRACKER_BAND_EDGES", "[100, 50]"),          # not rising
])
def test_bad_district_config_fails_with_a_clear_message(monkeypatch, tmp_path, var, value):
    monkeypatch.setenv("TRACKER_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv(var, value)
    with pytest.raises(ValueError, match=var):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.db'}"})


def test_site_band_is_derived_from_headcount_and_follows_edits(app_ctx, db, site_factory):
    from tracker.services import sites
    s = site_factory(headcount=50, size_band="701이상")  # a typed band is ignored
    assert s.size_band == "50 이하"
    sites.update_site(s, {**s.snapshot(), "headcount": 51})
    assert s.size_band == "51~100"
    sites.update_site(s, {**s.snapshot(), "headcount": "1,204명"})
    assert (s.headcount, s.size_band) == (1204, "701이상")


def test_bands_are_data_put_into_words_in_the_readers_language(app):
    from flask_babel import refresh
    d = District(["여의동"], [50, 100])
    assert [(b.key, b.low, b.high) for b in d.bands] == [("50 이하", 0, 50), ("51~100", 51, 100),
                                                         ("101이상", 101, None)]
    assert d.band_for(50) == "50 이하" and d.band_for(101) == "101이상"
    with app.test_request_context("/?lang=en"):
        assert [d.band_label(k) for k in d.band_labels] == ["≤ 50", "51–100", "≥ 101"]
        assert d.band_label("300 이하") == "300 이하"   # a key of earlier edges stays as it was stored
    with app.test_request_context("/?lang=ko"):
        refresh()   # the locale is kept per app context, which the fixture may hold open
        assert [d.band_label(k) for k in d.band_labels] == ["50 이하", "51~100", "101이상"]


def test_the_register_shows_bands_in_english(client, login, site_factory):
    site_factory(name="작은센터", headcount=12)
    login("lead")
    html = client.get("/sites/?lang=en").get_data(as_text=True)
    assert "≤ 50" in html and "50 이하</option>" not in html
