"""Printed documents (issue 16): the inspection's 점검 결과서 and the council report, as HTML and as PDF.

Each document is one Jinja partial. The page's print view shows that partial, and the PDF is WeasyPrint's
rendering of the same partial with the same stylesheet, so the two never disagree. Documents are Korean whatever
the reader's language: they are handed to a site, or filed. WeasyPrint fetches nothing from the network: images
travel as data: URIs and stylesheets are read from static/ by path.
"""
import base64

from flask import current_app, render_template
from flask_babel import force_locale
from markupsafe import Markup

from .. import clock
from ..models import Inspection
from . import followups, inspections, replies

REPORT_CSS = "css/report.css"
COUNCIL_CSS = ("css/app.css", "css/dashboard.css")


def _static(name: str) -> str:
    # The source files, not the built copies (minified, renamed, maybe not built yet in a fresh checkout).
    from ..assets import SOURCE
    return str(SOURCE / name)


def data_uri(sha256: str) -> str:
    """A stored photo as a data: URI, for a document that must carry its pictures."""
    return "data:image/jpeg;base64," + base64.b64encode(inspections.photo_bytes(sha256)).decode("ascii")


def _rows(insp: Inspection) -> list[tuple[int, object, object]]:
    """(number, item, answer) in the form's order; an answer to an item the template no longer lists comes last."""
    answers = {a.item_key: a for a in insp.answers}
    ordered = [it for it in inspections.items_for(insp.template, insp.mode) if it.key in answers]
    keys = {it.key for it in ordered}
    rows = [(it, answers[it.key]) for it in ordered] + [(None, a) for a in insp.answers if a.item_key not in keys]
    return [(n, it, a) for n, (it, a) in enumerate(rows, 1)]


def inspection_context(insp: Inspection, photo_src) -> dict:
    """What the 점검 결과서 shows; photo_src(sha256) gives an image's src (a URL on the page, data: in the PDF)."""
    by_item: dict = {}
    for p in insp.photos:
        by_item.setdefault(p.item_key, []).append(p)
    follow = followups.of(insp)
    pending = any(act.status != "cleared" for act, _new in follow["actions"])
    return {"insp": insp, "rows": _rows(insp), "photos": by_item, "follow": follow,
            "reply_qr": _reply_qr(insp) if pending else None,
            "link_days": current_app.config["TRACKER_SITE_LINK_DAYS"],
            "photo_src": photo_src, "doc_mode": inspections.mode_label(insp.mode),
            "district": current_app.config["TRACKER_DISTRICT_NAME"], "printed_on": clock.today()}


def _reply_qr(insp: Inspection) -> str:
    """The site's reply link (조치 보고) as a QR code, a PNG data: URI: for a site with no e-mail, on paper."""
    import io

    import qrcode
    img = qrcode.make(replies.link(insp.site), box_size=4, border=1)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def inspection_html(insp: Inspection, photo_src) -> Markup:
    """The 점검 결과서 as an HTML fragment, in Korean: the result page's print view."""
    with force_locale("ko"):
        return Markup(render_template("inspect/_report.html", **inspection_context(insp, photo_src)))


def to_pdf(html: str, stylesheets: tuple[str, ...]) -> bytes:
    """An HTML page as PDF with the given static stylesheets (WeasyPrint, print media)."""
    from weasyprint import CSS, HTML
    from weasyprint.urls import URLFetcher
    # Everything a document shows is inlined as data: URIs; any other link is refused, never fetched.
    fetcher = URLFetcher(allowed_protocols={"data"})
    css = [CSS(filename=_static(name)) for name in stylesheets]
    return HTML(string=html, url_fetcher=fetcher, base_url=_static("")).write_pdf(stylesheets=css)


def inspection_pdf(insp: Inspection) -> bytes:
    """The 점검 결과서 as an A4 PDF, photos and signature included."""
    body = inspection_html(insp, data_uri)
    with force_locale("ko"):
        page = render_template("inspect/report_pdf.html", body=body, insp=insp)
    return to_pdf(page, (REPORT_CSS,))


def pdf_filename(insp: Inspection) -> str:
    """A file name for the PDF that sorts by date: 점검결과서_2020-05-11_12.pdf."""
    return f"점검결과서_{clock.local(insp.submitted_at):%Y-%m-%d}_{insp.id}.pdf"


def council_pdf(context: dict) -> bytes:
    """The council report as an A4 PDF, from the same partial as the page (context: what the page is given)."""
    with force_locale("ko"):
        page = render_template("reports/council_pdf.html", **context)
    return to_pdf(page, COUNCIL_CSS)
