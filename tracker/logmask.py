"""Request logs without the sites' QR codes: a path /s/<code> is logged as /s/***.

A site's code is what the printed QR holds; whoever reads it from a log could open the site's form as if they had
scanned it. Both servers' request logs go through here: werkzeug's (flask run, make run) by a logging filter, and
gunicorn's access log by its logger class (gunicorn.conf.py names it)."""
import logging
import re

from gunicorn.glogging import Logger

_SCAN_PATH = re.compile(r"(/s/)[^/\s?#\"']+")


def mask(text: str) -> str:
    """The text with the code of every /s/<code> path replaced by ***."""
    return _SCAN_PATH.sub(r"\1***", text)


def _masked(value):
    return mask(value) if isinstance(value, str) else value


class ScanCodeFilter(logging.Filter):
    """Masks QR codes in a log record's message and arguments (a tuple, or gunicorn's dict of atoms)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = mask(record.msg)
        if isinstance(record.args, dict):
            record.args = {k: _masked(v) for k, v in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_masked(a) for a in record.args)
        return True


FILTER = ScanCodeFilter()  # one object, so that adding it again (one app per test) adds nothing


def install() -> None:
    """Mask the codes in werkzeug's request log."""
    logging.getLogger("werkzeug").addFilter(FILTER)


class GunicornLogger(Logger):
    """gunicorn's logger, whose access log masks the codes (the request line, the path, the Referer)."""

    def atoms(self, resp, req, environ, request_time):
        return {k: _masked(v) for k, v in super().atoms(resp, req, environ, request_time).items()}
