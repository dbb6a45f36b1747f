"""Sites and register statistics as JSON."""
from flask import jsonify, request
from flask_babel import gettext as _

from .. import district
from ..auth import api_roles
from ..extensions import db
from ..services import ServiceError, sites
from . import bp

MAX_LIMIT = 500


def site_json(s) -> dict:
    """The public shape of a site."""
    return {"id": s.id, "name": s.name, "business_no": s.business_no, "dong": s.dong, "headcount": s.headcount,
            "size_band": s.size_band, "status": s.status, "address": s.address}


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ServiceError(_("%(name)s은(는) 정수여야 합니다: '%(v)s'", name=name, v=raw), errors={name: "not an integer"})
    if not low <= value <= high:
        raise ServiceError(_("%(name)s은(는) %(low)s~%(high)s 사이여야 합니다", name=name, low=low, high=high),
                           errors={name: f"must be between {low} and {high}"})
    return value


@bp.route("/sites")
@api_roles()
def list_sites():
    """Sites, filtered by dong, band, status and q, paged with limit and offset."""
    args = request.args
    dong = args.get("dong")
    if dong:
        canon = district.current().canonical_dong(dong)
        if canon is None:
            raise ServiceError(_("행정동 '%(v)s'은(는) 이 구의 행정동이 아닙니다", v=dong), errors={"dong": "unknown dong"})
        dong = canon
    status = args.get("status")
    if status and status not in ("active", "closed"):
        raise ServiceError(_("status는 active 또는 closed여야 합니다"), errors={"status": "must be active or closed"})
    band = args.get("band")
    if band and band not in district.current().band_labels:
        raise ServiceError(_("규모 '%(v)s'은(는) 알 수 없습니다", v=band),
                           errors={"band": "one of " + ", ".join(district.current().band_labels)})
    limit = _int_arg("limit", 100, 1, MAX_LIMIT)
    offset = _int_arg("offset", 0, 0, 10**9)
    stmt = sites.list_stmt(dong=dong, band=band, status=status, q=args.get("q"))
    rows = db.session.scalars(stmt.limit(limit).offset(offset)).all()
    return jsonify(items=[site_json(s) for s in rows], limit=limit, offset=offset)


@bp.route("/stats/sites")
@api_roles()
def site_stats():
    """Active sites by dong and by band, as in the council report."""
    return jsonify(sites.counts())
