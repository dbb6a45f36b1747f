"""APScheduler 3 jobs. Each is its own edge: it calls one service function in an app context and commits once
(the outbox's delivery once per message, so that a killed run resumes without sending anything twice).

create_app() never starts this. `flask --app wsgi scheduler` runs it as its own process (production), and
`make run` starts it beside the dev server. Any number of scheduler processes may run: the one that holds the lock
(leadership.py) leads and runs the jobs; the others follow, and try for the lock every few seconds. Jobs are
idempotent, so two schedulers at once do no harm: the lock only saves work.
"""
import logging
import os
import threading

from apscheduler.schedulers.background import BackgroundScheduler

from . import clock, leadership
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
            _record(name, True, result)
            return result
        except Exception as exc:
            db.session.rollback()
            log.exception("job %s failed", name)
            _record(name, False, f"{type(exc).__name__}: {exc}")
            raise
        finally:
            db.session.remove()


def _record(name, ok, result) -> None:
    """The job's run in the status table, in a commit of its own: a failure to record must not fail the job."""
    from .services import scheduler_status
    try:
        scheduler_status.record_run(name, ok, result)
        db.session.commit()
    except Exception:
        db.session.rollback()
        log.warning("job %s: could not record its run in the status table", name, exc_info=True)


def weekly_round(app):
    """Monday 00:05: this week's monitoring tasks."""
    from .services import schedule, self_checks

    def run():
        # The sites switched on for self-checks get the week's request (once a week: the outbox key is the week).
        week = clock.week_of()
        made = schedule.schedule_week(week)
        log.info("weekly self-check requests queued: %s", self_checks.queue_requests(week))
        return made
    return _run(app, "weekly_round", run)


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


def purge_expired_data(dry_run: bool = False):
    """Remove the personal data past its retention period (or, dry, count it): one commit for the rows, then the
    photo files they leave unused, so that a failed commit never leaves a row without its file (the job and
    `purge` both run this)."""
    from .services import retention
    report = retention.purge(dry_run=dry_run)
    if dry_run:
        db.session.rollback()
        return report
    db.session.commit()
    retention.remove_files(report)
    return report


def purge_expired(app):
    """Daily: personal data past its retention period."""
    return _run(app, "purge_expired", lambda: purge_expired_data().counts)


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
    sched.add_job(purge_expired, "cron", args=[app], id="purge_expired", hour=3, minute=30, **common)


    # Hourly, after mark_overdue: each service picks its own day and time from config, so that a changed due day
    # needs no new schedule, and a scheduler that was down sends the day's reminder at its next run.
    sched.add_job(task_reminders, "cron", args=[app], id="task_reminders", minute=10, **common)
    sched.add_job(lead_digest, "cron", args=[app], id="lead_digest", minute=10, **common)


def build(app):
    """A scheduler in the district's zone with every job on it."""
    sched = BackgroundScheduler(timezone=app.config["TRACKER_TIMEZONE"])
    add_jobs(sched, app)
    return sched


class Elector:
    """One scheduler process's part in the election: it leads while it holds the lock (catching up, then running
    the jobs on its APScheduler), and follows otherwise, trying for the lock at every round."""

    def __init__(self, app):
        self.app = app
        self.sched = BackgroundScheduler(timezone=app.config["TRACKER_TIMEZONE"])
        self.lock = leadership.lock_for(app.config["SQLALCHEMY_DATABASE_URI"], app.instance_path)
        self.interval = app.config["TRACKER_SCHEDULER_INTERVAL"]
        self.leading = None  # None until the first round has said which
        self.stopped = threading.Event()
        self.sched.start()  # with no jobs until this process leads

    def step(self):
        """One round: check the lock (a lost connection ends the lead at once), try for it when following, write
        the heartbeat. Returns what the catch-up did when this round made the process the leader, else None."""
        if self.leading and not self.lock.alive():
            self._follow("lost the lock's database connection")
        done = None
        if not self.leading and self.lock.acquire():
            self.leading = True
            log.info("scheduler: leading (pid %s); catching up", os.getpid())
            self._beat()
            try:
                done = catch_up(self.app)
            finally:
                add_jobs(self.sched, self.app)
            log.info("scheduler: caught up; running jobs")
        elif self.leading is None:
            self._follow("another scheduler process holds the lock")
        self._beat()
        return done

    def _follow(self, why: str) -> None:
        self.leading = False
        self.sched.remove_all_jobs()  # a job already running finishes; it is idempotent
        self.lock.release()
        log.info("scheduler: following (pid %s): %s; trying for the lock every %s s", os.getpid(), why,
                 self.interval)

    def _beat(self) -> None:
        from .services import scheduler_status
        with self.app.app_context():
            try:
                scheduler_status.beat(bool(self.leading))
                if self.leading:
                    scheduler_status.record_next_runs({j.id: j.next_run_time for j in self.sched.get_jobs()})
                db.session.commit()
            except Exception as exc:  # the database is away; the lock's check decides whether this process leads
                db.session.rollback()
                log.warning("scheduler: could not write the heartbeat: %s", exc)
            finally:
                db.session.remove()

    def run(self) -> None:
        """Rounds every TRACKER_SCHEDULER_INTERVAL seconds until shut down."""
        while not self.stopped.is_set():
            try:
                self.step()
            except Exception:  # a round that fails (a catch-up step raising) must not end the election
                log.exception("scheduler: a round failed")
            self.stopped.wait(self.interval)

    def shutdown(self) -> None:
        """Stop the rounds and the jobs, and free the lock."""
        self.stopped.set()
        if self.sched.running:
            self.sched.shutdown(wait=False)
        self.lock.release()


def start_in_process(app):
    """`make run`: the same election beside the dev server, once per process tree; (elector, what its catch-up did),
    where the catch-up is None while another process holds the lock, or (None, {}) when it is switched off."""
    if os.environ.get("TRACKER_NO_SCHEDULER") or os.environ.get("WERKZEUG_RUN_MAIN") == "true":
        return None, {}
    elector = Elector(app)
    try:
        done = elector.step()  # the first round now, so that a fresh start has caught up before serving
    except Exception:  # the desk must still get its pages; the job log says what went wrong
        log.exception("catch-up failed")
        done = {}
    threading.Thread(target=elector.run, name="scheduler-election", daemon=True).start()
    return elector, done


def run_forever(app):
    """`flask --app wsgi scheduler`: take part in the election until stopped (Ctrl+C, SIGTERM)."""
    elector = Elector(app)
    try:
        elector.run()
    finally:
        elector.shutdown()
