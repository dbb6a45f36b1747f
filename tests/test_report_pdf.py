"""The 점검 결과서 (issue 16): one A4 PDF per inspection, made by WeasyPrint from the same partial as the result page's
print view; the officer's optional 확인 서명; the council report as a PDF. The PDFs' text is read back with pypdf."""
import base64
import io
import uuid
from datetime import datetime, timezone

import pytest
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import select

from conftest import app_context, client_as, csrf_from
from tests.test_inspections import form_fields
from tracker import clock
from tracker.extensions import db as _db
from tracker.models import Inspection
from tracker.services import ServiceError, followups, inspections

T0 = datetime(2020, 5, 11, 1, 30, tzinfo=timezone.utc)  # Monday 10:30 in Seoul


@pytest.fixture
def tpl(default_checklist):
    return default_checklist


def signature_url(size=(600, 200), fmt="PNG") -> str:
    """What the canvas sends: a transparent PNG with a dark stroke."""
    img = Image.new("RGBA", size, (0, 0, 0, 0))
    for x in range(40, 560):
        for dy in range(4):
            img.putpixel((x, 100 + (x // 20) % 30 + dy), (20, 20, 20, 255))
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return f"data:image/{fmt.lower()};base64," + base64.b64encode(buf.getvalue()).decode()


def photo(color=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (800, 600), color).save(buf, format="JPEG")
    return buf.getvalue()


def inspect(app, tpl, site, user, *, mode="onsite", no=(), signature=None, photos=()):
    """Submit an inspection as the service's callers do; returns its id."""
    with app_context(app):
        answers = {i.key: {"value": "yes", "note": ""} for i in tpl.items if i.applies_to(mode)}
        for key in no:
            answers[key] = {"value": "no", "note": f"{key} 미흡: 현장에서 확인"}
        data = {"site_id": site.id, "mode": mode, "client_uuid": str(uuid.uuid4()), "answers": answers,
                "contact_name": "김방역" if mode == "phone" else ""}
        insp, _created = inspections.submit(data, by=_db.session.get(type(user), user.id), photos=list(photos),
                                            signature=signature)
        _db.session.commit()
        return insp.id


def pdf_text(body: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(body))
    return len(reader.pages), "\n".join(p.extract_text() for p in reader.pages)


def _keys(tpl, mode="onsite", n=2, critical=None):
    return [i.key for i in tpl.items if i.applies_to(mode) and (critical is None or i.critical == critical)][:n]


def test_the_pdf_holds_the_whole_inspection_on_one_page(app, client, login, tpl, site_factory, clock_at):
    clock_at(T0)
    user = login("inspector")
    site = site_factory(name="한빛고객센터", address="서울 영등포구 여의대로 1", manager_name="김방역")
    no = _keys(tpl, critical=True, n=1) + _keys(tpl, critical=False, n=1)
    iid = inspect(app, tpl, site, user, no=no, signature=signature_url(),
                  photos=[(no[0], photo()), (no[0], photo((30, 30, 200))), (no[1], photo((30, 160, 30)))])
    resp = client.get(f"/inspections/{iid}/report.pdf")
    assert resp.status_code == 200
    assert resp.mimetype == "application/pdf"
    pages, text = pdf_text(resp.data)
    assert pages == 1  # the whole on-site checklist with three photos and a signature fits one A4 page
    flat = text.replace("\n", " ")
    with app.app_context():
        insp = _db.session.get(Inspection, iid)
        labels = {i.key: i.label_ko for i in insp.template.items}
        n_items = len(insp.answers)
        inspector = insp.inspector.name
    expected_words = ["영등포구", "점검 결과서", "한빛고객센터", "서울 영등포구 여의대로 1", "2020-05-11 10:30"]
    expected_words += ["현장점검", inspector, "부적합", f"미이행 {len(no)}", "확인자(방역담당자) 서명", "조치 기한"]
    for expected in expected_words:
        assert expected in flat, expected
    for key in no:
        assert labels[key].replace(" ", "")[:12] in flat.replace(" ", ""), labels[key]
        assert f"{key} 미흡: 현장에서 확인" in flat
    assert flat.count("아니오") == len(no)
    assert flat.count("예") >= n_items - len(no)
    assert "(서명 없음)" not in flat
    with app.app_context():
        dues = [clock.local(a.due_at).strftime("%Y-%m-%d %H:%M")
                for a, _new in followups.of(inspections.get(iid))["actions"]]
    assert len(dues) == len(no) and all(d in flat for d in dues)


def test_a_phone_check_names_the_person_spoken_to(app, client, login, tpl, site_factory, clock_at):
    clock_at(T0)
    user = login("inspector")
    site = site_factory(name="새솔콜센터")
    iid = inspect(app, tpl, site, user, mode="phone")
    _pages, text = pdf_text(client.get(f"/inspections/{iid}/report.pdf").data)
    assert "통화한 사람" in text and "김방역" in text and "전화 모니터링" in text
    assert "적합" in text and "조치 사항" not in text


def test_only_who_may_open_the_inspection_gets_its_pdf(app, client, tpl, site_factory, make_user):
    owner, other, lead = make_user("inspector"), make_user("inspector"), make_user("lead")
    site = site_factory()
    iid = inspect(app, tpl, site, owner)
    url = f"/inspections/{iid}/report.pdf"
    assert client.get(url).status_code == 302  # to the login page
    assert client_as(app, other).get(url).status_code == 403
    assert client_as(app, lead).get(url).status_code == 200
    mine = client_as(app, owner)
    assert mine.get(url).status_code == 200
    assert mine.get("/inspections/999999/report.pdf").status_code == 404


def test_print_view_is_the_pdfs_own_partial(app, client, login, tpl, site_factory, clock_at):
    clock_at(T0)
    user = login("inspector")
    site = site_factory(name="누리상담센터")
    no = _keys(tpl, n=1)
    iid = inspect(app, tpl, site, user, no=no)
    page = client.get(f"/inspections/{iid}").get_data(as_text=True)
    assert '<div class="print-doc">' in page and 'class="report-doc"' in page
    assert "/css/report" in page
    _pages, text = pdf_text(client.get(f"/inspections/{iid}/report.pdf").data)
    # The same words in both, from the one partial: the note, the due date, the title.
    doc = page.split('<div class="print-doc">', 1)[1].split('<div class="screen-doc">', 1)[0]
    for expected in (f"{no[0]} 미흡: 현장에서 확인", "점검 결과서", "조치 기한"):
        assert expected in doc and expected in text


def test_signature_is_reencoded_on_white_and_stored_like_a_photo(app_ctx, app, tpl, site_factory, make_user):
    user = make_user("inspector")
    site = site_factory()
    iid = inspect(app, tpl, site, user, signature=signature_url())
    insp = _db.session.get(Inspection, iid)
    assert insp.signature_sha256
    stored = Image.open(io.BytesIO(inspections.photo_bytes(insp.signature_sha256)))
    assert stored.format == "JPEG" and stored.size == (600, 200)
    assert stored.convert("L").getpixel((5, 5)) > 240  # the transparent background became white, not black
    assert inspections.photo_visible(user, insp.signature_sha256)


@pytest.mark.parametrize("bad", ["data:image/png;base64,not-base64!!", "data:image/png;base64,aGVsbG8=",
                                 "data:text/html;base64,PGI+aGk8L2I+", "javascript:alert(1)"])
def test_a_bad_signature_is_refused_by_name(app_ctx, app, tpl, site_factory, make_user, bad):
    user = make_user("inspector")
    site = site_factory()
    with pytest.raises(ServiceError) as exc:
        inspect(app, tpl, site, user, signature=bad)
    assert "signature" in exc.value.errors
    _db.session.rollback()
    assert _db.session.scalar(select(Inspection)) is None


def test_a_jpeg_posing_as_the_signature_and_a_phone_signature_are_refused(app_ctx, app, tpl, site_factory,
                                                                         make_user):
    user = make_user("inspector")
    site = site_factory()
    jpeg = "data:image/png;base64," + base64.b64encode(photo()).decode()
    for kwargs in ({"signature": jpeg}, {"signature": signature_url(), "mode": "phone"}):
        with pytest.raises(ServiceError) as exc:
            inspect(app, tpl, site, user, **kwargs)
        assert "signature" in exc.value.errors
        _db.session.rollback()


def test_the_form_posts_the_signature(app, client, login, tpl, site_factory):
    login("inspector")
    site = site_factory()
    page = client.get(f"/inspect/sites/{site.id}?mode=onsite").get_data(as_text=True)
    assert 'name="signature"' in page and "/js/signature" in page
    form = {**form_fields(page), "csrf_token": csrf_from(page), "mode": "onsite", "signature": signature_url()}
    form.update({f"a-{i.key}": "yes" for i in tpl.items if i.applies_to("onsite")})
    resp = client.post(f"/inspect/sites/{site.id}", data=form)
    assert resp.status_code == 303
    with app.app_context():
        assert _db.session.scalar(select(Inspection.signature_sha256))
    phone = client.get(f"/inspect/sites/{site.id}?mode=phone").get_data(as_text=True)
    assert 'name="signature"' not in phone


def test_council_report_pdf(app, client, login, tpl, site_factory, clock_at, make_user):
    clock_at(T0)
    site = site_factory(name="한빛고객센터", dong="여의동")
    inspector = make_user("inspector")
    inspect(app, tpl, site, inspector)
    login("lead")
    page = client.get("/reports/council?from=2020-W20&to=2020-W20").get_data(as_text=True)
    assert "/reports/council.pdf" in page
    resp = client.get("/reports/council.pdf?from=2020-W20&to=2020-W20")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    pages, text = pdf_text(resp.data)
    assert pages == 1
    for expected in ("코로나19 대응(콜센터 점검) 추진", "2020-W20", "관내 콜센터 현황", "여의동", "현장점검: 1개소"):
        assert expected in text, expected
    assert client_as(app, inspector).get("/reports/council.pdf").status_code == 403
