"""The register of sites: validation, create/edit/close, counts by dong and band, QR tokens and codes."""
import io
import re
import secrets
import unicodedata

import qrcode
import qrcode.image.svg
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, or_, select, update

from .. import clock, district
from ..addresses import clean_address
from ..extensions import db
from ..models import Site, Task
from . import ServiceError, audit, rollup, shown

FIELDS = ("name", "business_no", "dong", "address", "headcount", "manager_name", "manager_phone", "manager_email")
# Column widths of the site table; longer text is refused with a message instead of failing in the database.
MAX_LEN = {"name": 200, "address": 300, "manager_name": 100, "manager_phone": 40}
# Far above any call centre, and far below PostgreSQL's integer limit.
MAX_HEADCOUNT = 1_000_000


def normalize_business_no(raw) -> str | None:
    """'1234567890', '123-45-67890' or '123 45 67890' as '123-45-67890'; None when it is not ten digits."""
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)  # a spreadsheet cell typed as a number: 1078012345.0
    digits = re.sub(r"[\s\-.]", "", str(raw or "")).strip()
    if not re.fullmatch(r"\d{10}", digits):
        return None
    return f"{digits[:3]}-{digits[3:5]}-{digits[5:]}"


def parse_headcount(raw) -> int | None:
    """'1,204명', ' 85 ', 85.0 as an int (negative ones too: validate() refuses them); None when not a whole number."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        return int(raw) if raw.is_integer() else None
    text = re.sub(r"[\s,]", "", unicodedata.normalize("NFKC", str(raw or "")))
    text = re.sub(r"(명|인)$", "", text)
    if not re.fullmatch(r"[-+]?\d+", text):
        return None
    # Python refuses to read an int of thousands of digits; any count this long is simply too large.
    return int(text) if len(text) <= 12 else (MAX_HEADCOUNT + 1) * (-1 if text[0] == "-" else 1)


def validate(data: dict) -> tuple[dict, dict]:
    """Clean a site's fields; returns (clean, errors) with errors keyed by field."""
    d = district.current()
    clean, errors = {}, {}
    name = str(data.get("name") or "").strip()
    if not name:
        errors["name"] = _("사업장명이 비어 있습니다")
    clean["name"] = name
    raw_no = data.get("business_no")
    bno = normalize_business_no(raw_no)
    if bno is None:
        errors["business_no"] = (_("사업자등록번호가 비어 있습니다") if not str(raw_no or "").strip() else
                                 _("사업자등록번호 '%(v)s'은(는) 10자리 숫자가 아닙니다", v=shown(raw_no)))
    clean["business_no"] = bno
    raw_dong = data.get("dong")
    dong = d.canonical_dong(raw_dong)
    if dong is None:
        errors["dong"] = (_("행정동이 비어 있습니다") if not str(raw_dong or "").strip() else
                          _("행정동 '%(v)s'은(는) 이 구의 행정동이 아닙니다", v=shown(raw_dong)))
    clean["dong"] = dong
    raw_hc = data.get("headcount")
    hc = parse_headcount(raw_hc)
    if hc is None:
        errors["headcount"] = (_("종사자수가 비어 있습니다") if raw_hc is None or str(raw_hc).strip() == "" else
                               _("종사자수 '%(v)s'은(는) 숫자가 아닙니다", v=shown(raw_hc)))
    elif hc < 0:
        errors["headcount"] = _("종사자수 '%(v)s'은(는) 0 이상이어야 합니다", v=shown(raw_hc))
        hc = None
    elif hc > MAX_HEADCOUNT:
        errors["headcount"] = _("종사자수 '%(v)s'은(는) 너무 큽니다", v=shown(raw_hc))
        hc = None
    clean["headcount"] = hc
    for f in ("address", "manager_name", "manager_phone"):
        clean[f] = str(data.get(f) or "").strip()
    raw_email = str(data.get("manager_email") or "").strip()
    clean["manager_email"] = clean_address(raw_email) if raw_email else ""
    if clean["manager_email"] is None:
        errors["manager_email"] = _(
            "방역담당자 이메일 '%(v)s'은(는) 올바른 이메일 주소가 아닙니다 (예: name@example.com)", v=shown(raw_email))
        clean["manager_email"] = ""
    if "self_check" in data:  # optional: an import or API call without it leaves the site's setting as it is
        clean["self_check"] = data["self_check"] in (True, 1) or str(data["self_check"]).strip().lower() in (
            "1", "true", "y", "yes", "on", "예", "o")
    labels = {"name": _("사업장명"), "address": _("소재지"), "manager_name": _("방역담당자"),
              "manager_phone": _("연락처")}
    for f, limit in MAX_LEN.items():
        if f not in errors and len(clean[f]) > limit:
            errors[f] = _("%(label)s은(는) %(n)s자를 넘을 수 없습니다", label=labels[f], n=limit)
    return clean, errors


def _apply(site: Site, clean: dict) -> None:
    for f in FIELDS:
        setattr(site, f, clean[f])
    if "self_check" in clean:
        site.self_check = clean["self_check"]
    # The band is never typed: it always follows the head count.
    site.size_band = district.current().band_for(site.headcount)


def refresh_bands(by=None) -> int:
    """Bring every site's stored size band in line with the configured edges (after TRACKER_BAND_EDGES changed);
    returns how many sites moved. Their audit rows and the dashboard's rollup follow."""
    band = district.current().band_case(Site.headcount)
    moved = db.session.execute(select(Site.id, Site.size_band, band).where(Site.size_band != band)).all()
    if not moved:
        return 0
    db.session.execute(update(Site).where(Site.size_band != band).values(size_band=band)
                       .execution_options(synchronize_session=False))
    for sid, old, new in moved:
        audit.record(by, "site", sid, "update", {"size_band": old}, {"size_band": new})
    # The rollup groups inspections by band: its inspection-level rows are rebuilt from the raw rows in one
    # statement (a change of edges moves most sites at once; it is a one-off, when the district's settings change).
    rollup.rebuild_inspection_rows()
    return len(moved)


def find_by_business_no(bno: str) -> Site | None:
    """The site registered under a (normalised) business number."""
    return db.session.scalar(select(Site).where(Site.business_no == bno))


def _raise_if_invalid(errors: dict) -> None:
    if errors:
        raise ServiceError("; ".join(errors.values()), errors=errors)


def create_site(data: dict, by=None, action: str = "create") -> Site:
    """Register a new active site with a fresh QR token."""
    clean, errors = validate(data)
    if "business_no" not in errors and find_by_business_no(clean["business_no"]):
        errors["business_no"] = _("사업자등록번호 %(v)s은(는) 이미 등록되어 있습니다", v=clean["business_no"])
    _raise_if_invalid(errors)
    site = Site(status="active", qr_token=new_token())
    _apply(site, clean)
    db.session.add(site)
    db.session.flush()
    audit.record(by, "site", site.id, action, None, site.snapshot())
    return site


def update_site(site: Site, data: dict, by=None, action: str = "update") -> bool:
    """Edit a site's details; returns whether anything changed."""
    clean, errors = validate(data)
    if "business_no" not in errors:
        other = find_by_business_no(clean["business_no"])
        if other is not None and other.id != site.id:
            errors["business_no"] = _("사업자등록번호 %(v)s은(는) 이미 등록되어 있습니다", v=clean["business_no"])
    _raise_if_invalid(errors)
    before = site.snapshot()
    _apply(site, clean)
    after = site.snapshot()
    if before == after:
        return False
    audit.record(by, "site", site.id, action, before, after)
    # The dashboard counts a site's inspections under its dong and band as they are now.
    rollup.move_site(site.id, (before["dong"], before["size_band"]), (after["dong"], after["size_band"]))
    return True


def set_status(site: Site, status: str, by=None) -> None:
    """Close a site (its open tasks are cancelled; no new tasks, no inspections) or reopen it."""
    if status not in ("active", "closed"):
        raise ServiceError(_("상태는 active 또는 closed여야 합니다"))
    if site.status == status:
        return
    before = site.snapshot()
    site.status = status
    if status == "closed":
        # Work on a site that no longer exists would turn overdue and missed, and count against its inspector.
        db.session.execute(update(Task).where(Task.site_id == site.id, Task.status == "open")
                           .values(status="cancelled", closed_at=clock.now())
                           .execution_options(synchronize_session=False))
    audit.record(by, "site", site.id, "close" if status == "closed" else "reopen", before, site.snapshot())


# Crockford's base32: no I, L, O or U, so a code read off a wall cannot be typed wrong as a look-alike.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_LOOK_ALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_token() -> str:
    """A random, unguessable QR token whose first eight characters are the short code typed by hand."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(8)) + secrets.token_urlsafe(12)


def rotate_token(site: Site, by=None) -> None:
    """Issue a new QR token; the printed code with the old one stops working."""
    before = {"qr_code": masked_code(short_code(site))}
    site.qr_token = new_token()
    # The trail is on the site page for inspectors too, and the code is their proof of presence: it keeps only
    # the last two characters, enough for a lead to match a printed sheet.
    audit.record(by, "site", site.id, "rotate_qr", before, {"qr_code": masked_code(short_code(site))})


def masked_code(code: str) -> str:
    """A short code with all but its last two characters hidden: ****-**GH."""
    code = str(code or "")
    return "".join("*" if c != "-" and n < len(code) - 2 else c for n, c in enumerate(code))


def short_code(site: Site) -> str:
    """The code printed under the QR, for typing by hand: ABCD-EFGH."""
    code = site.qr_token[:8].upper()
    return f"{code[:4]}-{code[4:]}" if all(c in CODE_ALPHABET for c in code) else code


def find_by_code(code: str) -> Site | None:
    """A site from its QR token or the short code typed by hand (any case, spaces, dash, O for 0, I or L for 1)."""
    code = (code or "").strip()
    if not code:
        return None
    site = db.session.scalar(select(Site).where(Site.qr_token == code))
    if site is not None:
        return site
    raw = code.upper().replace(" ", "")
    clean = raw.replace("-", "").translate(_LOOK_ALIKES)
    # Tokens issued before the unambiguous alphabet keep their old eight characters, dashes included.
    for candidate in dict.fromkeys(c for c in (clean, raw) if len(c) == 8):
        found = db.session.scalars(select(Site).where(
            func.upper(func.substr(Site.qr_token, 1, 8)) == candidate).limit(2)).all()
        if len(found) == 1:
            return found[0]
    return None


def qr_url(site: Site) -> str:
    """The URL the QR code opens: the site's inspection form."""
    return f"{current_app.config['TRACKER_BASE_URL'].rstrip('/')}/s/{site.qr_token}"


def qr_svg(site: Site) -> bytes:
    """The QR code as SVG."""
    img = qrcode.make(qr_url(site), image_factory=qrcode.image.svg.SvgPathImage, box_size=10)
    buf = io.BytesIO()
    img.save(buf)
    return buf.getvalue()


def qr_png(site: Site) -> bytes:
    """The QR code as PNG."""
    img = qrcode.make(qr_url(site), box_size=8, border=2)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def list_stmt(dong=None, band=None, status=None, q=None, no_email=None):
    """Sites filtered by dong, band, status, a name or business-number search and (no_email) the lack of an
    officer's e-mail, ordered for the register."""
    stmt = select(Site)
    if no_email:
        stmt = stmt.where(Site.manager_email == "")
    if dong:
        stmt = stmt.where(Site.dong == dong)
    if band:
        stmt = stmt.where(district.current().band_case(Site.headcount) == band)
    if status:
        stmt = stmt.where(Site.status == status)
    if q:
        q = q.strip()
        digits = re.sub(r"\D", "", q)
        conds = [Site.name.icontains(q, autoescape=True)]
        if len(digits) >= 3:
            conds.append(func.replace(Site.business_no, "-", "").like(f"%{digits}%"))
        stmt = stmt.where(or_(*conds))
    return stmt.order_by(Site.dong, Site.name, Site.id)


def count_without_email() -> int:
    """Active sites with no officer's e-mail on file: they get no result notice."""
    return db.session.scalar(select(func.count()).select_from(Site).where(
        Site.status == "active", Site.manager_email == ""))


def counts(status: str | None = "active") -> dict:
    """Sites by dong and by band, in the report's order, with the total; counted in SQL."""
    d = district.current()
    base = select(Site.dong, func.count()).group_by(Site.dong)
    band = d.band_case(Site.headcount)
    bands = select(band, func.count()).group_by(band)
    if status:
        base = base.where(Site.status == status)
        bands = bands.where(Site.status == status)
    by_dong_raw = dict(db.session.execute(base).all())
    by_band_raw = dict(db.session.execute(bands).all())
    by_dong = {k: by_dong_raw[k] for k in d.dongs if by_dong_raw.get(k)}
    # Sites kept under a dong the configuration no longer lists still count, after the district's own.
    by_dong.update({k: n for k, n in sorted(by_dong_raw.items()) if k not in by_dong and n})
    by_band = {label: by_band_raw.get(label, 0) for label in d.band_labels}
    return {"total": sum(by_dong_raw.values()), "by_dong": by_dong, "by_band": by_band}
