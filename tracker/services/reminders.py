"""Reminders to the office (issue 16 §7), so that nothing waits for Monday's summary.

- The day before the weekly due day, from TRACKER_REMINDER_TIME: each inspector with open tasks gets the sites
  left, by dong, each with its form's link.
- From the weekly due time until the week ends, once a day after the due time of day: each lead gets a digest of
  the overdue sites by inspector, the escalated actions and the site replies waiting for review.

Both go through the outbox keyed (kind, the district's date, recipient): once per person per day, retried like
every mail, and a second run of a job is a no-op. Each person can switch each off (User.mail_task_reminder,
User.mail_lead_digest). Nothing here commits; the job does (jobs.task_reminders, jobs.lead_digest).
"""
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

from flask import current_app, render_template
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import case, func, select

from .. import clock, district
from ..extensions import db
from ..models import Action, Site, Task, User
from . import audit, checklist, mail, schedule

TASK_REMINDER = "task_reminder"
LEAD_DIGEST = "lead_digest"
# The status a site's reply (issue 16 §4, 조치 보고) gives an action while it waits for a lead's review. Until that
# part lands no action has it, and the digest's section stays empty and hidden.
REPORTED = "reported"


def absolute_url(endpoint: str, **values) -> str:
    """An absolute link for a message sent outside any request: the app's routes under TRACKER_BASE_URL."""
    base = urlsplit(current_app.config["TRACKER_BASE_URL"])
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "http")
    return adapter.build(endpoint, values, force_external=True)


def _today(at: datetime | None) -> tuple[datetime, date]:
    at = at or clock.now()
    return at, clock.local(at).date()


def reminder_due(at: datetime | None = None) -> bool:
    """Whether the inspectors' reminder is due: the day before the weekly due day, from TRACKER_REMINDER_TIME."""
    at, today = _today(at)
    cfg = current_app.config
    tomorrow = today + timedelta(days=1)
    return (tomorrow.isoweekday() == cfg["TRACKER_DUE_WEEKDAY"]
            and at >= clock.at_local(today, cfg["TRACKER_REMINDER_TIME"]))


def digest_due(at: datetime | None = None) -> bool:
    """Whether the leads' digest is due: the week's round is past its due time, and so is today's time of day."""
    at, today = _today(at)
    week = clock.week_of(at)
    return at >= schedule.due_at(week) and at >= clock.at_local(today, current_app.config["TRACKER_DUE_TIME"])


# --- the inspectors' reminder ---------------------------------------------------------------------------------

def open_sites() -> list:
    """(inspector id, e-mail, name, site id, name, dong, tasks, first due, on site asked) of every active site with
    open tasks, for every active inspector who keeps the reminder on: one GROUP BY."""
    onsite = func.max(case((Task.required_mode == "onsite", 1), else_=0))
    return db.session.execute(
        select(User.id, User.email, User.name, Site.id, Site.name, Site.dong, func.count(Task.id),
               func.min(Task.due_at), onsite)
        .join(Task, Task.assignee_id == User.id).join(Site, Site.id == Task.site_id)
        .where(Task.status == "open", Site.status == "active", User.role == "inspector", User.active,
               User.mail_task_reminder)
        .group_by(User.id, User.email, User.name, Site.id, Site.name, Site.dong)
        .order_by(User.id, Site.name, Site.id)).all()


def _by_inspector(rows: list) -> list[dict]:
    """The rows of open_sites() per inspector, their sites grouped by dong in the district's order."""
    order = {k: i for i, k in enumerate(district.current().dongs)}
    people: dict = {}
    for uid, email, name, sid, site, dong, n, due, onsite in rows:  # a bounded result, grouped for display
        person = people.setdefault(uid, {"email": email, "name": name, "dongs": {}, "total": 0})
        mode = "onsite" if onsite else "phone"
        person["dongs"].setdefault(dong, []).append({
            "name": site, "tasks": int(n), "due": due, "onsite": bool(onsite),
            "url": absolute_url("inspect.form", site_id=sid, mode=mode)})
        person["total"] += 1
    for person in people.values():
        person["dongs"] = sorted(person["dongs"].items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))
    return list(people.values())


def render_reminder(person: dict, today: date) -> dict:
    """One inspector's reminder: recipient, subject, plain text and HTML."""
    due_day = today + timedelta(days=1)
    ctx = {"district": current_app.config["TRACKER_DISTRICT_NAME"], "person": person, "due_day": due_day,
           "due_time": current_app.config["TRACKER_DUE_TIME"],
           "inspect_url": absolute_url("inspect.home", todo=1), "settings_url": absolute_url("reminders.edit")}
    subject = _("[%(district)s] 내일(%(day)s) 마감: 남은 점검 %(n)s곳", district=ctx["district"],
                day=f"{due_day:%m.%d}", n=person["total"])
    return {"recipient": person["email"], "subject": subject,
            "body_text": render_template("mail/reminder.txt", **ctx),
            "body_html": render_template("mail/reminder.html", **ctx)}


def queue_task_reminders(at: datetime | None = None) -> int:
    """On the day before the weekly due day: queue each inspector's reminder, once; returns how many were new."""
    if not reminder_due(at):
        return 0
    _at, today = _today(at)
    messages = [render_reminder(p, today) for p in _by_inspector(open_sites())]
    return mail.queue(TASK_REMINDER, today.isoformat(), messages)


# --- the leads' digest ------------------------------------------------------------------------------------------

def replies_waiting() -> list[Action]:
    """Actions a site has reported as done, waiting for an inspector's or a lead's review (issue 16 §4)."""
    return db.session.scalars(schedule.actions_stmt(status=REPORTED)).all()


def digest_context(at: datetime | None = None) -> dict:
    """What the digest says: overdue tasks by inspector, escalated actions, replies waiting (a bounded number of
    queries, whatever the data)."""
    at = at or clock.now()
    overdue = db.session.scalars(schedule.tasks_stmt(status="open").where(Task.due_at < at)).all()
    by_inspector: dict = {}
    for t in overdue:  # keyed by id, so that two inspectors of the same name stay apart
        by_inspector.setdefault(t.assignee_id, {"name": t.assignee.name if t.assignee else _("미배정"),
                                                "tasks": []})["tasks"].append(t)
    escalated = db.session.scalars(schedule.actions_stmt(status="open").where(Action.due_at < at)).all()
    # Read once: outside a request checklist.item_label() has nowhere to keep them and would query per action.
    labels, lang = checklist.item_labels(), str(get_locale() or "ko")
    return {
        "district": current_app.config["TRACKER_DISTRICT_NAME"], "day": clock.local(at).date(),
        "overdue": overdue, "overdue_count": len({t.site_id for t in overdue}),
        "by_inspector": sorted(by_inspector.items(), key=lambda kv: (kv[0] is None, kv[1]["name"])),
        "escalated": escalated, "replies": replies_waiting(),
        "item_label": lambda key: labels.get(key, (key, key))[1 if lang == "en" else 0] or key,
        "week_url": absolute_url("schedule.week"), "actions_url": absolute_url("schedule.actions", status="open"),
        "settings_url": absolute_url("reminders.edit"),
    }


def render_digest(at: datetime | None = None) -> dict | None:
    """The digest's subject, plain text and HTML; None when there is nothing to act on."""
    ctx = digest_context(at)
    if not (ctx["overdue"] or ctx["escalated"] or ctx["replies"]):
        return None
    subject = _("[%(district)s] 지연 점검 %(late)s곳 · 기한 지난 행정지도 %(esc)s건 (%(day)s)",
                district=ctx["district"], late=ctx["overdue_count"], esc=len(ctx["escalated"]),
                day=f"{ctx['day']:%m.%d}")
    return {"subject": subject, "body_text": render_template("mail/digest.txt", **ctx),
            "body_html": render_template("mail/digest.html", **ctx)}


def digest_recipients() -> list[str]:
    """Every active lead who keeps the digest on."""
    return list(db.session.scalars(select(User.email).where(User.role == "lead", User.active,
                                                            User.mail_lead_digest).order_by(User.id)))


def queue_lead_digests(at: datetime | None = None) -> int:
    """After the due time: queue the day's digest for each lead, once; returns how many were new."""
    if not digest_due(at):
        return 0
    people = digest_recipients()
    msg = render_digest(at) if people else None
    if msg is None:
        return 0
    _at, today = _today(at)
    return mail.queue(LEAD_DIGEST, today.isoformat(), [{**msg, "recipient": r} for r in people])


# --- preferences ------------------------------------------------------------------------------------------------

def set_preferences(user: User, task_reminder: bool, lead_digest: bool) -> None:
    """Switch a person's reminders on or off, with an audit row when anything changed."""
    before = {"mail_task_reminder": user.mail_task_reminder, "mail_lead_digest": user.mail_lead_digest}
    after = {"mail_task_reminder": bool(task_reminder), "mail_lead_digest": bool(lead_digest)}
    if before != after:
        user.mail_task_reminder, user.mail_lead_digest = after["mail_task_reminder"], after["mail_lead_digest"]
        audit.record(user, "user", user.id, "update", before, after)
        db.session.flush()
