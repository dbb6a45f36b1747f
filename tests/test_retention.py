"""Retention (issue 13): each kind of personal data is removed after its period and not before; a dry run only
counts; the daily job and `flask --app wsgi purge` run the same steps."""
import base64
import io
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from PIL import Image
from sqlalchemy import func, select

from tracker import jobs, storage
from tracker.extensions import db as _db
from tracker.models import Action, ActionReply, Audit, Inspection, Outbox, Photo, RoleChange, Site, UserSession
from tracker.services import inspections, location, replies, sessions, sites

T0 = datetime(2020, 3, 16, 10, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)


def jpeg(colour) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buf, format="JPEG")
    return buf.getvalue()


@pytest.fixture
def inspect_at(app_ctx, default_checklist, make_user, site_factory, clock_at):
    """inspect_at(when, site, photo=None): an on-site inspection at that moment, with a position (the inspector
    consented) and optionally a photo."""
    user = make_user("inspector")
    location.decide(user, True)

    def make(when, site=None, photo=None):
        clock_at(when)
        site = site or site_factory()
        data = {"site_id": site.id, "mode": "onsite", "client_uuid": str(uuid.uuid4()), "lat": 37.5, "lng": 126.9,
                "answers": {i.key: {"value": "yes", "note": ""} for i in default_checklist.items
                            if i.applies_to("onsite")}}
        insp, _created = inspections.submit(data, by=user, photos=[("masks_mandatory", photo)] if photo else None)
        _db.session.commit()
        return insp
    return make


def purge(dry_run=False):
    report = jobs.purge_expired_data(dry_run=dry_run)
    _db.session.expire_all()
    return report.counts


def test_positions_go_after_their_period_and_not_before(inspect_at, clock_at):
    old, new = inspect_at(T0), inspect_at(T0 + 10 * DAY)
    clock_at(T0 + 90 * DAY - timedelta(minutes=1))
    assert purge()["positions"] == 0 and old.lat == 37.5
    clock_at(T0 + 90 * DAY + timedelta(minutes=1))
    assert purge(dry_run=True)["positions"] == 1
    assert (old.lat, old.lng) == (37.5, 126.9)  # a dry run changes nothing
    assert purge()["positions"] == 1
    assert (old.lat, old.lng) == (None, None) and (new.lat, new.lng) == (37.5, 126.9)
    assert _db.session.get(Inspection, old.id).yes_count > 0  # the inspection itself stays
    assert purge()["positions"] == 0  # a second run finds nothing


def stored(sha256):
    return storage.current().size(storage.photo_key(sha256)) is not None


def test_photos_go_with_their_files_but_a_file_still_used_stays(app, photo_store, inspect_at, clock_at):
    old = inspect_at(T0, photo=jpeg((200, 0, 0)))
    shared = inspect_at(T0, photo=jpeg((0, 200, 0)))
    inspect_at(T0 + 200 * DAY, photo=jpeg((0, 200, 0)))  # the same picture, taken later: one file for both
    gone, kept = old.photos[0].sha256, shared.photos[0].sha256
    clock_at(T0 + 364 * DAY)
    assert purge()["photos"] == 0
    clock_at(T0 + 366 * DAY)
    assert purge(dry_run=True)["photos"] == 2 and stored(gone)
    assert purge()["photos"] == 2
    assert not stored(gone) and stored(kept)
    assert _db.session.scalars(select(Photo.sha256)).all() == [kept]


def test_closed_sites_lose_the_officers_contact_and_its_history(app_ctx, site_factory, clock_at):
    clock_at(T0)
    closed = site_factory(manager_name="김방역", manager_phone="010-1234-5678")
    open_ = site_factory(manager_name="이방역", manager_phone="010-8765-4321")
    sites.set_status(_db.session.get(Site, closed.id), "closed")
    _db.session.commit()
    clock_at(T0 + 364 * DAY)
    assert purge()["closed_site_contacts"] == 0
    clock_at(T0 + 366 * DAY)
    assert purge(dry_run=True)["closed_site_contacts"] == 1
    counts = purge()
    assert counts["closed_site_contacts"] == 1 and counts["closed_site_history"] == 2  # its creation and close
    site = _db.session.get(Site, closed.id)
    assert (site.manager_name, site.manager_phone, site.name) == ("", "", closed.name)
    assert _db.session.get(Site, open_.id).manager_phone == "010-8765-4321"
    trail = _db.session.scalars(select(Audit).where(Audit.entity == "site", Audit.entity_id == closed.id)).all()
    assert all("manager_phone" not in (row.before or {}) and "manager_phone" not in (row.after or {})
               for row in trail)
    assert any((row.after or {}).get("status") == "closed" for row in trail)  # the rest of the trail stays
    assert purge()["closed_site_history"] == 0


def test_sent_mail_bodies_are_blanked_after_their_period(app_ctx, clock_at):
    clock_at(T0)
    sent = Outbox(kind="weekly_summary", period="2020-W11", recipient="a@example.test", subject="요약",
                  body_text="본문", body_html="<p>본문</p>", status="sent", sent_at=T0)
    failed = Outbox(kind="weekly_summary", period="2020-W11", recipient="b@example.test", subject="요약",
                    body_text="본문", body_html="<p>본문</p>", status="failed")
    _db.session.add_all([sent, failed])
    _db.session.commit()
    clock_at(T0 + 89 * DAY)
    assert purge()["mail_bodies"] == 0
    clock_at(T0 + 91 * DAY)
    assert purge()["mail_bodies"] == 1
    assert (sent.body_text, sent.body_html, sent.subject, sent.recipient) == ("", "", "요약", "a@example.test")
    assert failed.body_text == "본문"


def test_old_logins_and_role_history_go_after_their_periods(app_ctx, make_user, clock_at):
    clock_at(T0)
    user = make_user("inspector")
    sessions.start(user, "phone", "10.0.0.1")
    _db.session.add(RoleChange(user_id=user.id, role="inspector", change="remove"))
    _db.session.commit()
    history = _db.session.scalar(select(func.count()).select_from(RoleChange))  # the grant at creation, the removal
    clock_at(T0 + 364 * DAY)
    assert purge()["logins"] == 0
    clock_at(T0 + 366 * DAY)
    assert purge()["logins"] == 1 and _db.session.scalar(select(func.count()).select_from(UserSession)) == 0
    assert purge()["role_history"] == 0  # kept three years
    clock_at(T0 + 1096 * DAY)
    assert purge()["role_history"] == history >= 2
    assert _db.session.scalar(select(func.count()).select_from(RoleChange)) == 0


def test_a_period_of_zero_keeps_that_kind_for_good(app, inspect_at, clock_at):
    app.config["TRACKER_LOCATION_RETENTION_DAYS"] = 0
    old = inspect_at(T0)
    clock_at(T0 + 3000 * DAY)
    assert purge()["positions"] == 0 and old.lat == 37.5


def test_kinds_without_a_table_say_so(app_ctx):
    counts = purge(dry_run=True)
    assert counts["signatures"] == 0 and counts["reply_photos"] == 0  # stored now (issue 16), nothing due yet
    assert counts["access_log"] is (None if "access_log" not in _db.metadata.tables else 0)


def test_purge_command_dry_run_reports_and_changes_nothing(app, inspect_at, clock_at):
    old = inspect_at(T0)
    clock_at(T0 + 100 * DAY)
    runner = app.test_cli_runner()
    res = runner.invoke(args=["purge", "--dry-run"])
    assert res.exit_code == 0, res.output
    assert "nothing changed" in res.output and "positions             1 (older than 90 days)" in res.output
    _db.session.expire_all()
    assert old.lat == 37.5
    res = runner.invoke(args=["purge"])
    assert res.exit_code == 0 and "removed" in res.output and "positions             1" in res.output
    _db.session.expire_all()
    assert old.lat is None


def test_the_daily_job_has_a_fixed_id(app):
    from apscheduler.schedulers.background import BackgroundScheduler
    sched = BackgroundScheduler(timezone="Asia/Seoul")
    jobs.add_jobs(sched, app)
    job = sched.get_job("purge_expired")
    assert job is not None and job.func is jobs.purge_expired and "hour='3'" in str(job.trigger)


def test_a_file_used_again_between_the_purge_and_its_file_removal_stays(app, photo_store, inspect_at, clock_at):
    """The purge commits its rows, then removes the files they left unused. A submission of the same picture in
    between (keys are content hashes, so it names the same file) must not lose its photo."""
    from tracker.services import retention
    old = inspect_at(T0, photo=jpeg((0, 0, 200)))
    sha = old.photos[0].sha256
    clock_at(T0 + 366 * DAY)
    report = retention.purge()
    _db.session.commit()
    assert report.files == {sha}
    again = inspect_at(T0 + 366 * DAY, photo=jpeg((0, 0, 200)))  # lands before the files are removed
    assert again.photos[0].sha256 == sha
    assert retention.remove_files(report) == 0
    assert stored(sha)


def _signature_url() -> str:
    buf = io.BytesIO()
    img = Image.new("RGBA", (300, 100), (0, 0, 0, 0))
    img.putpixel((10, 10), (0, 0, 0, 255))
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def test_signatures_and_reply_photos_go_after_their_periods(app, photo_store, default_checklist, make_user,
                                                           site_factory, clock_at):
    """The officer's 확인 서명 after TRACKER_SIGNATURE_RETENTION_DAYS, a site's reply photos after the photos'
    period: the hash on the row, then the file; the inspection and the reply's note stay."""
    clock_at(T0)
    site, user = site_factory(), make_user("inspector")
    crit = next(i.key for i in default_checklist.items if i.applies_to("onsite") and i.critical)
    with app.app_context():
        answers = {i.key: {"value": "yes", "note": ""} for i in default_checklist.items if i.applies_to("onsite")}
        answers[crit] = {"value": "no", "note": "미흡"}
        data = {"site_id": site.id, "mode": "onsite", "client_uuid": str(uuid.uuid4()), "answers": answers}
        insp, _ = inspections.submit(data, by=_db.session.get(type(user), user.id), signature=_signature_url())
        action = _db.session.scalar(select(Action).where(Action.site_id == site.id))
        reply = replies.reply(_db.session.get(Site, site.id), action.id, "고쳤습니다", [jpeg((0, 0, 200))])
        _db.session.commit()
        sig, photo, insp_id, reply_id = insp.signature_sha256, reply.photo1_sha256, insp.id, reply.id
        assert sig and photo and stored(sig) and stored(photo)
        clock_at(T0 + 364 * DAY)
        assert (purge()["signatures"], purge()["reply_photos"]) == (0, 0)
        clock_at(T0 + 366 * DAY)
        assert purge(dry_run=True)["signatures"] == 1 and stored(sig)
        counts = purge()
        assert (counts["signatures"], counts["reply_photos"]) == (1, 1)
        assert not stored(sig) and not stored(photo)
        assert _db.session.get(Inspection, insp_id).signature_sha256 is None
        kept = _db.session.get(ActionReply, reply_id)
        assert kept.photos == [] and kept.note == "고쳤습니다"
        assert purge()["signatures"] == 0


def test_a_signature_period_of_its_own(app, photo_store, default_checklist, make_user, site_factory, clock_at):
    app.config["TRACKER_SIGNATURE_RETENTION_DAYS"] = 30
    clock_at(T0)
    site, user = site_factory(), make_user("inspector")
    with app.app_context():
        answers = {i.key: {"value": "yes", "note": ""} for i in default_checklist.items if i.applies_to("onsite")}
        data = {"site_id": site.id, "mode": "onsite", "client_uuid": str(uuid.uuid4()), "answers": answers}
        insp, _ = inspections.submit(data, by=_db.session.get(type(user), user.id), signature=_signature_url())
        _db.session.commit()
        clock_at(T0 + 31 * DAY)
        assert purge()["signatures"] == 1 and not stored(insp.signature_sha256 or "0" * 64)
