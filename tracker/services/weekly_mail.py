"""The weekly summary e-mail: last week's figures from summary.compute(), the same function as the dashboard."""
from datetime import timedelta

from flask import current_app, render_template
from sqlalchemy import or_, select
from sqlalchemy.orm import contains_eager

from .. import clock
from ..extensions import db
from ..models import Action, Site, User
from . import checklist, replies, schedule, self_checks, summary

LONG_OPEN_DAYS = 14
TOP_ITEMS = 5


def recipients() -> list[str]:
    """Every active lead, plus TRACKER_SUMMARY_RECIPIENTS, each once."""
    leads = db.session.scalars(select(User.email).where(User.role == "lead", User.active)).all()
    seen, out = set(), []
    for addr in list(leads) + current_app.config["TRACKER_SUMMARY_RECIPIENTS"]:
        key = addr.strip().lower()
        if key and key not in seen:
            seen.add(key)
            out.append(key)
    return out


def context(week: str) -> dict:
    """What the e-mail says about a week."""
    fig = summary.compute(week, week, coverage=True)
    view = schedule.week_view(week)
    base = current_app.config["TRACKER_BASE_URL"].rstrip("/")
    monday = clock.week_monday(week)
    return {
        "week": week, "monday": monday, "sunday": monday + timedelta(days=6),
        "district": current_app.config["TRACKER_DISTRICT_NAME"],
        # The dashboard's own figures: sites inspected that week, out of the sites active at any time in it.
        "fig": fig, "inspected": fig["sites_inspected"], "active": fig["sites_active"],
        "late": view["late"],
        "failed_items": [i for i in fig["by_item"] if i["no"]][:TOP_ITEMS],
        "long_open": long_open_actions(week),
        "item_labels": {i.key: i.label_ko for i in (checklist.current().items if checklist.current() else [])},
        "long_open_days": LONG_OPEN_DAYS,
        "incidents": summary.incidents(week, week),
        # The site's side (issue 16): replies still waiting for an inspector's or a lead's review when the mail is
        # made, and the sites' own checks received that week (counted apart: never an inspection).
        "replies_waiting": replies.waiting_count(),
        "self_checks": self_checks.count(week, week),
        "replies_url": f"{base}/replies",
        "dashboard_url": f"{base}/dashboard?from={week}&to={week}",
    }


def long_open_actions(week: str) -> list:
    """Actions that, at the end of the week, had been open (or escalated) longer than LONG_OPEN_DAYS: the same list
    whether the e-mail goes out on Monday or is previewed months later."""
    end = clock.week_end_utc(week)
    return db.session.scalars(
        select(Action).join(Site, Site.id == Action.site_id).options(contains_eager(Action.site))
        .where(Action.opened_at <= end - timedelta(days=LONG_OPEN_DAYS),
               or_(Action.cleared_at.is_(None), Action.cleared_at > end))
        .order_by(Action.opened_at, Action.id)).all()


def subject(ctx: dict) -> str:
    """The Korean subject line."""
    return f"[{ctx['district']}] 콜센터 방역 점검 주간 요약 {ctx['week']} ({ctx['monday']:%m.%d}~{ctx['sunday']:%m.%d})"


def render(week: str) -> dict:
    """Subject, plain text and HTML of a week's summary."""
    ctx = context(week)
    return {"subject": subject(ctx), "body_text": render_template("mail/weekly.txt", **ctx),
            "body_html": render_template("mail/weekly.html", **ctx)}


def render_all(week: str) -> list[dict]:
    """One message per recipient, rendered once."""
    msg = render(week)
    return [{**msg, "recipient": r} for r in recipients()]
