"""The access log of personal data (개인정보 접속기록): one record per view, export or download that shows it, and the
admins' monthly review of those records (점검 완료).

Records are written through the edge (edge.record), which commits them even on a GET; they are never updated, and
deleted only by the retention purge (services/retention.py), past TRACKER_ACCESS_LOG_DAYS.
"""
from datetime import date, datetime, time, timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select
from sqlalchemy.orm import selectinload

from .. import clock
from ..extensions import db
from ..models import AccessLog, AccessReview, User
from . import ServiceError

REVIEW_MONTHS = 12  # months the admin page lists with their counts and review


def add(user_id: int | None, user_email: str, ip: str, action: str, subject: dict, reason: str = "") -> None:
    """Add one access record in the current transaction (the edge calls this; see web.log_access)."""
    db.session.add(AccessLog(user_id=user_id, user_email=user_email, ip=(ip or "")[:64], action=action,
                             subject=subject, reason=(reason or "")[:300]))


def _day_start(day: date) -> datetime:
    """Midnight of a district day, as an aware time."""
    return datetime.combine(day, time(0), tzinfo=clock.zone())


def list_stmt(user: str | None = None, first: date | None = None, last: date | None = None,
              action: str | None = None):
    """Records newest first, by account (its id or e-mail), days in the district (inclusive) and action."""
    stmt = select(AccessLog).order_by(AccessLog.at.desc(), AccessLog.id.desc())
    if user:
        if user.isdigit():
            stmt = stmt.where(AccessLog.user_id == int(user))
        else:
            stmt = stmt.where(func.lower(AccessLog.user_email) == user.lower())
    if first:
        stmt = stmt.where(AccessLog.at >= _day_start(first))
    if last:
        stmt = stmt.where(AccessLog.at < _day_start(last + timedelta(days=1)))
    if action:
        stmt = stmt.where(AccessLog.action == action)
    return stmt


def _month_start(month: str) -> datetime:
    year, mon = (int(p) for p in month.split("-"))
    return datetime(year, mon, 1, tzinfo=clock.zone())


def _next_month(month: str) -> str:
    year, mon = (int(p) for p in month.split("-"))
    return f"{year + mon // 12:04d}-{mon % 12 + 1:02d}"


def recent_months(n: int = REVIEW_MONTHS) -> list[str]:
    """The last n months in the district, this one first, as YYYY-MM."""
    today = clock.today()
    index = today.year * 12 + today.month - 1
    return [f"{(index - k) // 12:04d}-{(index - k) % 12 + 1:02d}" for k in range(n)]


def months(n: int = REVIEW_MONTHS) -> list[dict]:
    """The last n months, this one first: {month, records, review (AccessReview or None), first and last day};
    three queries."""
    labels = recent_months(n)
    # One row: a conditional sum per month (the same SQL on both engines, no date functions).
    bounds = [(_month_start(m), _month_start(_next_month(m))) for m in labels]
    counts = db.session.execute(select(*[
        func.sum(case(((AccessLog.at >= lo) & (AccessLog.at < hi), 1), else_=0)) for lo, hi in bounds])
        .where(AccessLog.at >= bounds[-1][0])).one()
    reviews = {r.month: r for r in db.session.scalars(select(AccessReview).where(AccessReview.month.in_(labels))
                                                       .options(selectinload(AccessReview.reviewed_by)))}
    return [{"month": m, "records": c or 0, "review": reviews.get(m), "first": lo.date(),
             "last": (hi - timedelta(days=1)).date()} for m, c, (lo, hi) in zip(labels, counts, bounds)]


def mark_reviewed(month: str, by: User) -> AccessReview:
    """Mark a month's records as reviewed (점검 완료) by this admin, now; a month is reviewed once."""
    month = (month or "").strip()
    if month not in recent_months(REVIEW_MONTHS * 10):
        raise ServiceError(_("점검할 달 '%(m)s'이(가) 올바르지 않습니다 (예: 2020-03, 이번 달까지).", m=month[:20]),
                           errors={"month": "invalid"})
    done = db.session.scalar(select(AccessReview).where(AccessReview.month == month))
    if done is not None:
        raise ServiceError(_("%(m)s은(는) 이미 점검 완료로 표시되었습니다.", m=month), errors={"month": "reviewed"},
                           status=409)
    review = AccessReview(month=month, reviewed_by_id=by.id)
    db.session.add(review)
    db.session.flush()
    return review


EXPORT_LABELS = {"register": _l("사업장 목록"), "inspections": _l("점검 결과")}


def describe(subject: dict) -> str:
    """Whose data a record is about, in the reader's language: the site, the users, the position, or the export."""
    s = subject or {}
    if "export" in s:
        filters = ", ".join(f"{k}={v}" for k, v in (s.get("filters") or {}).items())
        text = _("%(what)s %(fmt)s, %(n)s행", what=str(EXPORT_LABELS.get(s["export"], s["export"])),
                 fmt=str(s.get("format", "")).upper(), n=s.get("rows", "?"))
        if filters:
            text += " · " + _("조건: %(f)s", f=filters)
        return text + (" · " + _("가리지 않은 전체 값") if s.get("full") else "")
    if "users" in s:
        return _("사용자 목록 (%(n)s명)", n=len(s["users"]))
    if "sites" in s:
        return _("가져오기 미리보기의 방역담당자 (사업장 %(n)s곳: %(ids)s)", n=len(s["sites"]),
                 ids=", ".join(map(str, s["sites"][:20])) + (" …" if len(s["sites"]) > 20 else ""))
    if "inspection" in s:
        return _("점검 %(id)s의 위치 (사업장 %(site)s)", id=s["inspection"], site=s.get("site", "?"))
    if "inspections" in s:
        return _("점검 %(n)s건의 위치 (%(ids)s)", n=len(s["inspections"]), ids=", ".join(map(str, s["inspections"])))
    if "site" in s:
        where = {"phone": _("전화 모니터링 연락처"), "edit": _("수정 화면")}.get(s.get("page"), _("사업장 화면"))
        return _("사업장 %(id)s 방역담당자 (%(where)s)", id=s["site"], where=where)
    return str(s)
