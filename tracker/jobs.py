"""APScheduler 3 jobs. Each is its own edge: it calls one service function in an app context and commits once
(the outbox's delivery once per message, so that a killed run resumes without sending anything twice).

create_app() never starts this. `flask --app wsgi scheduler` runs it as its own process (production), and
`make run` starts it beside the dev server. Jobs are idempotent, so two schedulers at once do no harm.
"""
import logging
import os

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from . import clock
from .extensions import db

log = logging.getLogger("tracker.jobs")
# After downtime a missed run happens once (coalesce), if it is no older than this many seconds.
MISFIRE_GRACE = 6 * 3600


def _run(app, name, fn):
    with app.app_context():
        try:
            result = fn()
            db.session.commit()
            log.info("job %s: %s", name, result)
            return result
        except Exception:
            db.session.rollback()
            log.exception("job %s failed", name)
            raise
        finally:
            db.session.remove()


def weekly_round(app):
    """Monday 00:05: this week's monitoring tasks."""
    from .services import schedule
    return _run(app, "weekly_round", lambda: schedule.schedule_week(clock.week_of()))


def refresh_bands(app):
    """On start: stored size bands follow TRACKER_BAND_EDGES, which may have changed while it was down."""
    from .services import sites
    return _run(app, "refresh_bands", sites.refresh_bands)


def mark_overdue(app):
    """Hourly: overdue tasks, missed rounds, escalated actions."""
    from .services import schedule
    return _run(app, "mark_overdue", schedule.mark_overdue)


def send_due_mail() -> dict:
    """Send the outbox's due messages: each claim is committed before its message leaves, each result straight
    after the server answers (the job and `send-weekly-summary` both deliver through this)."""
    from .services import mail
    ids = mail.due_ids()
    db.session.commit()  # end the read: on SQLite it could not become a write after another process wrote
    with mail.Delivery() as delivery:
        for row_id in ids:
            claimed = mail.claim(row_id)
            db.session.commit()
            if claimed:
                delivery.send(row_id)
                db.session.commit()
    return delivery.counts


def deliver_outbox(app):
    """Every few minutes: send queued e-mail."""
    return _run(app, "deliver_outbox", send_due_mail)


def weekly_summary(app):
    """Monday 08:00: queue last week's summary for every recipient, then send."""
    from .services import mail
    return _run(app, "weekly_summary", lambda: mail.queue_weekly_summary(clock.add_weeks(clock.week_of(), -1)))


def task_reminders(app):
    """Hourly: on the day before the weekly due day, from TRACKER_REMINDER_TIME, queue each inspector's reminder
    (once a day: the outbox's key); any other hour it does nothing."""
    from .services import reminders
    return _run(app, "task_reminders", reminders.queue_task_reminders)


def lead_digest(app):
    """Hourly: once the week's round is past its due time, queue each lead's digest once a day, after the due
    time of day; before then it does nothing."""
    from .services import reminders
    return _run(app, "lead_digest", reminders.queue_lead_digests)


def catch_up(app) -> dict:
    """On start: make this week's round and mark what is late, so a scheduler that was down misses nothing;
    returns what each step did (None for one that failed).

    The round is keyed by week, so this is a no-op when Monday's job already ran. Last week's summary is
    queued only once Monday 08:00 has passed, and the outbox's unique key makes that a no-op too.
    """
    steps = {"refresh_bands": refresh_bands, "weekly_round": weekly_round, "mark_overdue": mark_overdue}
    local = clock.local()
    if local.isoweekday() > 1 or local.hour >= 8:
        steps["weekly_summary"] = weekly_summary
    # Each decides from the time whether it is due, and the outbox's key makes a repeat a no-op.
    steps.update(task_reminders=task_reminders, lead_digest=lead_digest)
    steps["deliver_outbox"] = deliver_outbox
    done = {}
    for name, step in steps.items():
        try:
            done[name] = step(app)
        except Exception:  # one failing job must not keep the others from catching up; _run logged it
            done[name] = None
    return done


def add_jobs(sched, app) -> None:
    """Put every job on a scheduler, each with a stable id: adding them again replaces rather than duplicates."""
    common = {"replace_existing": True, "coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE}
    sched.add_job(weekly_round, "cron", args=[app], id="weekly_round", day_of_week="mon", hour=0, minute=5, **common)
    sched.add_job(mark_overdue, "cron", args=[app], id="mark_overdue", minute=1, **common)
    sched.add_job(deliver_outbox, "interval", args=[app], id="deliver_outbox", minutes=2, **common)
    sched.add_job(weekly_summary, "cron", args=[app], id="weekly_summary", day_of_week="mon", hour=8, minute=0,
                  **common)
    # Hourly, after mark_overdue: each service picks its own day and time from config, so that a changed due day
    # needs no new schedule, and a scheduler that was down sends the day's reminder at its next run.
    sched.add_job(task_reminders, "cron", args=[app], id="task_reminders", minute=10, **common)
    sched.add_job(lead_digest, "cron", args=[app], id="lead_digest", minute=10, **common)


def build(app, blocking: bool = False):
    """A scheduler in the district's zone with every job on it."""
    sched = (BlockingScheduler if blocking else BackgroundScheduler)(timezone=app.config["TRACKER_TIMEZONE"])
    add_jobs(sched, app)
    return sched


def start_in_process(app):
    """`make run`: the same scheduler beside the dev server, once per process tree; (scheduler, what its catch-up
    did), or (None, {}) when it is switched off."""
    if os.environ.get("TRACKER_NO_SCHEDULER") or os.environ.get("WERKZEUG_RUN_MAIN") == "true":
        return None, {}
    try:
        done = catch_up(app)
    except Exception:  # the desk must still get its pages; the job log says what went wrong
        log.exception("catch-up failed")
        done = {}
    sched = build(app)
    sched.start()
    return sched, done


def run_forever(app):
    """`flask --app wsgi scheduler`: catch up, then run the jobs in the foreground."""
    catch_up(app)
    print("scheduler: caught up; running jobs", flush=True)
    build(app, blocking=True).start()
