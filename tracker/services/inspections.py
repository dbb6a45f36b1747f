"""Checklist inspections: idempotent submit, answers, photos, and the compliance of one inspection."""
import base64
import binascii
import hashlib
import hmac
import io
import secrets
import uuid as uuidlib
from datetime import datetime, timedelta
from typing import NamedTuple

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import and_, bindparam, exists, func, insert, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from .. import clock, schemas, storage
from ..extensions import db
from ..models import (
    CATEGORIES,
    LEADS,
    MODES,
    Answer,
    ChecklistTemplate,
    DongAssignment,
    Inspection,
    Photo,
    Site,
    Task,
    UsedScan,
)
from ..schemas import NOTE_MAX
from . import ServiceError, checklist, location, notices, rollup, schedule

SCAN_SALT = "tracker-qr-scan"
# A scan stays valid proof for a whole working day of offline work before the form reaches the server.
SCAN_MAX_AGE = 24 * 3600
PHOTO_DEFAULT_MAX_MB = 10
PHOTO_DEFAULT_MAX_MP = 24
PHOTOS_DEFAULT_PER_ITEM = 3
# All of a form's photos together, in megapixels from their headers: what one request may ask the worker to decode.
# Phones send 1,600 px (about 2 MP), so 50 photos fit; 30 photos of the largest size are refused before decoding.
PHOTOS_DEFAULT_FORM_MP = 100


# --- presence proof -------------------------------------------------------------------------------

def _scan_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SCAN_SALT)


def scan_token(site: Site, user) -> str:
    """A signed record of 'this user scanned this site's QR now', carried in the form to prove presence once.

    Bound to the user (another inspector cannot use it) and carrying a nonce (used_scan keeps each one used)."""
    return _scan_serializer().dumps({"site": site.id, "user": getattr(user, "id", None),
                                     "nonce": secrets.token_hex(16), "at": clock.now().isoformat()})


def read_scan_token(token: str, site_id: int, user_id: int | None) -> tuple[datetime, str] | None:
    """(the server time of the scan, its nonce) from a signed record; None when stale; ServiceError when forged,
    another site's or another user's."""
    try:
        data = _scan_serializer().loads(token)
        at, nonce = datetime.fromisoformat(data["at"]), str(data["nonce"])
    except (BadSignature, KeyError, TypeError, ValueError):
        raise ServiceError(_("QR 스캔 기록이 올바르지 않습니다."),
                           errors={"scan_token": _("QR 스캔 기록이 올바르지 않습니다")}) from None
    if data.get("site") != site_id:
        raise ServiceError(_("QR 스캔 기록이 이 사업장의 것이 아닙니다."),
                           errors={"scan_token": _("다른 사업장의 QR 스캔 기록입니다")})
    if data.get("user") != user_id:
        raise ServiceError(_("QR 스캔 기록이 다른 사용자의 것입니다."),
                           errors={"scan_token": _("다른 사용자의 QR 스캔 기록입니다")})
    # Checked against the project's clock (not the wall clock) so that tests and --at runs agree.
    # A stale proof proves nothing about this visit, but the answers were still given: an inspection queued
    # offline over a weekend is saved, without the proof of presence, rather than refused.
    if clock.now() - at > timedelta(seconds=SCAN_MAX_AGE):
        return None
    return at, nonce


def _use_scan(nonce: str, user_id: int | None, site_id: int) -> bool:
    """Mark a scan record used; False when an inspection already used it (it then proves nothing more)."""
    try:
        with db.session.begin_nested():  # a used nonce undoes this insert only
            db.session.execute(insert(UsedScan), {"nonce": nonce, "user_id": user_id, "site_id": site_id,
                                                  "used_at": clock.now()})
    except IntegrityError:
        return False
    return True


# --- whose form it is -------------------------------------------------------------------------------

FORM_SALT = "tracker-inspection-form"


def _form_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=FORM_SALT)


def form_token(user, client_uuid: str) -> str:
    """A signed 'this form (client_uuid) is this inspector's', carried by the form and by its queued copy on a phone."""
    return _form_serializer().dumps({"user": getattr(user, "id", None), "uuid": client_uuid})


def signed_for_another(token: str | None, user) -> bool:
    """Whether a form token is genuinely signed, for a user other than this one: such a form, given back to this
    user (an error page), keeps its own token, so that it can never be sent under this login."""
    try:
        return _form_serializer().loads(token or "")["user"] != getattr(user, "id", None)
    except (BadSignature, KeyError, TypeError):
        return False


def _check_owner(data: dict, by, required: bool) -> None:
    """Refuse a submission whose form was made for another inspector (409): a shared phone's queue must never file
    one inspector's work under another's login. Pages require the token; the API checks it when sent."""
    token = data.get("form_token")
    if not token:
        if required:
            raise ServiceError(_("양식 확인 값이 없습니다. 양식을 새로 연 뒤 다시 제출하세요."),
                               errors={"form_token": _("양식 확인 값이 없습니다")})
        return
    try:
        signed = _form_serializer().loads(token)
        user_id, uuid = signed["user"], signed["uuid"]
    except (BadSignature, KeyError, TypeError):
        raise ServiceError(_("양식 확인 값이 올바르지 않습니다. 양식을 새로 연 뒤 다시 제출하세요."),
                           errors={"form_token": _("양식 확인 값이 올바르지 않습니다")}) from None
    if uuid != data.get("client_uuid"):
        raise ServiceError(_("양식 확인 값이 이 점검의 것이 아닙니다. 양식을 새로 연 뒤 다시 제출하세요."),
                           errors={"form_token": _("다른 양식의 확인 값입니다")})
    if user_id != getattr(by, "id", None):
        raise ServiceError(_("다른 점검원이 작성한 점검 결과라 이 계정으로는 보낼 수 없습니다. 작성한 점검원이 이 "
                             "휴대폰에서 로그인하면 보냅니다."),
                           errors={"form_token": _("다른 점검원이 작성한 점검 결과입니다")}, status=409)


# --- the form -------------------------------------------------------------------------------------

def items_for(tpl: ChecklistTemplate, mode: str) -> list:
    """The template's items that apply to a mode, in form order: by category, then position."""
    order = {c: n for n, c in enumerate(CATEGORIES)}
    return sorted((i for i in tpl.items if i.applies_to(mode)), key=lambda i: (order.get(i.category, 99), i.position))


def grouped(items: list) -> list[tuple[str, str, list]]:
    """Items as (category, its Korean/English label pair, items) groups, in the fixed category order."""
    out = []
    for cat in CATEGORIES:
        rows = [i for i in items if i.category == cat]
        if rows:
            out.append((cat, checklist.CATEGORY_LABELS[cat], rows))
    return out


def new_client_uuid() -> str:
    """A fresh idempotency key for a form."""
    return str(uuidlib.uuid4())


# --- parsing --------------------------------------------------------------------------------------

_PUBLISHED_ID = ChecklistTemplate.current_stmt().with_only_columns(ChecklistTemplate.id).scalar_subquery()
_SAVED_ID = select(Inspection.id).where(Inspection.client_uuid == bindparam("uuid")).scalar_subquery()
# The site, the inspection already saved under the client's UUID and the published checklist, in one round trip.
# FOR UPDATE (PostgreSQL; SQLite has one writer anyway): two inspections of one site take turns, so that the second
# sees the first's follow-up actions and tasks rather than opening them again.
_SITE = (select(Site, _SAVED_ID, _PUBLISHED_ID).with_for_update(of=Site)
         .execution_options(populate_existing=True))
_SITE_BY_TOKEN = _SITE.where(Site.qr_token == bindparam("token"))
_SITE_BY_ID = _SITE.where(Site.id == bindparam("site_id"))


def _find_site(data: dict, client_uuid: str | None, errors: dict) -> tuple:
    """The site (by QR token or id), the id of an inspection already saved under client_uuid and the published
    template's id, in one query."""
    token, site_id = data.get("qr_token"), data.get("site_id")
    row = None
    if token:
        row = db.session.execute(_SITE_BY_TOKEN, {"token": token, "uuid": client_uuid}).first()
    elif site_id is not None:
        row = db.session.execute(_SITE_BY_ID, {"site_id": site_id, "uuid": client_uuid}).first()
    if row is None:
        errors["qr_token" if token else "site_id"] = (
            _("QR 코드가 유효하지 않습니다. 새 코드가 발급되었을 수 있습니다.") if token
            else _("사업장을 찾을 수 없습니다"))
        return None, None, db.session.scalar(select(_PUBLISHED_ID))
    site, saved_id, tpl_id = row
    if site.status != "active":
        errors["site_id"] = _("%(name)s은(는) 폐업 처리되어 점검할 수 없습니다", name=site.name)
    return site, saved_id, tpl_id


def _check_answers(given: dict, items_all: dict, mode: str, errors: dict) -> list[dict]:
    """Every applicable item of the checklist answered, and nothing else; errors keyed answers.<item_key>."""
    clean = []
    for key, ans in given.items():
        item = items_all.get(key)
        field = f"answers.{key}"
        if item is None:
            errors[field] = _("알 수 없는 항목입니다: %(k)s", k=key)
        elif not item.applies_to(mode):
            errors[field] = _("'%(label)s'은(는) %(mode)s에 해당하지 않는 항목입니다", label=item.label_ko,
                              mode=mode_label(mode))
        else:
            clean.append({"item_key": key, "value": ans["value"], "note": ans["note"]})
    for key, item in items_all.items():
        if item.applies_to(mode) and key not in given:
            errors[f"answers.{key}"] = _("'%(label)s'에 답하지 않았습니다", label=item.label_ko)
    return clean


def mode_label(mode: str) -> str:
    """The mode in words."""
    return {"onsite": _("현장점검"), "phone": _("전화 모니터링")}.get(mode, mode)


# --- photos ---------------------------------------------------------------------------------------

def _photo_limit() -> int:
    return int(current_app.config.get("TRACKER_PHOTO_MAX_MB", PHOTO_DEFAULT_MAX_MB)) * 1024 * 1024


def _max_pixels() -> int:
    return int(current_app.config.get("TRACKER_PHOTO_MAX_MP", PHOTO_DEFAULT_MAX_MP)) * 1_000_000


def _not_an_image(field: str) -> ServiceError:
    return ServiceError(_("사진 파일이 아닙니다. JPEG나 PNG 같은 이미지 파일만 올릴 수 있습니다."),
                        errors={field: _("이미지 파일이 아닙니다")})


def open_upload(raw: bytes, item_key: str) -> Image.Image:
    """The uploaded image, opened but not decoded: Pillow reads only the header (format and size) at open.

    A few kilobytes of PNG can claim 7,000 × 8,500 pixels and take seconds and half a gigabyte to decode, so the
    size is refused from the header, before anything is decoded (TRACKER_PHOTO_MAX_MP; phones send 1,600 px)."""
    field = f"photos.{item_key}"
    limit = _photo_limit()
    if len(raw) > limit:
        raise ServiceError(_("사진이 너무 큽니다. %(mb)sMB 이하만 올릴 수 있습니다.", mb=limit // (1024 * 1024)),
                           errors={field: _("사진이 %(mb)sMB를 넘습니다", mb=limit // (1024 * 1024))})
    # Pillow's own guard, at twice its limit, then stands behind this one (it warns between the two, where the
    # check below refuses by name).
    Image.MAX_IMAGE_PIXELS = _max_pixels()
    mp = _max_pixels() // 1_000_000
    too_many = ServiceError(_("사진의 화소 수가 너무 많습니다 (%(mp)s메가픽셀까지).", mp=mp),
                            errors={field: _("사진의 화소 수가 %(mp)s메가픽셀을 넘습니다", mp=mp)})
    try:
        img = Image.open(io.BytesIO(raw))
    except Image.DecompressionBombError:
        raise too_many from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise _not_an_image(field) from None
    if img.width * img.height > _max_pixels():
        raise too_many
    return img


def prepare_photo(raw: bytes, item_key: str, img: Image.Image | None = None) -> dict:
    """Re-encode an uploaded image as JPEG without EXIF (GPS included), at most TRACKER_PHOTO_MAX_PX a side."""
    img = img or open_upload(raw, item_key)
    side = int(current_app.config.get("TRACKER_PHOTO_MAX_PX", 1600))
    # Decoded at reduced size where the format allows: a JPEG scales by 1/2, 1/4 or 1/8 while decoding (draft),
    # at no less than the size kept; other formats are decoded whole (at most the pixel limit) and then reduced.
    img.draft("RGB", (side, side))
    try:
        img.load()
    except (OSError, Image.DecompressionBombError, ValueError):
        raise _not_an_image(f"photos.{item_key}") from None
    img = ImageOps.exif_transpose(img)  # keep the picture upright once the orientation tag is gone
    if img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    img.thumbnail((side, side))  # reduce() by whole factors first, then resample the rest
    out = io.BytesIO()
    # A fresh image object carries no EXIF, XMP or ICC data unless asked to.
    img.save(out, format="JPEG", quality=85, optimize=True)
    data = out.getvalue()
    return {"item_key": item_key, "data": data, "sha256": hashlib.sha256(data).hexdigest(),
            "width": img.width, "height": img.height, "size_bytes": len(data)}


# A signature pad of a phone's width gives a PNG of 10 to 40 KB; anything far larger is not a signature.
SIGNATURE_MAX_BYTES = 512 * 1024
SIGNATURE_PREFIX = "data:image/png;base64,"


def prepare_signature(data_url: str) -> dict:
    """The officer's signature, sent as a PNG data URL by the canvas, checked and re-encoded as photos are (on white:
    the canvas's transparent background would turn black in a JPEG)."""
    error = ServiceError(_("확인 서명을 읽을 수 없습니다. 서명을 지우고 다시 하세요."),
                         errors={"signature": _("확인 서명이 PNG 이미지가 아닙니다")})
    text = str(data_url or "").strip()
    if not text.startswith(SIGNATURE_PREFIX):
        raise error
    if len(text) > SIGNATURE_MAX_BYTES * 4 // 3 + len(SIGNATURE_PREFIX) + 4:
        raise ServiceError(_("확인 서명이 너무 큽니다."), errors={"signature": _("확인 서명이 너무 큽니다")})
    try:
        raw = base64.b64decode(text[len(SIGNATURE_PREFIX):], validate=True)
        img = Image.open(io.BytesIO(raw))
        if img.format != "PNG" or img.width * img.height > 4_000_000:
            raise error
        img.load()
    except (binascii.Error, ValueError, UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise error from None
    flat = Image.new("RGB", img.size, "white")
    flat.paste(img.convert("RGBA"), mask=img.convert("RGBA").getchannel("A"))
    buf = io.BytesIO()
    flat.save(buf, format="PNG")
    return prepare_photo(buf.getvalue(), "signature")


def photo_bytes(sha256: str) -> bytes:
    """A stored photo's (or signature's) bytes, for the PDF; FileNotFoundError when the store lacks it."""
    stored = open_photo(sha256)
    if stored is None:
        raise FileNotFoundError(sha256)
    with stored.body as body:
        return body.read()


def _store_photos(prepared: list[dict]) -> None:
    """Store each photo before any row names it. A store that is down refuses the whole inspection with a 503:
    nothing is written, and the phone keeps the inspection and sends it again (keys are content hashes, so what
    was stored before the failure is simply stored again, or stays as a harmless orphan)."""
    store = storage.current()
    try:
        for p in prepared:
            store.put(storage.photo_key(p["sha256"]), p["data"])
    except storage.StorageUnavailable as exc:
        current_app.logger.warning("photo store unavailable, inspection refused: %s", exc)
        raise ServiceError(_("사진 저장소에 지금 연결할 수 없어 점검 결과를 저장하지 않았습니다. "
                             "잠시 후 다시 보내세요."),
                           errors={"photos": _("사진 저장소에 연결할 수 없습니다")}, status=503) from None


def open_photo(sha256: str) -> storage.Stored | None:
    """A stored photo for reading, None when the store lacks it (storage.StorageUnavailable when it is down)."""
    try:
        return storage.current().open(storage.photo_key(sha256))
    except storage.NotStored:
        return None


def store_photo(photo: dict) -> None:
    """Store one prepared photo (from prepare_photo) under its hash, through the photos' store."""
    _store_photos([photo])


# --- submit ---------------------------------------------------------------------------------------

def _replayed(insp: Inspection, by) -> Inspection:
    """The saved inspection a replayed client_uuid names, if the caller may see it; a UUID is not a password."""
    if by is not None and getattr(by, "role", None) and not can_view(by, insp):
        raise ServiceError(_("이 client_uuid는 다른 점검원의 점검에 이미 쓰였습니다. 양식을 새로 여세요."),
                           errors={"client_uuid": _("다른 점검원이 이미 쓴 값입니다")}, status=409)
    return insp


def find(client_uuid: str) -> Inspection | None:
    """The inspection saved under a client UUID."""
    return db.session.scalar(select(Inspection).where(Inspection.client_uuid == client_uuid))


def submit(data: dict, by=None, photos: list[tuple[str, bytes]] | None = None,
           require_form_token: bool = False, signature: str | None = None) -> tuple[Inspection, bool]:
    """Save one inspection, or return the one already saved under its client_uuid: (inspection, created).

    data: the input as sent (a JSON body, or the form's fields), read by schemas.Submission: site_id or qr_token,
    mode, client_uuid, answers {key: {value, note}}, and optionally device_time, contact_name, called_at, lat and
    lng (kept only with the user's consent), location_consent, note, scan_token, offline_qr_token,
    offline_scanned_at, form_token. photos: (item_key, bytes) pairs. signature: the officer's 확인 서명 as a PNG
    data URL (on site only).
    Nothing is saved when anything is wrong; the ServiceError names each wrong field.
    """
    data, shape_errors = schemas.load(schemas.SUBMISSION, data)  # types, formats, ranges, lengths
    if "client_uuid" not in shape_errors:
        _check_owner(data, by, require_form_token)
    errors: dict = {}
    client_uuid = data.get("client_uuid")
    site, saved_id, tpl_id = _find_site(data, client_uuid, errors)
    if saved_id is None and site is None and client_uuid:
        # A replay whose QR code was rotated (or site lookup failed) since the first try still gets its record.
        saved = find(client_uuid)
        saved_id = saved.id if saved else None
    if saved_id is not None:
        return _replayed(db.session.get(Inspection, saved_id), by), False
    mode = data.get("mode")  # absent when the schema refused it
    tpl, items_all = _template(tpl_id, mode, errors)
    answers = _check_answers(data["answers"], items_all, mode, errors) if mode and "answers" in data else []
    now = clock.now()
    _check_call(data, mode, now, errors)
    presence = _Presence()
    if mode == "onsite" and site is not None and "site_id" not in errors:
        presence = _presence(data, site, getattr(by, "id", None), errors)
    prepared = _prepare_photos(photos or [], items_all, mode, errors)
    signed = _prepare_signature(signature, mode, errors)
    errors.update(shape_errors)  # the schema's message is the more exact one for a field both name
    if errors:
        raise ServiceError(_("입력을 확인하세요: %(n)s곳이 올바르지 않습니다.", n=len(errors)), errors=errors)
    # The scan record is spent only now that nothing else can refuse the inspection.
    scanned_at = presence.at if presence.nonce and _use_scan(presence.nonce, getattr(by, "id", None), site.id) \
        else None
    row = _row(data, by, site, tpl, answers, items_all, presence, scanned_at, signed, now)
    return _save(row, answers, prepared, items_all, site, by, signed)


def _template(tpl_id: int | None, mode: str | None, errors: dict) -> tuple[ChecklistTemplate, dict]:
    """The checklist the form was opened with (or the one published now), and its items by key."""
    tpl = checklist.published(tpl_id)
    if tpl is None:
        raise ServiceError(_("게시된 점검표가 없습니다. 관리자에게 문의하세요."), errors={"template": "none published"})
    items_all = {i.key: i for i in tpl.items}
    if mode in MODES and not any(i.applies_to(mode) for i in items_all.values()):
        errors["mode"] = _("게시된 점검표에 %(mode)s 항목이 없어 이 방식으로는 점검할 수 없습니다",
                           mode=mode_label(mode))
    return tpl, items_all


def _check_call(data: dict, mode: str | None, now: datetime, errors: dict) -> None:
    """A phone check names the person spoken to, and its call cannot be in the future."""
    if mode == "phone" and not data.get("contact_name", ""):
        errors["contact_name"] = _("통화한 사람의 이름을 입력하세요")
    called_at = data.get("called_at")
    if called_at and called_at > now + timedelta(minutes=10):
        errors["called_at"] = _("통화 시각이 미래입니다")


def _row(data: dict, by, site, tpl, answers: list[dict], items_all: dict, presence: "_Presence",
         scanned_at: datetime | None, signed: dict | None, now: datetime) -> dict:
    """The inspection's columns, its counts worked out once here so that no report has to count answers again."""
    mode = data["mode"]
    phone = mode == "phone"
    values = [a["value"] for a in answers]
    critical_no = sum(a["value"] == "no" and items_all[a["item_key"]].critical for a in answers)
    lat, lng = _position(data, by)
    return dict(
        client_uuid=data.get("client_uuid"), site_id=site.id, template_id=tpl.id, inspector_id=getattr(by, "id", None),
        mode=mode, week=clock.week_of(now), submitted_at=now, device_time=data.get("device_time"),
        contact_name=data.get("contact_name", "") if phone else "",
        called_at=(data.get("called_at") or now) if phone else None,
        qr_scanned_at=scanned_at if mode == "onsite" else None, lat=lat, lng=lng,
        offline_scanned_at=presence.offline_at if mode == "onsite" and scanned_at is None else None,
        note=str(data.get("note") or "").strip()[:NOTE_MAX], yes_count=values.count("yes"),
        no_count=values.count("no"), na_count=values.count("na"), critical_no_count=critical_no,
        compliant=critical_no == 0, signature_sha256=signed["sha256"] if signed else None)


def _position(data: dict, by) -> tuple[float | None, float | None]:
    """The position as sent, kept only from a user who has consented (counting an answer sent with this very
    submission); otherwise the inspection is saved and its position dropped. The page and the API both come here."""
    answer = data.get("location_consent")
    if data.get("lat") is None and data.get("lng") is None and answer is None:
        return None, None  # nothing to decide: no query
    if getattr(by, "id", None) is None or not location.answered_offline(by, answer).given:
        return None, None
    return data.get("lat"), data.get("lng")


class _Presence(NamedTuple):
    at: datetime | None = None  # the server's time of a signed scan record of this user
    nonce: str | None = None  # the record's nonce, to be marked used
    offline_at: datetime | None = None  # the phone's time of a scan made with no signal


def _presence(data: dict, site, user_id: int | None, errors: dict) -> _Presence:
    """What proves presence on site: a scan record signed for this user and site, or else the site's code that the
    phone read with no signal (the form keeps it with the phone's time); a bare qr_token proves nothing."""
    if data.get("scan_token"):
        try:
            read = read_scan_token(data["scan_token"], site.id, user_id)
        except ServiceError as exc:
            errors.update(exc.errors)
            return _Presence()
        if read:
            return _Presence(at=read[0], nonce=read[1])
    code = data.get("offline_qr_token")
    if code and hmac.compare_digest(code.encode(), site.qr_token.encode()):
        return _Presence(offline_at=data.get("offline_scanned_at") or data.get("device_time") or clock.now())
    return _Presence()


def _prepare_photos(photos: list, items_all: dict, mode: str | None, errors: dict) -> list[dict]:
    """Each (item key, bytes) re-encoded; errors keyed photos.<item_key>.

    Everything that can be judged from the headers (how many photos an item has, each one's size, the form's
    total) is judged for all of them before any is decoded, so that a refusal comes back at once."""
    per_item = int(current_app.config.get("TRACKER_PHOTOS_PER_ITEM", PHOTOS_DEFAULT_PER_ITEM))
    counts: dict[str, int] = {}
    for key, _raw in photos:
        counts[key] = counts.get(key, 0) + 1
    opened = []
    for key, raw in photos:
        field = f"photos.{key}"
        if key not in items_all or (mode in MODES and not items_all[key].applies_to(mode)):
            errors[field] = _("알 수 없는 항목의 사진입니다: %(k)s", k=key)
        elif counts[key] > per_item:
            errors[field] = _("한 항목에 사진은 %(n)s장까지 올릴 수 있습니다 (%(given)s장을 보냈습니다)",
                              n=per_item, given=counts[key])
        elif field not in errors:
            try:
                opened.append((key, raw, open_upload(raw, key)))
            except ServiceError as exc:
                errors.update(exc.errors)
    budget = int(current_app.config.get("TRACKER_PHOTOS_FORM_MP", PHOTOS_DEFAULT_FORM_MP)) * 1_000_000
    if sum(img.width * img.height for _k, _r, img in opened) > budget:
        errors["photos"] = _("사진이 모두 합쳐 너무 큽니다 (%(mp)s메가픽셀까지). 사진 수를 줄이거나 작게 찍으세요.",
                             mp=budget // 1_000_000)
    if errors:  # the submission is refused anyway: decode nothing
        return []
    prepared = []
    for key, raw, img in opened:
        try:
            prepared.append(prepare_photo(raw, key, img))
        except ServiceError as exc:
            errors.update(exc.errors)
    return prepared


def _prepare_signature(signature: str | None, mode: str | None, errors: dict) -> dict | None:
    """The re-encoded signature, or None when none was drawn; only an on-site check has one."""
    if not signature:
        return None
    if mode != "onsite":
        errors["signature"] = _("확인 서명은 현장점검에서만 받습니다")
        return None
    try:
        return prepare_signature(signature)
    except ServiceError as exc:
        errors.update(exc.errors)
        return None


def _save(row: dict, answers: list[dict], prepared: list[dict], items_all: dict, site, by,
          signed: dict | None = None) -> tuple[Inspection, bool]:
    """Write a checked inspection, store its photos (and signature), open its follow-up and count it in the
    rollup."""
    photo_rows = [{k: p[k] for k in ("item_key", "sha256", "width", "height", "size_bytes")} for p in prepared]
    # Stored first, so that no committed row ever names a photo the store lacks. On SQLite this is before the
    # write lock is taken; on PostgreSQL the site's row lock (_SITE) is held meanwhile, which only makes a second
    # inspection of the same site wait.
    _store_photos(prepared + ([signed] if signed else []))  # the signature too: no row of its own
    insp = _write(row, answers, photo_rows)
    if insp is None:
        # A twin of this submission, sent at the same moment, was saved after this one looked: return that one.
        return _replayed(find(row["client_uuid"]), by), False
    schedule.after_inspection(insp, items_all, answers, site.dong)
    notices.after_inspection(insp, site)  # after the actions it names are opened
    # Last: the rollup's rows are shared by every submit of the week and dong; lock them for the least time.
    rollup.add(insp, site.dong, site.size_band)
    return insp, True


# The inspection comes back as a mapped object, which the caller reads; its answers and photos go in as Core INSERTs
# on the tables, several times cheaper than ORM ones. None of them passes through the unit of work, so rollup.add
# counts them, not the after_flush hook.
_INSERT_INSPECTION = insert(Inspection).returning(Inspection)
_INSERT_ANSWERS = insert(Answer.__table__)
_INSERT_PHOTOS = insert(Photo.__table__)


def template_version(tpl_id: int | None) -> int | None:
    """The version of a published template, from the process's cache."""
    tpl = checklist.published(tpl_id)
    return tpl.version if tpl else None


def _write(row: dict, answers: list[dict], photos: list[dict]) -> Inspection | None:
    """Insert an inspection with its answers and photos; None, with nothing written, when a twin of this submission
    sent at the same moment took its client_uuid first."""
    try:
        with db.session.begin_nested():  # a lost race undoes this insert, not the caller's whole transaction
            insp = db.session.scalar(_INSERT_INSPECTION, row)
    except IntegrityError:
        if find(row["client_uuid"]) is None:
            raise
        return None
    answer_rows = [{"inspection_id": insp.id, **a} for a in answers]
    photo_rows = [{"inspection_id": insp.id, **p} for p in photos]
    db.session.execute(_INSERT_ANSWERS, answer_rows)
    if photo_rows:
        db.session.execute(_INSERT_PHOTOS, photo_rows)
    # The caller describes what was just written: no need to read it back while the write lock is held.
    set_committed_value(insp, "answers", [Answer(**a) for a in answer_rows])
    set_committed_value(insp, "photos", [Photo(**p) for p in photo_rows])
    return insp


# --- reading --------------------------------------------------------------------------------------

def can_view(user, insp: Inspection) -> bool:
    """Leads and admins see every inspection; inspectors see their own."""
    return user.role in LEADS or insp.inspector_id == user.id


def get(inspection_id: int) -> Inspection | None:
    """One inspection with its site, template items, inspector, answers and photos."""
    return db.session.scalar(select(Inspection).where(Inspection.id == inspection_id).options(
        selectinload(Inspection.answers), selectinload(Inspection.photos),
        selectinload(Inspection.template).selectinload(ChecklistTemplate.items),
        selectinload(Inspection.site), selectinload(Inspection.inspector)))


def result(insp: Inspection) -> dict:
    """What the result page shows: failed items (critical first), passed and not-applicable ones."""
    items = {i.key: i for i in insp.template.items}
    rows = [(items.get(a.item_key), a) for a in insp.answers]
    failed = sorted([r for r in rows if r[1].value == "no"],
                    key=lambda r: (not (r[0] and r[0].critical), r[0].position if r[0] else 0))
    by_item = {}
    for p in insp.photos:
        by_item.setdefault(p.item_key, []).append(p)
    return {"failed": failed, "passed": [r for r in rows if r[1].value == "yes"],
            "na": [r for r in rows if r[1].value == "na"], "photos": by_item}


def list_stmt(site_id: int | None = None, week: str | None = None, inspector_id: int | None = None,
              full: bool = False):
    """Inspections, newest first, filtered by site, week and inspector; full loads answers and photos too."""
    stmt = select(Inspection).options(selectinload(Inspection.site), selectinload(Inspection.inspector))
    if full:
        stmt = stmt.options(selectinload(Inspection.answers), selectinload(Inspection.photos),
                            selectinload(Inspection.template))
    if site_id is not None:
        stmt = stmt.where(Inspection.site_id == site_id)
    if week:
        stmt = stmt.where(Inspection.week == week)
    if inspector_id is not None:
        stmt = stmt.where(Inspection.inspector_id == inspector_id)
    return stmt.order_by(Inspection.submitted_at.desc(), Inspection.id.desc())


def photo_visible(user, sha256: str) -> bool:
    """Whether the user may see a photo: any inspection they may view holds it, or a site's reply (조치 보고) that
    every inspector and lead reviews."""
    from ..models import ActionReply
    if db.session.scalar(select(exists().where(or_(ActionReply.photo1_sha256 == sha256,
                                                   ActionReply.photo2_sha256 == sha256)))):
        return True
    if user.role in LEADS:
        return db.session.scalar(select(or_(exists().where(Photo.sha256 == sha256),
                                            exists().where(Inspection.signature_sha256 == sha256))))
    return db.session.scalar(select(or_(
        exists().where(Photo.sha256 == sha256, Photo.inspection_id == Inspection.id,
                       Inspection.inspector_id == user.id),
        exists().where(Inspection.signature_sha256 == sha256, Inspection.inspector_id == user.id))))


def week_sites(user, week: str | None = None) -> list[tuple[Site, int | None, bool]]:
    """The user's sites for a week: (site, id of that week's latest inspection or None, whether a visit on site
    is asked for), not yet done first.

    Theirs are the sites with a task of that week assigned to them, or unassigned in their dongs; a site with no
    task that week (not yet scheduled) is theirs by dong. With no dong assigned, every dong is theirs.
    """
    week = week or clock.week_of()
    mine = select(DongAssignment.dong).where(DongAssignment.inspector_id == user.id)
    in_my_dongs = Site.dong.in_(mine) if db.session.scalar(select(mine.exists())) else true()
    task = (select(Task.id).where(Task.site_id == Site.id, Task.week == week, Task.status != "cancelled")
            .correlate(Site))
    theirs = or_(task.where(or_(Task.assignee_id == user.id,
                                and_(Task.assignee_id.is_(None), in_my_dongs))).exists(),
                 and_(~task.exists(), in_my_dongs))
    onsite = task.where(Task.status == "open", Task.required_mode == "onsite").exists()
    latest = (select(func.max(Inspection.id)).where(Inspection.site_id == Site.id, Inspection.week == week)
              .correlate(Site).scalar_subquery())
    stmt = (select(Site, latest, onsite).where(Site.status == "active", theirs)
            .order_by(latest.is_not(None), Site.dong, Site.name, Site.id))
    return [(s, i, bool(o)) for s, i, o in db.session.execute(stmt).all()]


