"""The site's reply page (조치 보고, issue 16 §4): a signed link with no account; a reply marks the action reported
(not cleared, not escalated), an inspector or lead accepts it (cleared) or asks again; the token's rules."""
import io
import re
from datetime import datetime, timedelta, timezone

import pytest
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import func, select

from conftest import ENGINE, client_as, csrf_from
from tests.test_report_pdf import inspect
from tracker import jobs
from tracker.extensions import db as _db
from tracker.models import Action, ActionReply
from tracker.services import replies, schedule

T0 = datetime(2020, 5, 11, 1, 30, tzinfo=timezone.utc)  # Monday 10:30 in Seoul


@pytest.fixture
def tpl(default_checklist):
    return default_checklist


def _crit(tpl, n=1):
    return [i.key for i in tpl.items if i.applies_to("onsite") and i.critical][:n]


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (1200, 900), (30, 120, 30)).save(buf, format="JPEG")
    return buf.getvalue()


def _setup(app, tpl, site_factory, make_user, n=1, **site_kw):
    """A site with n open actions and a fresh reply link to it: (site, inspector, reply path, action ids)."""
    site = site_factory(manager_name="김방역", manager_phone="010-1234-5678", manager_email="officer@x.example",
                        **site_kw)
    inspector = make_user("inspector")
    inspect(app, tpl, site, inspector, no=_crit(tpl, n))
    with app.app_context():
        path = "/r/" + replies.make_token(site)
        ids = _db.session.scalars(select(Action.id).where(Action.site_id == site.id).order_by(Action.id)).all()
    return site, inspector, path, ids


def _post(client, path, action_id, note="손소독제 비치하고 사진 찍었습니다", photos=()):
    token = csrf_from(client.get(path).get_data(as_text=True))
    data = {"csrf_token": token, "note": note, "photo": [(io.BytesIO(p), f"p{i}.jpg") for i, p in enumerate(photos)]}
    return client.post(f"{path}/actions/{action_id}", data=data, content_type="multipart/form-data")


def _action(app, action_id):
    with app.app_context():
        return _db.session.get(Action, action_id)


def test_officer_reports_with_a_photo_and_it_stays_open_until_accepted(app, client, tpl, site_factory, make_user,
                                                                        clock_at):
    clock_at(T0)
    site, inspector, path, [aid] = _setup(app, tpl, site_factory, make_user)
    page = client.get(path)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    text = page.get_data(as_text=True)
    assert site.name in text and "조치 보고 보내기" in text
    # Nothing personal and no inspection details on a page anyone holding the link can open.
    for private in ("김방역", "010-1234-5678", "officer@x.example", "미흡: 현장에서 확인"):
        assert private not in text
    resp = _post(client, path, aid, photos=[_jpeg()])
    assert resp.status_code == 303
    assert "조치 보고됨" in client.get(path).get_data(as_text=True)
    act = _action(app, aid)
    assert act.status == "reported" and act.cleared_at is None
    # It waits for review: past its due date it does not escalate, and its age keeps counting.
    clock_at(T0 + timedelta(days=10))
    with app.app_context():
        schedule.mark_overdue()
        _db.session.commit()
    assert _action(app, aid).status == "reported"
    # The inspector sees it, with its photo, and accepts it: the action is cleared with the reply as evidence.
    mine = client_as(app, inspector)
    review = mine.get("/replies").get_data(as_text=True)
    assert site.name in review and "손소독제 비치하고" in review
    sha = re.search(r"/photos/([0-9a-f]{64})\.jpg", review).group(1)
    assert mine.get(f"/photos/{sha}.jpg").status_code == 200
    reply_id = int(re.search(r'id="reply-(\d+)"', review).group(1))
    resp = mine.post(f"/replies/{reply_id}/accept", data={"csrf_token": csrf_from(review)})
    assert resp.status_code == 303
    act = _action(app, aid)
    assert act.status == "cleared" and act.cleared_at == T0 + timedelta(days=10)
    with app.app_context():
        row = _db.session.get(ActionReply, reply_id)
        assert (row.outcome, row.reviewed_by_id) == ("accepted", inspector.id)


def test_asking_again_reopens_it_and_it_escalates_when_late(app, client, tpl, site_factory, make_user, clock_at):
    clock_at(T0)
    _site, _inspector, path, [aid] = _setup(app, tpl, site_factory, make_user)
    _post(client, path, aid)
    lead = client_as(app, make_user("lead"))
    review = lead.get("/replies").get_data(as_text=True)
    reply_id = int(re.search(r'id="reply-(\d+)"', review).group(1))
    lead.post(f"/replies/{reply_id}/again", data={"csrf_token": csrf_from(review)})
    assert _action(app, aid).status == "open"
    clock_at(T0 + timedelta(days=10))
    with app.app_context():
        schedule.mark_overdue()
        _db.session.commit()
    assert _action(app, aid).status == "escalated"
    # The form is back for the officer.
    assert "조치 보고 보내기" in client.get(path).get_data(as_text=True)


def test_a_reinspection_answering_yes_still_clears_a_reported_action(app, client, tpl, site_factory, make_user,
                                                                      clock_at):
    clock_at(T0)
    site, inspector, path, [aid] = _setup(app, tpl, site_factory, make_user)
    _post(client, path, aid)
    clock_at(T0 + timedelta(days=1))
    inspect(app, tpl, site, inspector)
    assert _action(app, aid).status == "cleared"


def test_a_reinspection_answering_no_reopens_a_reported_action(app, client, tpl, site_factory, make_user, clock_at):
    """The site said it fixed it; the inspector finds it still not done: the reply is answered (asked again, by
    that inspector) and the action is open again, not left waiting for a review that has nothing to decide."""
    clock_at(T0)
    site, inspector, path, [aid] = _setup(app, tpl, site_factory, make_user)
    _post(client, path, aid)
    assert _action(app, aid).status == "reported"
    clock_at(T0 + timedelta(days=1))
    inspect(app, tpl, site, inspector, no=_crit(tpl, 1))
    assert _action(app, aid).status == "open"
    with app.app_context():
        reply = _db.session.scalar(select(ActionReply).where(ActionReply.action_id == aid))
        assert (reply.outcome, reply.reviewed_by_id) == ("again", inspector.id)
        assert _db.session.scalar(select(func.count()).select_from(Action).where(Action.site_id == site.id)) == 1
        assert replies.waiting_count() == 0


def test_another_sites_action_is_refused(app, client, tpl, site_factory, make_user, clock_at):
    clock_at(T0)
    _a, _i, path_a, _ids = _setup(app, tpl, site_factory, make_user)
    _b, _j, _path_b, [other] = _setup(app, tpl, site_factory, make_user)
    resp = _post(client, path_a, other)
    assert resp.status_code == 404
    assert "이 사업장의 조치할 사항이 아닙니다" in resp.get_data(as_text=True)
    assert _action(app, other).status == "open"


def test_the_link_expires_and_says_whom_to_call(app, client, tpl, site_factory, make_user, clock_at):
    clock_at(T0)
    app.config["TRACKER_OFFICE_PHONE"] = "02-2670-3000"
    _site, _i, path, [aid] = _setup(app, tpl, site_factory, make_user)
    clock_at(T0 + timedelta(days=29, hours=23))
    assert client.get(path).status_code == 200
    clock_at(T0 + timedelta(days=30, minutes=1))
    resp = client.get(path)
    assert resp.status_code == 410
    text = resp.get_data(as_text=True)
    assert "기간이 지나" in text and "02-2670-3000" in text
    assert _post_raw(client, path, aid).status_code == 410
    assert _action(app, aid).status == "open"


def _post_raw(client, path, action_id):
    """A post with a good form token, for a link whose page no longer opens."""
    token = csrf_from(client.get("/login").get_data(as_text=True))
    return client.post(f"{path}/actions/{action_id}", data={"note": "x", "csrf_token": token})


def test_one_link_serves_every_action_many_times(app, client, tpl, site_factory, make_user, clock_at):
    clock_at(T0)
    _site, _i, path, ids = _setup(app, tpl, site_factory, make_user, n=2)
    assert len(ids) == 2
    for aid in ids:
        assert _post(client, path, aid).status_code == 303
    assert client.get(path).status_code == 200
    assert {_action(app, a).status for a in ids} == {"reported"}


@pytest.mark.parametrize("mangle", [lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
                                    lambda t: t.replace(".", "", 1), lambda t: "x" + t, lambda t: "nonsense"])
def test_a_tampered_link_says_so(app, client, tpl, site_factory, make_user, clock_at, mangle):
    clock_at(T0)
    _site, _i, path, [aid] = _setup(app, tpl, site_factory, make_user)
    bad = "/r/" + mangle(path[3:])
    resp = client.get(bad)
    assert resp.status_code == 404
    assert "쓸 수 없는 링크" in resp.get_data(as_text=True)
    assert _post_raw(client, bad, aid).status_code == 404


def test_a_closed_site_link_stops(app, client, tpl, site_factory, make_user, clock_at):
    clock_at(T0)
    site, _i, path, _ids = _setup(app, tpl, site_factory, make_user)
    with app.app_context():
        from tracker.services import sites
        sites.set_status(_db.session.get(type(site), site.id), "closed")
        _db.session.commit()
    assert client.get(path).status_code == 404


def test_replies_are_rate_limited(app, client, tpl, site_factory, make_user, clock_at):
    clock_at(T0)
    app.config["TRACKER_SITE_REPLIES_PER_HOUR"] = 3
    _site, _i, path, ids = _setup(app, tpl, site_factory, make_user, n=2)
    lead = client_as(app, make_user("lead"))
    for _n in range(3):
        assert _post(client, path, ids[0]).status_code in (303, 404)
        review = lead.get("/replies").get_data(as_text=True)
        for rid in re.findall(r'id="reply-(\d+)"', review):
            lead.post(f"/replies/{rid}/again", data={"csrf_token": csrf_from(review)})
    resp = _post(client, path, ids[1])
    assert resp.status_code == 429
    assert "한 시간 뒤에" in resp.get_data(as_text=True)
    assert _action(app, ids[1]).status == "open"
    clock_at(T0 + timedelta(minutes=61))
    assert _post(client, path, ids[1]).status_code == 303


def test_a_bad_photo_is_refused_and_nothing_changes(app, client, tpl, site_factory, make_user, clock_at):
    clock_at(T0)
    _site, _i, path, [aid] = _setup(app, tpl, site_factory, make_user)
    resp = _post(client, path, aid, photos=[b"not an image"])
    assert resp.status_code == 422
    assert "이미지 파일" in resp.get_data(as_text=True)
    assert _action(app, aid).status == "open"
    resp = _post(client, path, aid, photos=[_jpeg(), _jpeg(), _jpeg()])
    assert resp.status_code == 422 and "2장까지" in resp.get_data(as_text=True)


def test_the_notice_and_the_pdf_carry_the_link(app, client, tpl, site_factory, make_user, smtp_server, clock_at):
    clock_at(T0)
    site, inspector, _path, [aid] = _setup(app, tpl, site_factory, make_user)
    clock_at(T0 + timedelta(hours=2))
    with app.app_context():
        assert jobs.send_due_mail()["sent"] == 1
    msg = smtp_server.messages[0]
    body = msg.get_body(("plain",)).get_content()
    url = re.search(r"http://tracker\.test(/r/\S+)", body).group(1)
    assert site.name in client.get(url).get_data(as_text=True)
    assert _post(client, url, aid).status_code == 303
    pdf = next(p for p in msg.iter_attachments() if p.get_content_type() == "application/pdf").get_content()
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "조치 보고" in text and "QR 코드" in text


def test_guessing_links_is_slowed_down(app, client, tpl, site_factory, make_user, clock_at):
    clock_at(T0)
    app.config["TRACKER_LOGIN_FREE_FAILURES_PER_ADDRESS"] = 3
    _site, _i, path, _ids = _setup(app, tpl, site_factory, make_user)
    for n in range(3):
        assert client.get(f"{path}x{n}").status_code == 404
    resp = client.get(path)  # even the good link waits now, from this address
    assert resp.status_code == 429
    assert "시도가 너무 많습니다" in resp.get_data(as_text=True)
    clock_at(T0 + timedelta(minutes=20))
    assert client.get(path).status_code == 200


def test_a_lead_ends_the_sites_links_and_mail_not_yet_sent_gets_a_new_one(app, client, tpl, site_factory,
                                                                           make_user, clock_at, smtp_server):
    """A notice gone to the wrong person: the lead ends every link of the site at once. The old link says the office
    ended it; the notice still waiting and the self-check request not yet sent leave with a working link; another
    site's notice to the same address keeps its own."""
    clock_at(T0)
    app.config["TRACKER_OFFICE_PHONE"] = "02-2670-3000"
    site, inspector, old_path, [aid] = _setup(app, tpl, site_factory, make_user, self_check=True)
    other, _i, other_path, _ids = _setup(app, tpl, site_factory, make_user)  # the same officer's address
    with app.app_context():
        from tracker.services import self_checks
        assert self_checks.queue_requests("2020-W20") == 1
        _db.session.commit()
    lead = client_as(app, make_user("lead"))
    page = lead.get(f"/sites/{site.id}").get_data(as_text=True)
    assert "회신 링크 모두 폐기" in page
    own = client_as(app, inspector)
    token = csrf_from(own.get(f"/sites/{site.id}").get_data(as_text=True))
    assert own.post(f"/sites/{site.id}/revoke-links", data={"csrf_token": token}).status_code == 403
    assert client.get(old_path).status_code == 200  # an inspector cannot end them
    resp = lead.post(f"/sites/{site.id}/revoke-links", data={"csrf_token": csrf_from(page)}, follow_redirects=True)
    text = resp.get_data(as_text=True)
    assert "모두 폐기했습니다" in text and "2건" in text  # the waiting notice and the self-check request
    assert "회신 링크 모두 폐기" in text.split("변경 이력")[1]  # in the site's trail

    dead = client.get(old_path)
    assert dead.status_code == 410
    assert "폐기" in dead.get_data(as_text=True) and "02-2670-3000" in dead.get_data(as_text=True)
    assert _post_raw(client, old_path, aid).status_code == 410
    assert _action(app, aid).status == "open"
    assert client.get(other_path).status_code == 200  # another site's links are its own

    clock_at(T0 + timedelta(hours=2))
    with app.app_context():
        assert jobs.send_due_mail()["sent"] == 3
    from tracker.models import Outbox
    with app.app_context():
        rows = _db.session.scalars(select(Outbox).order_by(Outbox.id)).all()
        links = {(r.kind, r.inspection_id): re.search(r"http://tracker\.test(/r/[^\s\"<]+)", r.body_text).group(1)
                 for r in rows}
    assert len(links) == 3
    for (kind, _insp), url in links.items():
        page = client.get(url)
        assert page.status_code == 200, (kind, url)
        named = other.name if other.name in page.get_data(as_text=True) else site.name
        assert named in page.get_data(as_text=True)
    own = [u for u in links.values() if site.name in client.get(u).get_data(as_text=True)]
    assert len(own) == 2 and all(u.split("/")[2] != old_path.split("/")[2] for u in own)
    assert _post(client, next(u for u in own if not u.endswith("/self-check")), aid).status_code == 303


def test_links_sent_before_generations_still_open(app, client, tpl, site_factory, make_user, clock_at):
    """A link made before links carried a generation (none in its payload) is a generation-0 link: the upgrade ends
    no link in anyone's mailbox, and a lead's first revocation ends it."""
    clock_at(T0)
    site, _i, _path, _ids = _setup(app, tpl, site_factory, make_user)
    with app.app_context():
        legacy = "/r/" + replies._Stamped(replies._serializer()).dumps({"site": site.id})
    assert client.get(legacy).status_code == 200
    with app.app_context():
        from tracker.models import Site
        replies.revoke(_db.session.get(Site, site.id))
        _db.session.commit()
    assert client.get(legacy).status_code == 410


def test_a_failed_message_sent_again_after_the_links_end_carries_a_new_one(app, client, tpl, site_factory, make_user,
                                                                           clock_at, smtp_server):
    """A self-check request that failed is ended with the rest; an admin's resend then carries a working link. A full
    stop written after a link is not taken for part of it."""
    clock_at(T0)
    site, _i, _path, _ids = _setup(app, tpl, site_factory, make_user, self_check=True)
    from tracker.models import Outbox, Site
    from tracker.services import mail, self_checks
    with app.app_context():
        self_checks.queue_requests("2020-W20")
        row = _db.session.scalar(select(Outbox).where(Outbox.kind == self_checks.KIND))
        row.status = "failed"
        row.body_text += f"\n{replies.link(_db.session.get(Site, site.id))}.\n"  # a link ending a sentence
        _db.session.commit()
        assert replies.revoke(_db.session.get(Site, site.id)) == 2  # the failed request and the waiting notice
        _db.session.commit()
        assert mail.resend(row.id)
        _db.session.commit()
        body = _db.session.get(Outbox, row.id).body_text
    tokens = re.findall(r"http://tracker\.test/r/(\.?[\w-]+\.[\w-]+\.[\w-]+)", body)
    assert len(tokens) >= 2 and all(client.get(f"/r/{t}").status_code == 200 for t in tokens)
    assert f"/r/{tokens[-1]}.\n" in body  # the sentence's full stop is still there, after the new link


@pytest.mark.skipif(ENGINE != "postgres", reason="row locks between two connections; SQLite has one writer at a time")
def test_a_link_made_while_the_links_are_being_ended_takes_the_new_generation(app, client, site_factory, clock_at):
    """A notice made while a lead ends the site's links waits for that to commit, and carries a working link."""
    import threading

    from sqlalchemy import update

    from tracker.models import Site
    clock_at(T0)
    site = site_factory(manager_email="officer@x.example")
    made = []

    def notice_link():
        with app.app_context():
            made.append(replies.make_token(_db.session.get(Site, site.id)))
            _db.session.rollback()

    with app.app_context():
        ending = _db.engine.connect()  # the lead's request, its ending not yet committed
        try:
            tx = ending.begin()
            ending.execute(update(Site).where(Site.id == site.id).values(reply_link_gen=Site.reply_link_gen + 1))
            worker = threading.Thread(target=notice_link)
            worker.start()
            worker.join(1.5)
            waited = worker.is_alive() and not made
            tx.commit()
        finally:
            ending.close()  # a failed check must not leave the row locked for the database's teardown
        worker.join(10)
    assert waited, "the notice's link did not wait for the ending to commit"
    assert len(made) == 1 and client.get(f"/r/{made[0]}").status_code == 200
