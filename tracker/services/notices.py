"""The result notice to a site (점검 결과 통보, issue 16): queued in the outbox when an inspection is saved, sent once
the hold has passed, with the 점검 결과서 PDF attached (made when it leaves).

One notice per inspection: the outbox key's period is the inspection. A notice still waiting when a later
inspection of the same site is saved is replaced, and that inspection's notice lists every action the site still
has open, so nothing a replaced notice said is lost. The inspector or a lead can hold a waiting notice (after a
mistaken answer, say) and release it again.
"""
from datetime import timedelta

from flask import current_app, render_template
from flask_babel import force_locale
from sqlalchemy import select, update

from .. import clock
from ..extensions import db
from ..models import Action, Inspection, Outbox, Site
from . import audit, mail, replies, settings

KIND = "notice"
WAITING = ("pending", "held")


def period(inspection_id: int) -> str:
    """The outbox key's period of an inspection's notice."""
    return f"inspection-{inspection_id}"


def _waiting(site_id: int):
    """The site's notices that have not been tried yet: pending or held, never attempted."""
    earlier = select(Inspection.id).where(Inspection.site_id == site_id)
    return (Outbox.kind == KIND) & Outbox.status.in_(WAITING) & (Outbox.attempts == 0) \
        & Outbox.inspection_id.in_(earlier)


def open_actions(site_id: int) -> list[Action]:
    """The site's actions still to be done, the soonest due first."""
    return db.session.scalars(select(Action).where(Action.site_id == site_id, Action.status != "cleared")
                              .order_by(Action.due_at, Action.id)).all()


def after_inspection(insp: Inspection, site: Site) -> bool:
    """Queue the notice of a just-saved inspection, replacing one of the site's still waiting; True if queued.

    It goes when the inspection opened actions, or replaced a waiting notice while actions stay open, or (when an
    admin switched it on) when nothing fell short. A site without an e-mail on file gets none."""
    replaced = db.session.execute(update(Outbox).where(_waiting(site.id)).values(status="replaced")
                                  .execution_options(synchronize_session=False)).rowcount
    if not site.manager_email:
        return False
    opened = db.session.scalar(select(Action.id).where(Action.opened_inspection_id == insp.id).limit(1))
    actions = open_actions(site.id) if (opened or replaced) else []
    if not actions and not (insp.no_count == 0 and settings.enabled("notice_compliant")):
        return False
    hold = timedelta(minutes=current_app.config["TRACKER_NOTICE_HOLD_MINUTES"])
    msg = {**render(insp, site, actions), "recipient": site.manager_email, "inspection_id": insp.id,
           "attachment": "report", "not_before": clock.now() + hold}
    return mail.queue(KIND, period(insp.id), [msg]) == 1


def render(insp: Inspection, site: Site, actions: list[Action]) -> dict:
    """Subject and bodies of a notice, in Korean: what was found, and what must be done by when."""
    from . import checklist, inspections
    labels = {i.key: i.label_ko for i in insp.template.items}
    failed = [(labels.get(a.item_key) or checklist.item_label(a.item_key), a.note)
              for a in insp.answers if a.value == "no"]
    ctx = {"insp": insp, "site": site, "failed": failed, "district": current_app.config["TRACKER_DISTRICT_NAME"],
           "actions": [(checklist.item_label(a.item_key), a) for a in actions],
           "mode": inspections.mode_label(insp.mode), "when": clock.local(insp.submitted_at),
           # A new notice gives a new link (조치 보고); it works for TRACKER_SITE_LINK_DAYS.
           "reply_url": replies.link(site) if actions else "",
           "link_days": current_app.config["TRACKER_SITE_LINK_DAYS"]}
    with force_locale("ko"):
        verdict = "조치 요청" if actions else "적합"
        subject = f"[{ctx['district']}] 점검 결과 통보({verdict}): {site.name} ({ctx['when']:%Y-%m-%d})"
        return {"subject": subject, "body_text": render_template("mail/notice.txt", **ctx),
                "body_html": render_template("mail/notice.html", **ctx)}


def of(inspection_id: int) -> Outbox | None:
    """The notice of an inspection, if one was queued."""
    return db.session.scalar(select(Outbox).where(Outbox.kind == KIND, Outbox.period == period(inspection_id)))


def hold(inspection_id: int, by=None) -> bool:
    """Keep an inspection's waiting notice from being sent; False when there is none left to hold."""
    return _switch(inspection_id, "pending", "held", by, "hold_notice")


def release(inspection_id: int, by=None) -> bool:
    """Let a held notice go at the next delivery run; False when it is not held."""
    return _switch(inspection_id, "held", "pending", by, "release_notice", not_before=clock.now())


def _switch(inspection_id: int, old: str, new: str, by, action: str, **values) -> bool:
    # Conditional: a notice the mail job has claimed or sent in the meantime is not touched.
    done = db.session.execute(update(Outbox).where(
        Outbox.kind == KIND, Outbox.period == period(inspection_id), Outbox.status == old, Outbox.attempts == 0)
        .values(status=new, **values).execution_options(synchronize_session=False)).rowcount == 1
    if done:
        audit.record(by, "inspection", inspection_id, action, {"notice": old}, {"notice": new})
    return done


def sites_without_email_stmt():
    """Active sites with no e-mail on file: they get no notice."""
    return select(Site).where(Site.status == "active", Site.manager_email == "").order_by(Site.dong, Site.name)
