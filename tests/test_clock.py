"""The clock: TRACKER_FAKE_NOW pins it only where a test or a benchmark says so, never by a stray variable; within
the suite time-machine pins it."""
import os
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from tracker import clock

ROOT = Path(__file__).resolve().parent.parent
PINNED = "2020-03-16T09:30:00+09:00"


def _now_in_a_new_process(**env) -> tuple[datetime, str]:
    """clock.now() as a freshly started process sees it, with its log on stderr."""
    base = {k: v for k, v in os.environ.items() if k not in ("TRACKER_FAKE_NOW", "TRACKER_ALLOW_FAKE_NOW")}
    out = subprocess.run([sys.executable, "-c", "import logging; logging.basicConfig(); from tracker import clock; "
                          "print(clock.now().isoformat())"], cwd=ROOT, env={**base, **env}, capture_output=True,
                         text=True, timeout=60, check=True)
    return datetime.fromisoformat(out.stdout.strip()), out.stderr


def test_a_stray_fake_now_does_not_freeze_the_clock():
    seen, log = _now_in_a_new_process(TRACKER_FAKE_NOW=PINNED)
    assert abs(seen - datetime.now(timezone.utc)) < timedelta(minutes=1)
    assert "TRACKER_FAKE_NOW=2020-03-16T09:30:00+09:00 ignored" in log


def test_fake_now_pins_the_clock_when_allowed():
    seen, log = _now_in_a_new_process(TRACKER_FAKE_NOW=PINNED, TRACKER_ALLOW_FAKE_NOW="1")
    assert seen == datetime(2020, 3, 16, 0, 30, tzinfo=timezone.utc)
    assert "clock pinned to TRACKER_FAKE_NOW" in log


def test_only_the_exact_opt_in_counts(monkeypatch):
    monkeypatch.setenv("TRACKER_FAKE_NOW", PINNED)
    for value in ("", "0", "true", "yes"):
        monkeypatch.setenv("TRACKER_ALLOW_FAKE_NOW", value)
        assert clock.now().year > 2020
    monkeypatch.setenv("TRACKER_ALLOW_FAKE_NOW", "1")
    assert clock.now() == datetime(2020, 3, 16, 0, 30, tzinfo=timezone.utc)
    clock.set_now(datetime(2021, 1, 1, tzinfo=timezone.utc))  # a test's own pin still wins
    try:
        assert clock.now().year == 2021
    finally:
        clock.set_now(None)


def test_time_machine_moves_what_the_clock_reads(clock_at):
    """clock.now() reads datetime.now(timezone.utc); time-machine moves it, and time.time with it (CSRF tokens and
    cookies), so the app and its libraries see one pinned moment."""
    moment = datetime(2020, 3, 16, 9, 30, tzinfo=ZoneInfo("Asia/Seoul"))
    clock_at(moment)
    assert clock.now() == moment and clock.now().tzinfo == timezone.utc
    assert time.time() == moment.timestamp()
    assert (clock.today(), clock.week_of()) == (date(2020, 3, 16), "2020-W12")
    clock_at(moment + timedelta(days=7))
    assert clock.week_of() == "2020-W13"
