"""The only place that reads the wall clock: "now", the district's zone, and ISO weeks."""
import logging
import os
import re
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

_fixed: datetime | None = None
_warned: set[tuple[str, bool]] = set()
log = logging.getLogger("tracker.clock")
WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")
# Weeks a user may name: pages step back and forth from them (a 12-week trend, last week's summary), and every such
# step must stay on the calendar, which date arithmetic ends at the years 1 and 9999.
INPUT_YEARS = range(1900, 3000)


def zone() -> ZoneInfo:
    """The district's time zone from config."""
    name = current_app.config["TRACKER_TIMEZONE"] if has_app_context() else "Asia/Seoul"
    return ZoneInfo(name)


def set_now(value: datetime | None) -> None:
    """Pin the clock while the demo lays out its history in the past; None lets it run again."""
    global _fixed
    _fixed = value.astimezone(timezone.utc) if value else None


def _env_now() -> datetime | None:
    """TRACKER_FAKE_NOW, for a test or a benchmark that pins the clock of a process it starts (a scheduler).

    It counts only beside TRACKER_ALLOW_FAKE_NOW=1, so that a stray variable left in a production environment
    cannot freeze the clock (no new weekly rounds, nothing ever overdue); either way it is logged once.
    """
    pinned = os.environ.get("TRACKER_FAKE_NOW")
    if not pinned:
        return None
    allowed = os.environ.get("TRACKER_ALLOW_FAKE_NOW") == "1"
    if (pinned, allowed) not in _warned:
        _warned.add((pinned, allowed))
        if allowed:
            log.warning("clock pinned to TRACKER_FAKE_NOW=%s (tests and benchmarks only)", pinned)
        else:
            log.warning("TRACKER_FAKE_NOW=%s ignored: it needs TRACKER_ALLOW_FAKE_NOW=1 (tests and benchmarks only)",
                        pinned)
    return datetime.fromisoformat(pinned).astimezone(timezone.utc) if allowed else None


def now() -> datetime:
    """The current time, aware, in UTC."""
    if _fixed is not None:
        return _fixed
    return _env_now() or datetime.now(timezone.utc)


def local(dt: datetime | None = None) -> datetime:
    """A UTC time (default now) in the district's zone."""
    dt = dt or now()
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(zone())


def today() -> date:
    """Today's date in the district."""
    return local().date()


def week_of(dt: datetime | date | None = None) -> str:
    """ISO week label such as 2020-W11, in the district's zone."""
    if dt is None:
        dt = local()
    elif isinstance(dt, datetime):
        dt = local(dt)
    year, week, _ = dt.isocalendar()
    return f"{year:04d}-W{week:02d}"


def _year_week(label: str) -> tuple[int, int]:
    m = WEEK_RE.match((label or "").strip())
    if not m:
        raise ValueError(label)
    year, week = int(m.group(1)), int(m.group(2))
    date.fromisocalendar(year, week, 1)  # raises for a week the year does not have, or a year of 0
    return year, week


def parse_week(label: str) -> tuple[int, int]:
    """(year, week) from a week a user names, '2020-W11'; ValueError on anything else, or a year outside
    INPUT_YEARS."""
    year, week = _year_week(label)
    if year not in INPUT_YEARS:
        raise ValueError(label)
    return year, week


def week_monday(label: str) -> date:
    """The Monday of an ISO week."""
    return date.fromisocalendar(*_year_week(label), 1)


def week_start_utc(label: str) -> datetime:
    """Monday 00:00 of the week, in the district's zone, as UTC."""
    return datetime.combine(week_monday(label), time(0), zone()).astimezone(timezone.utc)


def week_end_utc(label: str) -> datetime:
    """Monday 00:00 of the following week, as UTC."""
    return week_start_utc(label) + timedelta(days=7)


def add_weeks(label: str, n: int) -> str:
    """The week n weeks after (or before) the given one."""
    return week_of(week_monday(label) + timedelta(weeks=n))


def weeks_between(first: str, last: str) -> list[str]:
    """Every week label from first to last, inclusive."""
    out, cur = [], first
    while week_monday(cur) <= week_monday(last):
        out.append(cur)
        cur = add_weeks(cur, 1)
    return out


def at_local(day: date, hhmm: str) -> datetime:
    """A local wall time on a given day, as UTC."""
    h, m = (int(x) for x in hhmm.split(":"))
    return datetime.combine(day, time(h, m), zone()).astimezone(timezone.utc)
