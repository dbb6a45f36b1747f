"""The register, a site page and the QR sheet as a lead sees them in Debian's Chromium: at phone width and on A4."""
import re

import pytest
from sqlalchemy import select

from conftest import overflows_sideways
from tracker.models import Site
from tracker.services import demo

# The test reads the database in an app context of its own; the live server's requests, in their own threads,
# never see it.
pytestmark = pytest.mark.usefixtures("app_ctx")

def seed(db):
    demo.seed(out=lambda *_: None)
    db.session.commit()


def test_the_register_fits_a_phone_with_both_tables_whole(db, browse):
    seed(db)
    page, base = browse("lead")
    page.goto(f"{base}/sites/")
    assert not overflows_sideways(page)
    for caption, total_label in (("동별", "계"), ("직원수별", "계")):
        table = page.locator("table.counts.tall", has=page.locator("caption", has_text=caption))
        assert table.is_visible()
        total = table.locator("tr.total")
        box = total.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, (caption, box)
        assert total.inner_text().split() == [total_label, "73"]
    # The desk layout (one row of nine bands) is not shown on a phone.
    assert not page.locator("table.counts.wide").first.is_visible()
    bands = page.locator("table.counts.tall", has=page.locator("caption", has_text="직원수별"))
    rows = [r.split("\t") for r in bands.locator("tbody tr").all_inner_texts()]
    assert rows[0] == ["50 이하", "29"] and rows[-2] == ["701이상", "4"]


def test_the_register_at_desk_width_keeps_the_reports_layout(db, browse):
    seed(db)
    page, base = browse("lead", 1280, 800)
    page.goto(f"{base}/sites/")
    wide = page.locator("table.counts.wide", has=page.locator("caption", has_text="직원수별"))
    assert wide.is_visible() and not page.locator("table.counts.tall").first.is_visible()
    assert wide.locator("thead th").all_inner_texts()[-1] == "계"


def test_a_site_page_fits_a_phone(db, browse):
    seed(db)
    site = db.session.scalars(select(Site).order_by(Site.headcount.desc())).first()
    for role in ("lead", "inspector"):
        page, base = browse(role)
        page.goto(f"{base}/sites/{site.id}")
        assert page.locator("h1", has_text=site.name).is_visible()
        assert not overflows_sideways(page), role


def test_the_qr_sheet_prints_twelve_codes_to_an_a4_page(db, browse):
    seed(db)
    page, base = browse("lead", 1280, 800)
    page.goto(f"{base}/sites/qr-sheet")
    page.wait_for_function("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
    assert page.locator("figure.tile").count() == 73
    pdf = page.pdf(format="A4", print_background=False)
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert pages == 7, pages  # 73 codes, 12 a page: 3 across, 4 down
    assert page.locator("button[data-print]").is_visible()
