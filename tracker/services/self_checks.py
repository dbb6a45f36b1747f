"""Self-check (자체점검, issue 16 §5): a site checks itself against the published checklist's phone items, through
its signed reply link, with no account.

A self-check is a record of its own (self_check, self_check_answer), never an inspection: no figure, action rule
or task rule reads these tables, so a site's own "예" never clears an action, closes a task or counts in the
dashboard, the weekly e-mail or the council report. It is used in two places only: it pre-fills an inspector's
phone check of the site in the same ISO week (each answer marked as the site's, to confirm or change on the call),
and it is counted apart ("자체점검 n건, 점검 실적에 포함하지 않음").
"""
import uuid as uuidlib

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select

from .. import clock
from ..extensions import db
from ..models import ANSWER_VALUES, SelfCheck, SelfCheckAnswer, Site
from . import ServiceError, checklist, inspections, mail, replies

KIND = "self_check_request"
MODE = "phone"  # the items a site can judge itself are those an inspector can judge on a call
NAME_MAX = 100


def items(tpl) -> list:
    """The published checklist's phone items, in form order."""
    return inspections.items_for(tpl, MODE)


def _validate(tpl, officer_name: str, answers: dict) -> dict:
    """{field: message} for what is wrong; answers maps item key to yes/no/na."""
    errors = {}
    if not officer_name:
        errors["officer_name"] = _("점검한 사람의 이름을 적어 주세요")
    elif len(officer_name) > NAME_MAX:
        errors["officer_name"] = _("%(n)s자를 넘을 수 없습니다", n=NAME_MAX)
    for it in items(tpl):
        if answers.get(it.key) not in ANSWER_VALUES:
            errors["answers." + it.key] = _("답을 고르세요")
    return errors


def submit(site: Site, officer_name, client_uuid, answers: dict) -> SelfCheck:
    """Keep a site's self-check (once per client_uuid: a form sent again is the same self-check)."""
    try:
        client_uuid = str(uuidlib.UUID(str(client_uuid or "")))
    except ValueError:
        raise ServiceError(_("페이지를 새로 고친 뒤 다시 보내세요."),
                           errors={"client_uuid": _("형식이 맞지 않습니다")}) from None
    kept = db.session.scalar(select(SelfCheck).where(SelfCheck.client_uuid == client_uuid))
    if kept is not None:
        if kept.site_id != site.id:
            raise ServiceError(_("페이지를 새로 고친 뒤 다시 보내세요."), status=409)
        return kept
    tpl = checklist.current()
    if tpl is None:
        raise ServiceError(_("게시된 점검표가 없습니다."), status=503)
    officer_name = str(officer_name or "").strip()
    answers = {str(k): str(v) for k, v in (answers or {}).items()}
    errors = _validate(tpl, officer_name, answers)
    if errors:
        raise ServiceError(_("빠진 답이나 이름을 채운 뒤 다시 보내세요."), errors=errors)
    replies.check_hourly(SelfCheck, site.id, SelfCheck.submitted_at,  # the same allowance as replies
                         _("보낸 자체점검이 너무 많습니다. 한 시간 뒤에 다시 보내세요."))
    now = clock.now()
    row = SelfCheck(client_uuid=client_uuid, site_id=site.id, template_id=tpl.id, week=clock.week_of(now),
                    officer_name=officer_name, submitted_at=now,
                    answers=[SelfCheckAnswer(item_key=it.key, value=answers[it.key]) for it in items(tpl)])
    db.session.add(row)
    db.session.flush()
    return row


def latest(site_id: int, week: str) -> SelfCheck | None:
    """The site's latest self-check of an ISO week."""
    return db.session.scalar(select(SelfCheck).where(SelfCheck.site_id == site_id, SelfCheck.week == week)
                             .order_by(SelfCheck.submitted_at.desc(), SelfCheck.id.desc()).limit(1))


def prefill(site_id: int, week: str) -> tuple[dict, SelfCheck | None]:
    """({item key: the site's answer}, the self-check) for an inspector's phone check in that week."""
    row = latest(site_id, week)
    return ({a.item_key: a.value for a in row.answers} if row else {}), row


def count(from_week: str, to_week: str, dong: str | None = None) -> int:
    """Self-checks received in a range of weeks (and a dong): shown apart, never in an inspection figure."""
    stmt = select(func.count()).select_from(SelfCheck).where(SelfCheck.week >= from_week, SelfCheck.week <= to_week)
    if dong:
        stmt = stmt.join(Site, Site.id == SelfCheck.site_id).where(Site.dong == dong)
    return db.session.scalar(stmt)


def request_sites_stmt():
    """Active sites switched on for weekly requests that have an e-mail on file."""
    return select(Site).where(Site.status == "active", Site.self_check.is_(True), Site.manager_email != "")


def queue_requests(week: str) -> int:
    """Queue one request per switched-on site for a week (the outbox key's period is the week: never twice)."""
    messages = [{**render_request(site, week), "recipient": site.manager_email}
                for site in db.session.scalars(request_sites_stmt().order_by(Site.id))]
    return mail.queue(KIND, week, messages) if messages else 0


def render_request(site: Site, week: str) -> dict:
    """The Korean request mail, with a new signed link."""
    ctx = {"site": site, "week": week, "district": current_app.config["TRACKER_DISTRICT_NAME"],
           "url": replies.link(site) + "/self-check", "link_days": current_app.config["TRACKER_SITE_LINK_DAYS"]}
    with force_locale("ko"):
        return {"subject": f"[{ctx['district']}] 이번 주 방역 자체점검 요청: {site.name} ({week})",
                "body_text": render_template("mail/self_check_request.txt", **ctx),
                "body_html": render_template("mail/self_check_request.html", **ctx)}
