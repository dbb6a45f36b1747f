"""The site's reply page (조치 보고, issue 16): a signed link, with no account, through which a site's prevention
officer says what was done about each of its open actions.

The link names one site and expires after TRACKER_SITE_LINK_DAYS; it may be used many times until then. A reply
marks the action *reported*: not cleared, not escalated while it waits, its age still counting. An inspector or a
lead then accepts it (the action is cleared, the reply its evidence) or asks again (the action is open again).
A reinspection answering "예" clears a reported action as it clears an open one.
"""
import re
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select

from .. import clock
from ..extensions import db
from ..models import Action, ActionReply, Outbox, Site
from . import ServiceError, audit, checklist, inspections

SALT = "tracker-site-reply"
NOTE_MAX = 2000
MAX_PHOTOS = 2


class LinkError(Exception):
    """A reply link that cannot be used: kind is 'expired', 'revoked' (ended by a lead) or 'invalid'."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def make_token(site: Site) -> str:
    """A new signed token for a site's reply page; it carries the time it was made (and so its expiry) and the
    site's link generation, read afresh under a share lock: a notice made while a lead ends the site's links waits
    for that to commit and takes the new generation, and the lead's ending, if it comes second, waits for the notice
    and finds it among the mail to renew (revoke). SQLite has one writer at a time and needs no lock."""
    gen = db.session.scalar(select(Site.reply_link_gen).where(Site.id == site.id).with_for_update(read=True))
    return _Stamped(_serializer()).dumps({"site": site.id, "gen": gen or 0})


class _Stamped:
    """URLSafeTimedSerializer with its timestamps from the project's clock (not the wall clock), so that tests and
    --at runs agree on when a link expires."""

    def __init__(self, serializer: URLSafeTimedSerializer):
        self.serializer = serializer

    def dumps(self, obj) -> str:
        signer = self.serializer.make_signer()
        signer.get_timestamp = lambda: int(clock.now().timestamp())
        return signer.sign(self.serializer.dump_payload(obj)).decode("ascii")

    def loads(self, token: str, max_age: int):
        signer = self.serializer.make_signer()
        signer.get_timestamp = lambda: int(clock.now().timestamp())
        raw = signer.unsign(token, max_age=max_age)
        return self.serializer.load_payload(raw)


def link(site: Site) -> str:
    """The full URL of a new reply link for a site."""
    return f"{current_app.config['TRACKER_BASE_URL'].rstrip('/')}/r/{make_token(site)}"


def read_token(token: str) -> Site:
    """The site a reply token names; LinkError('expired') or LinkError('invalid') otherwise (forged, tampered,
    for a site that no longer exists or is closed)."""
    max_age = int(current_app.config["TRACKER_SITE_LINK_DAYS"]) * 86400
    site_id, gen = _claims(token, max_age)
    site = db.session.get(Site, site_id)
    if site is None or site.status != "active":
        raise LinkError("invalid")
    if gen != site.reply_link_gen:
        raise LinkError("revoked")
    return site


def revoke(site: Site, by=None) -> int:
    """End every reply link the site has been given (a notice sent to the wrong person, a link passed on), at once.

    Mail for the site that may still leave (a held or pending notice, a message waiting for a retry, or one that
    failed, which an admin may send again) is given a new link, so that what the officer receives next works; the
    number of those is returned. Mail already sent keeps its dead link: the page it opens says that the office ended
    it, and whom to call."""
    before = site.reply_link_gen or 0
    site.reply_link_gen = before + 1
    audit.record(by, "site", site.id, "revoke_links", None, {})  # the trail names the act; a counter means nothing
    return _relink_waiting(site)


def _relink_waiting(site: Site) -> int:
    """Put a new link in place of this site's old ones in every message not yet sent, leaving the rest of each
    message as it was written (a notice says what that inspection found, whatever has been cleared since). Only links
    that name this site are touched: two sites may share an officer's address."""
    base = current_app.config["TRACKER_BASE_URL"].rstrip("/")
    # A token's own shape (payload.time.signature; a compressed payload starts with a dot), so that a full stop
    # written after a link is not taken as part of it.
    found = re.compile(re.escape(f"{base}/r/") + r"(\.?[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)")
    fresh = link(site)

    def swap(match: re.Match) -> str:
        return fresh if _site_named(match.group(1)) == site.id else match.group(0)

    # Every row that may still leave: waiting or held, being sent (a failed try goes back to pending with this body;
    # the try under way has built its message already), or failed (an admin may send it again).
    rows = db.session.scalars(select(Outbox).where(
        Outbox.status.in_(("pending", "held", "sending", "failed")), Outbox.body_text.contains(f"{base}/r/"))).all()
    changed = 0
    for row in rows:
        text, html = found.sub(swap, row.body_text), found.sub(swap, row.body_html)
        if (text, html) != (row.body_text, row.body_html):
            row.body_text, row.body_html = text, html
            changed += 1
    return changed


def _claims(token: str, max_age: int | None) -> tuple[int, int]:
    """(site id, link generation) of a well-signed token; LinkError('expired') past max_age (None: any age), else
    LinkError('invalid'). Links sent before generations existed carry none: generation 0."""
    try:
        data = _Stamped(_serializer()).loads(str(token or ""), max_age=max_age)
        return int(data["site"]), int(data.get("gen", 0))
    except SignatureExpired:
        raise LinkError("expired") from None
    except (BadSignature, KeyError, TypeError, ValueError, AttributeError):
        raise LinkError("invalid") from None


def _site_named(token: str) -> int | None:
    """The site a well-signed link names, whatever its age or generation."""
    try:
        return _claims(token, None)[0]
    except LinkError:
        return None


def open_actions(site: Site) -> list[tuple[Action, str]]:
    """The site's actions not yet cleared, with their Korean labels, the soonest due first."""
    rows = db.session.scalars(select(Action).where(Action.site_id == site.id, Action.status != "cleared")
                              .order_by(Action.due_at, Action.id)).all()
    return [(a, checklist.item_label(a.item_key)) for a in rows]


def check_hourly(model, site_id: int, at_column, message: str) -> None:
    """At most TRACKER_SITE_REPLIES_PER_HOUR rows of a site's own (replies, self-checks) an hour: a leaked link
    cannot flood the office. 429 with the message otherwise."""
    limit = int(current_app.config["TRACKER_SITE_REPLIES_PER_HOUR"])
    recent = db.session.scalar(select(func.count()).select_from(model).where(
        model.site_id == site_id, at_column > clock.now() - timedelta(hours=1)))
    if recent >= limit:
        raise ServiceError(message, status=429)


def reply(site: Site, action_id, note: str, photos: list[bytes]) -> ActionReply:
    """Record what the site did about one of its open actions; the action becomes reported."""
    action = db.session.get(Action, action_id) if str(action_id or "").isdigit() else None
    if action is None or action.site_id != site.id or action.status == "cleared":
        raise ServiceError(_("이 사업장의 조치할 사항이 아닙니다. 페이지를 새로 고치세요."), status=404)
    check_hourly(ActionReply, site.id, ActionReply.created_at, _("보고가 너무 많습니다. 한 시간 뒤에 다시 보내세요."))
    note = str(note or "").strip()
    errors = {}
    if not note:
        errors["note"] = _("무엇을 했는지 적어 주세요")
    elif len(note) > NOTE_MAX:
        errors["note"] = _("%(n)s자를 넘을 수 없습니다", n=NOTE_MAX)
    if len(photos) > MAX_PHOTOS:
        errors["photos"] = _("사진은 %(n)s장까지 올릴 수 있습니다", n=MAX_PHOTOS)
    prepared = []
    for raw in photos[:MAX_PHOTOS]:
        try:
            prepared.append(inspections.prepare_photo(raw, "reply"))
        except ServiceError as exc:
            errors["photos"] = exc.message
    if errors:
        raise ServiceError("; ".join(errors.values()), errors=errors)
    for p in prepared:  # stored before any row names them, as inspectors' photos are
        inspections.store_photo(p)
    shas = [p["sha256"] for p in prepared] + [None, None]
    row = ActionReply(action_id=action.id, site_id=site.id, note=note, photo1_sha256=shas[0], photo2_sha256=shas[1],
                      created_at=clock.now())
    db.session.add(row)
    action.status = "reported"
    db.session.flush()
    return row


def waiting_stmt():
    """Replies waiting for review, oldest first, with their action and site."""
    return (select(ActionReply).join(Action, Action.id == ActionReply.action_id)
            .where(ActionReply.outcome.is_(None), Action.status == "reported")
            .order_by(ActionReply.created_at, ActionReply.id))


def review(reply_id: int, accept: bool, by) -> ActionReply:
    """Accept a reply (its action is cleared, with the reply as evidence) or ask again (the action is open again)."""
    row = db.session.get(ActionReply, reply_id)
    if row is None or row.outcome is not None or row.action.status != "reported":
        raise ServiceError(_("이미 처리된 보고입니다."), status=409)
    now = clock.now()
    row.outcome, row.reviewed_at, row.reviewed_by_id = ("accepted" if accept else "again"), now, by.id
    before = {"status": "reported"}
    if accept:
        row.action.status, row.action.cleared_at = "cleared", now
    else:
        # Past its due date it escalates again at the next hourly run, as any open action does.
        row.action.status = "open"
    audit.record(by, "action", row.action_id, "accept_reply" if accept else "reply_again", before,
                 {"status": row.action.status, "reply": row.id})
    db.session.flush()
    return row


def waiting_count() -> int:
    """How many replies wait for review."""
    return db.session.scalar(select(func.count()).select_from(waiting_stmt().subquery()))

