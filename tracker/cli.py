"""Flask commands. Each is its own edge: parse, call one service function, commit once, report.

They are module-level commands, added to the app by register(); a refused one rolls back and exits with 1.
"""
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from .extensions import db
from .services import ServiceError


def _fail(message: str) -> None:
    db.session.rollback()
    click.echo(message, err=True)
    sys.exit(1)


@click.command("create-user")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice(["admin", "lead", "inspector"]))
@click.option("--password", required=True)
@with_appcontext
def create_user(email, name, role, password):
    """Create a user with a role and a password."""
    from .services import accounts
    try:
        user = accounts.create_user(email, name, role, password)
    except ServiceError as exc:
        _fail(exc.message)
    db.session.commit()
    click.echo(f"created {user.role} {user.email}")


@click.command("create-token")
@click.option("--email", required=True)
@with_appcontext
def create_token(email):
    """Print a new API token for a user (shown once)."""
    from .services import accounts
    user = accounts.find_user(email)
    if user is None:
        _fail(f"no user with e-mail {email}")
    if not user.active:
        _fail(f"user {user.email} is deactivated; reactivate them first")
    token = accounts.create_token(user)
    db.session.commit()
    click.echo(token)


@click.command("import-sites")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
@with_appcontext
def import_sites(path, dry_run):
    """Import the register from a CSV or XLSX file; all or nothing."""
    from flask_babel import gettext as _

    from .services import site_import
    try:
        report = site_import.import_sites(path.read_bytes(), path.name, dry_run=dry_run)
    except ServiceError as exc:
        _fail(f"{path.name}: {exc.message}")
    if not report.ok:
        for err in report.errors:
            click.echo(str(err), err=True)
        if report.unlisted_errors:
            click.echo(f"... {report.unlisted_errors} more", err=True)
        _fail(_("%(file)s: 잘못된 행 %(r)s개, 오류 %(n)s건 — 아무것도 가져오지 않았습니다.", file=path.name,
                r=report.bad_rows, n=report.error_count))
    if not dry_run:
        db.session.commit()
    summary = _("새로 %(c)s곳, 변경 %(u)s곳, 그대로 %(n)s곳", c=len(report.created), u=len(report.updated),
                n=report.unchanged)
    click.echo(_("미리보기(저장하지 않음): %(s)s", s=summary) if dry_run else summary)
    for name, changes in report.updated:
        click.echo(f"  ~ {name}: " + ", ".join(f"{k} {a!r}→{b!r}" for k, (a, b) in changes.items()))
    for name in report.created:
        click.echo(f"  + {name}")


@click.command("seed-demo")
@click.option("--start", help="lay the story on the real calendar from this Monday, e.g. 2020-03-09")
@with_appcontext
def seed_demo(start):
    """Load the demo: users, checklist, 73 fictional call centres and their history. Safe to run twice."""
    from datetime import date

    from .services import demo
    try:
        start_day = date.fromisoformat(start) if start else None
    except ValueError:
        _fail(f"--start must look like 2020-03-09, not {start!r}")
    made = demo.seed()
    history = demo.seed_history(start_day)
    db.session.commit()
    if history["inspections"]:
        click.echo(f"demo history: {history['inspections']} inspections laid out")
    click.echo(f"demo: {made['users']} users and {made['sites']} sites added; "
               f"{demo.active_site_count()} active sites in all")
    click.echo("demo logins:")
    for email, _name, role, pw in demo.DEMO_USERS:
        click.echo(f"  {role:<10} {email:<28} {pw}")


@click.command("dev")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
@with_appcontext
def dev(host, port):
    """Serve the app for one desk (`make run`), with the scheduler in the same process."""
    import logging
    import os

    from . import console, jobs
    from .services import demo
    app = current_app._get_current_object()
    # A newcomer's console: the start, then only what goes wrong.
    console.configure_logging(app, logging.INFO, quiet=console.QUIET_WHEN_SERVING)
    if not os.environ.get("TRACKER_BASE_URL"):
        # QR codes and e-mail links must point where this server really listens.
        app.config["TRACKER_BASE_URL"] = f"http://{host}:{port}"
    scheduler, done = jobs.start_in_process(app)
    console.echo_start(app, f"http://{host}:{port}/", done, demo.logins_present())
    from werkzeug.serving import run_simple
    try:
        # No reloader: it would fork a second process and with it a second scheduler. run_simple rather than
        # app.run, which refuses to serve when called from inside a `flask` command.
        run_simple(host, port, app, use_reloader=False, threaded=True)
    finally:
        if scheduler:
            scheduler.shutdown()


@click.command("scheduler")
@with_appcontext
def scheduler():
    """Run the scheduler in the foreground: it leads and runs the jobs, or follows until the leader stops."""
    import logging

    from . import console, jobs
    app = current_app._get_current_object()
    console.configure_logging(app, logging.INFO)
    jobs.run_forever(app)


@click.command("scheduler-status")
@with_appcontext
def scheduler_status():
    """Print, as JSON, which scheduler process leads, each job's last and next run, and the followers seen."""
    import json

    from .services import scheduler_status as status
    click.echo(json.dumps(status.status(), indent=2, ensure_ascii=False))


def _week_or_fail(week: str, example: str) -> str:
    from . import clock
    try:
        clock.parse_week(week)
    except ValueError:
        _fail(f"--week must look like {example}, not {week!r}")
    return week


@click.command("schedule-week")
@click.option("--week", help="ISO week such as 2020-W11 (default: this week)")
@with_appcontext
def schedule_week(week):
    """Make the week's monitoring tasks (idempotent)."""
    from . import clock
    from .services import schedule
    week = _week_or_fail(week or clock.week_of(), "2020-W11")
    new = schedule.schedule_week(week)
    db.session.commit()
    click.echo(f"{week}: {new} new task(s)")


@click.command("mark-overdue")
@click.option("--at", "at", help="local time such as 2020-03-13T18:00 (default: now)")
@with_appcontext
def mark_overdue(at):
    """Flag overdue tasks, mark missed rounds and escalate late actions (idempotent)."""
    from datetime import datetime

    from . import clock
    from .services import schedule
    when = None
    if at:
        try:
            when = datetime.fromisoformat(at)
        except ValueError:
            _fail(f"--at must look like 2020-03-13T18:00, not {at!r}")
        if when.tzinfo is None:
            when = when.replace(tzinfo=clock.zone())
    result = schedule.mark_overdue(when)
    db.session.commit()
    click.echo(", ".join(f"{k} {v}" for k, v in result.items()))


@click.command("record-incident")
@click.option("--business-no", required=True, help="the site's 사업자등록번호")
@click.option("--date", "day", required=True, help="date the case was confirmed, YYYY-MM-DD")
@click.option("--cases", default=1, type=int)
@click.option("--note", default="")
@with_appcontext
def record_incident(business_no, day, cases, note):
    """Record a confirmed case at a site."""
    from datetime import date

    from .services import schedule, sites
    site = sites.find_by_business_no(sites.normalize_business_no(business_no) or "")
    if site is None:
        _fail(f"no site with 사업자등록번호 {business_no}")
    try:
        inc = schedule.record_incident(site, date.fromisoformat(day), cases, note)
    except ValueError:
        _fail(f"--date must look like 2020-05-09, not {day!r}")
    except ServiceError as exc:
        _fail(exc.message)
    db.session.commit()
    click.echo(f"incident at {site.name} on {inc.confirmed_on}: closer monitoring until {inc.raised_until}")


@click.command("backup")
@click.argument("dest", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup(dest):
    """Online backup of the SQLite database to DEST (for PostgreSQL use pg_dump; see the README)."""
    import sqlite3
    url = db.engine.url
    if url.get_backend_name() != "sqlite":
        _fail("backup copies the SQLite database; for PostgreSQL use pg_dump (README, Deploying)")
    src = sqlite3.connect(url.database)
    dst = sqlite3.connect(dest)
    try:
        with dst:
            src.backup(dst)  # consistent while the app keeps writing
    finally:
        src.close()
        dst.close()
    click.echo(f"backed up {url.database} to {dest}")


@click.command("send-weekly-summary")
@click.option("--week", help="ISO week such as 2020-W19 (default: last week)")
@with_appcontext
def send_weekly_summary(week):
    """Queue a week's summary for every recipient, then deliver what is due now."""
    from . import clock, jobs
    from .services import mail
    week = _week_or_fail(week or clock.add_weeks(clock.week_of(), -1), "2020-W19")
    queued = mail.queue_weekly_summary(week)
    db.session.commit()
    result = jobs.send_due_mail()  # commits once per message, as the scheduler's job does
    click.echo(f"{week}: {queued} queued; sent {result['sent']}, retrying {result['retry']}, "
               f"failed {result['failed']}")


@click.command("refresh-bands")
@with_appcontext
def refresh_bands():
    """Re-derive every site's size band from its head count after TRACKER_BAND_EDGES changed."""
    from .services import sites
    moved = sites.refresh_bands()
    db.session.commit()
    click.echo(f"size bands refreshed: {moved} sites moved")


@click.command("rebuild-summary")
@with_appcontext
def rebuild_summary():
    """Recompute the dashboard's weekly roll-up from the inspections (after a bulk load or a restore)."""
    from .services import rollup
    rows = rollup.rebuild()
    db.session.commit()
    click.echo(f"summary rebuilt: {rows} rows")


@click.command("storage-check")
@with_appcontext
def storage_check():
    """Write, read back and delete a probe object in the photo store, and say whether it worked."""
    import time

    from . import storage
    try:
        store = storage.current()
        started = time.monotonic()
        storage.check(store)
    except (storage.StorageUnavailable, ValueError) as exc:
        _fail(f"storage check FAILED: {exc}")
    click.echo(f"storage check OK: {store.url} (write, read, delete in {(time.monotonic() - started) * 1000:.0f} ms)")


@click.command("storage-copy")
@click.option("--to", "to", required=True, help="the store to fill, e.g. s3://bucket/prefix")
@click.option("--from", "source", help="the store to copy (default: the configured one, TRACKER_STORAGE_URL or "
                                       "TRACKER_UPLOAD_DIR)")
@with_appcontext
def storage_copy(to, source):
    """Copy every photo to another store, skipping those already there at the same size (so it can be resumed)."""
    from . import storage
    endpoint = current_app.config.get("TRACKER_S3_ENDPOINT_URL")
    try:
        src = storage.from_url(source, endpoint) if source else storage.current()
        dest = storage.from_url(to, endpoint)
        counts = storage.copy(src, dest)
    except (storage.StorageUnavailable, ValueError) as exc:
        _fail(f"storage copy stopped: {exc}; run it again to resume")
    click.echo(f"{src.url} -> {dest.url}: {counts['copied']} copied, {counts['skipped']} already there")


@click.command("purge")
@click.option("--dry-run", is_flag=True, help="Report what would be removed; change nothing.")
@with_appcontext
def purge(dry_run):
    """Remove the personal data past its retention period, and report how much of each kind."""
    from . import jobs
    from .services import retention
    report = jobs.purge_expired_data(dry_run=dry_run)  # commits, then deletes the photo files
    for line in retention.describe(report):
        click.echo(line)


COMMANDS = (create_user, create_token, import_sites, seed_demo, dev, scheduler, scheduler_status, schedule_week,
            mark_overdue, record_incident, backup, send_weekly_summary, refresh_bands, rebuild_summary, storage_check,
            storage_copy, purge)


def register(app: Flask) -> None:
    """Add the commands to the app's `flask` group."""
    for command in COMMANDS:
        app.cli.add_command(command)
