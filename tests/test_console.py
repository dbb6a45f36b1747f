"""What `make run` prints: where, who, what the scheduler did at start, where mail goes; log times in the district's
zone; routine INFO lines kept quiet."""
import logging
import socket

from tracker import console, jobs
from tracker.services import demo


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_the_start_names_the_address_the_logins_the_scheduler_and_unreachable_mail(app_ctx, db):
    app = app_ctx
    demo.seed()
    db.session.commit()
    app.config.update(TRACKER_SMTP_HOST="127.0.0.1", TRACKER_SMTP_PORT=_closed_port())
    done = jobs.catch_up(app)
    lines = console.start_lines(app, "http://127.0.0.1:5000/", done, demo.logins_present())
    text = "\n".join(lines)
    assert lines[0].startswith("Tracker is running at http://127.0.0.1:5000/") and "Asia/Seoul" in lines[0]
    assert "lead@tracker.local" in text and "demo-lead-1234" in text and "inspector2@tracker.local" in text
    assert "Scheduler: on" in text and "new task(s)" in text and "Failed" not in text
    assert f"127.0.0.1:{app.config['TRACKER_SMTP_PORT']}, where nothing is listening" in text
    assert "TRACKER_SMTP_HOST" in text
    assert len(lines) <= 10   # short


def test_a_listening_mail_server_is_named_as_such(app, smtp_server):
    line = console.start_lines(app, "http://x/", {}, [])[-1]
    assert line == f"Mail: sent through 127.0.0.1:{smtp_server.port}."
    assert "Scheduler: off" in console.start_lines(app, "http://x/", {}, [])[1]


def test_routine_lines_are_quiet_and_times_are_the_districts(app, capsys):
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        console.configure_logging(app, logging.INFO, quiet=console.QUIET_WHEN_SERVING)
        logging.getLogger("apscheduler.scheduler").info("Adding job tentatively")
        logging.getLogger("tracker.jobs").info("job deliver_outbox: {}")
        logging.getLogger("tracker.jobs").error("job mark_overdue failed")
        err = capsys.readouterr().err
        assert "tentatively" not in err and "deliver_outbox" not in err
        assert "job mark_overdue failed" in err and " KST " in err   # Asia/Seoul's own name for its time
    finally:
        root.handlers[:], _ = saved[0], root.setLevel(saved[1])
        for name in console.QUIET_WHEN_SERVING:
            logging.getLogger(name).setLevel(logging.NOTSET)
