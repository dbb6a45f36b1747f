"""What `make run` and `flask scheduler` print: log lines in the district's time, and a short start for a newcomer."""
import logging
import socket
from datetime import datetime
from zoneinfo import ZoneInfo

import click
from flask import Flask

# Routine lines a desk does not need: every job run, each request, APScheduler's own bookkeeping.
QUIET_WHEN_SERVING = ("apscheduler", "werkzeug", "tracker.jobs")


class DistrictTimeFormatter(logging.Formatter):
    """Times in the district's zone, named, whatever the machine's own zone is."""

    def __init__(self, zone: ZoneInfo):
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.zone = zone

    def formatTime(self, record, datefmt=None):  # noqa: N802 (logging's name)
        return datetime.fromtimestamp(record.created, self.zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def configure_logging(app: Flask, level: int, quiet: tuple = ()) -> None:
    """Log lines stamped in the district's zone; the `quiet` loggers speak only of warnings and errors."""
    handler = logging.StreamHandler()
    handler.setFormatter(DistrictTimeFormatter(ZoneInfo(app.config["TRACKER_TIMEZONE"])))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in quiet:
        logging.getLogger(name).setLevel(logging.WARNING)


def _mail_line(app: Flask) -> str:
    host, port = app.config["TRACKER_SMTP_HOST"], app.config["TRACKER_SMTP_PORT"]
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        return f"Mail: sent through {host}:{port}."
    except OSError:
        return (f"Mail: goes to {host}:{port}, where nothing is listening; messages wait in the outbox (관리 > 메일) "
                "until TRACKER_SMTP_HOST and TRACKER_SMTP_PORT name a server.")


def _scheduler_line(done: dict | None) -> str:
    if done is None:
        return ("Scheduler: waiting; another scheduler process holds the lock and runs the jobs. This one takes over "
                "if it stops.")
    if not done:
        return "Scheduler: off (TRACKER_NO_SCHEDULER)."
    failed = [name for name, result in done.items() if result is None]
    mail = done.get("deliver_outbox") or {}
    line = (f"Scheduler: on; at start this week's round got {done.get('weekly_round') or 0} new task(s), "
            f"the late check found {_late(done.get('mark_overdue'))}, {mail.get('sent', 0)} message(s) sent.")
    return line + (f" Failed: {', '.join(failed)} (see the log above)." if failed else "")


def _late(result) -> str:
    if not isinstance(result, dict):
        return "nothing"
    found = [f"{n} {k.replace('_', ' ')}" for k, n in result.items() if n]
    return ", ".join(found) or "nothing late"


def start_lines(app: Flask, url: str, done: dict, logins: list[tuple[str, str, str]]) -> list[str]:
    """The start as a newcomer reads it: where, who, what the scheduler did, and where mail goes."""
    lines = [f"Tracker is running at {url}  (Ctrl+C stops it; times are {app.config['TRACKER_TIMEZONE']})"]
    if logins:
        lines.append("Log in as:")
        lines += [f"  {role:<10} {email:<28} {password}" for email, role, password in logins]
    lines += [_scheduler_line(done), _mail_line(app)]
    return lines


def echo_start(app: Flask, url: str, done: dict, logins: list) -> None:
    """Print the start."""
    for line in start_lines(app, url, done, logins):
        click.echo(line)
