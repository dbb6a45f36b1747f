"""Settings from TRACKER_* environment variables, with safe defaults for the embedded set-up."""
import json
import os
import secrets
from pathlib import Path

DEFAULT_DONGS = [
    "영등포본동", "영등포동", "여의동", "당산1동", "당산2동", "도림동", "문래동", "양평1동", "양평2동",
    "신길1동", "신길3동", "신길4동", "신길5동", "신길6동", "신길7동", "대림1동", "대림2동", "대림3동",
]
# Upper edges of the head-count bands, inclusive; the last band is open-ended ("701이상").
DEFAULT_BAND_EDGES = [50, 100, 150, 200, 250, 300, 400, 700]


def _env(name, default=None):
    return os.environ.get(f"TRACKER_{name}", default)


def _bool(value, default=False):
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _json_list(name, default, kind, example):
    """A non-empty JSON list from TRACKER_<name>, or the default; a clear error instead of a traceback."""
    raw = _env(name)
    if not raw or not raw.strip():
        return list(default)
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, list) or not value or not all(isinstance(v, kind) and not isinstance(v, bool)
                                                            for v in value):
        raise ValueError(f"TRACKER_{name} must be a non-empty JSON list, for example {example}; got {raw!r}")
    return value


def _recipients() -> list[str]:
    """TRACKER_SUMMARY_RECIPIENTS, comma-separated; a bad address stops the start with its name, rather than
    stalling the outbox later."""
    from .addresses import clean_address
    out = []
    for raw in (_env("SUMMARY_RECIPIENTS") or "").split(","):
        if raw.strip():
            addr = clean_address(raw)
            if addr is None:
                raise ValueError(f"TRACKER_SUMMARY_RECIPIENTS: {raw.strip()!r} is not an e-mail address (user@domain)")
            out.append(addr)
    return out


def _hhmm(name: str, default: str) -> str:
    """A local time of day, HH:MM, from TRACKER_<name>; a clear error at start instead of a job failing hourly."""
    raw = _env(name, default).strip()
    h, sep, m = raw.partition(":")
    if not (sep and h.isdigit() and m.isdigit() and len(m) == 2 and int(h) < 24 and int(m) < 60):
        raise ValueError(f"TRACKER_{name} must be a time of day as HH:MM, for example {default}; got {raw!r}")
    return f"{int(h):02d}:{m}"


def _storage_url() -> str | None:
    """TRACKER_STORAGE_URL, checked at start: a typo stops the app with its name, not the first photo's submit."""
    url = (_env("STORAGE_URL") or "").strip()
    if url and not (url.startswith("file:///") or (url.startswith("s3://") and len(url) > len("s3://"))):
        raise ValueError(f"TRACKER_STORAGE_URL must be file:///absolute/folder or s3://bucket/prefix; got {url!r}")
    return url or None


def _totp_roles() -> list[str]:
    """TRACKER_TOTP_REQUIRED: the roles that must log in with a TOTP code too, comma-separated (none by default)."""
    roles = [r.strip().lower() for r in (_env("TOTP_REQUIRED") or "").split(",") if r.strip()]
    unknown = [r for r in roles if r not in ("admin", "lead", "inspector")]
    if unknown:
        raise ValueError(f"TRACKER_TOTP_REQUIRED names admin, lead or inspector, comma-separated; got {unknown}")
    return roles


def _secret_key(instance_path):
    """Use TRACKER_SECRET_KEY; otherwise keep a random key in instance/ so sessions survive restarts."""
    key = _env("SECRET_KEY")
    if key:
        return key
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Readable by the app's own user only: whoever reads it can forge sessions.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip()


def load(instance_path):
    """Build the Flask config mapping from the environment."""
    db_url = _env("DATABASE_URL") or f"sqlite:///{Path(instance_path) / 'tracker.db'}"
    dongs = [d.strip() for d in _json_list("DONGS", DEFAULT_DONGS, str, '["여의동", "당산1동"]')]
    edges = _json_list("BAND_EDGES", DEFAULT_BAND_EDGES, int, "[50, 100, 150]")
    if edges != sorted(set(edges)) or edges[0] < 0:
        raise ValueError(f"TRACKER_BAND_EDGES must rise strictly and start at 0 or more; got {edges}")
    base_url = _env("BASE_URL", "http://127.0.0.1:5000")
    # Served over HTTPS, cookies must never travel in clear; TRACKER_SECURE_COOKIES overrides either way.
    secure = _bool(_env("SECURE_COOKIES"), default=base_url.startswith("https://"))
    return {
        "SECRET_KEY": _secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": db_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "TRACKER_DISTRICT_NAME": _env("DISTRICT_NAME", "영등포구"),
        "TRACKER_DONGS": dongs,
        "TRACKER_BAND_EDGES": edges,
        "TRACKER_TIMEZONE": _env("TIMEZONE", "Asia/Seoul"),
        "TRACKER_BASE_URL": base_url,
        "TRACKER_PROXIES": int(_env("PROXIES", "0")),
        "TRACKER_UPLOAD_DIR": _env("UPLOAD_DIR", str(Path(instance_path) / "uploads")),
        # Where photos are kept (tracker/storage.py): unset, the folder TRACKER_UPLOAD_DIR.
        "TRACKER_STORAGE_URL": _storage_url(),
        "TRACKER_S3_ENDPOINT_URL": _env("S3_ENDPOINT_URL") or None,
        # The whole request may be larger than one photo may be, so that an oversized photo reaches the photo
        # check and is refused by name, with the form's answers kept, instead of failing the whole post.
        "MAX_CONTENT_LENGTH": int(_env("MAX_UPLOAD_MB", "40")) * 1024 * 1024,
        "TRACKER_PHOTO_MAX_MB": int(_env("PHOTO_MAX_MB", "10")),
        "TRACKER_PHOTO_MAX_PX": int(_env("PHOTO_MAX_PX", "1600")),
        # Refused from the header, before decoding: a small file can claim a huge picture (issue 14).
        "TRACKER_PHOTO_MAX_MP": int(_env("PHOTO_MAX_MP", "24")),
        "TRACKER_PHOTOS_PER_ITEM": int(_env("PHOTOS_PER_ITEM", "3")),
        # All of one form's photos together, so that one request's decoding stays within a few seconds.
        "TRACKER_PHOTOS_FORM_MP": int(_env("PHOTOS_FORM_MP", "100")),
        # Weekly monitoring is due by this ISO weekday (1=Mon) and time.
        "TRACKER_DUE_WEEKDAY": int(_env("DUE_WEEKDAY", "5")),
        "TRACKER_DUE_TIME": _env("DUE_TIME", "18:00"),
        # The inspectors' reminder goes at this local time on the day before the due weekday.
        "TRACKER_REMINDER_TIME": _hhmm("REMINDER_TIME", "09:00"),
        "TRACKER_ACTION_DAYS": int(_env("ACTION_DAYS", "7")),
        "TRACKER_ACTION_DAYS_CRITICAL": int(_env("ACTION_DAYS_CRITICAL", "3")),
        "TRACKER_INCIDENT_DAYS": int(_env("INCIDENT_DAYS", "14")),
        # Head counts above which a site earns risk points as medium or large (the 2020 report's 100 and 300).
        "TRACKER_RISK_MEDIUM_HEADCOUNT": int(_env("RISK_MEDIUM_HEADCOUNT", "100")),
        "TRACKER_RISK_LARGE_HEADCOUNT": int(_env("RISK_LARGE_HEADCOUNT", "300")),
        # Seconds between a scheduler's rounds: a follower tries for the lock, the leader checks its connection and
        # writes its heartbeat. A dead leader's place is taken within about this long (plus 25 s if its machine
        # vanished without closing its connection: see leadership.py).
        "TRACKER_SCHEDULER_INTERVAL": float(_env("SCHEDULER_INTERVAL", "5")),
        "TRACKER_SMTP_HOST": _env("SMTP_HOST", "127.0.0.1"),
        "TRACKER_SMTP_PORT": int(_env("SMTP_PORT", "25")),
        "TRACKER_SMTP_USER": _env("SMTP_USER"),
        "TRACKER_SMTP_PASSWORD": _env("SMTP_PASSWORD"),
        "TRACKER_SMTP_STARTTLS": _bool(_env("SMTP_STARTTLS")),
        # A district's internal CA (PEM file) to trust besides the system's, for a server with its own certificate.
        "TRACKER_SMTP_CAFILE": _env("SMTP_CAFILE") or None,
        "TRACKER_MAIL_FROM": _env("MAIL_FROM", "tracker@localhost"),
        "TRACKER_SUMMARY_RECIPIENTS": _recipients(),
        # A site's result notice waits this long before it is sent, so that a mistaken answer can be held back.
        "TRACKER_NOTICE_HOLD_MINUTES": int(_env("NOTICE_HOLD_MINUTES", "60")),
        # The site's reply link (조치 보고): how long it works, and how many replies a site may send an hour.
        "TRACKER_SITE_LINK_DAYS": int(_env("SITE_LINK_DAYS", "30")),
        "TRACKER_SITE_REPLIES_PER_HOUR": int(_env("SITE_REPLIES_PER_HOUR", "10")),
        # Whom a site's officer calls when a link no longer works (printed on that page and in the notice).
        "TRACKER_OFFICE_PHONE": _env("OFFICE_PHONE", ""),
        # Retention (services/retention.py), in days; 0 keeps that kind for good (TRACKER_ACCESS_LOG_DAYS below).
        "TRACKER_LOCATION_RETENTION_DAYS": int(_env("LOCATION_RETENTION_DAYS", "90")),
        "TRACKER_CLOSED_SITE_CONTACT_DAYS": int(_env("CLOSED_SITE_CONTACT_DAYS", "365")),
        "TRACKER_PHOTO_RETENTION_DAYS": int(_env("PHOTO_RETENTION_DAYS", "365")),
        "TRACKER_SIGNATURE_RETENTION_DAYS": int(_env("SIGNATURE_RETENTION_DAYS", "365")),
        "TRACKER_MAIL_BODY_RETENTION_DAYS": int(_env("MAIL_BODY_RETENTION_DAYS", "90")),
        "TRACKER_LOGIN_RETENTION_DAYS": int(_env("LOGIN_RETENTION_DAYS", "365")),
        "TRACKER_ROLE_HISTORY_DAYS": int(_env("ROLE_HISTORY_DAYS", "1095")),
        # Whom the privacy page names for questions about personal data (the district's own officer and contact).
        "TRACKER_PRIVACY_OFFICER": _env("PRIVACY_OFFICER", ""),
        "TRACKER_PRIVACY_CONTACT": _env("PRIVACY_CONTACT", ""),
        "TRACKER_LOGIN_FREE_FAILURES": int(_env("LOGIN_FREE_FAILURES", "5")),
        # Failures from one address, whatever the e-mails tried, before it is slowed down too.
        "TRACKER_LOGIN_FREE_FAILURES_PER_ADDRESS": int(_env("LOGIN_FREE_FAILURES_PER_ADDRESS", "20")),
        # A login ends after this many minutes without a request: leads and admins at a desk, inspectors on the road.
        "TRACKER_IDLE_TIMEOUT_MINUTES": int(_env("IDLE_TIMEOUT_MINUTES", "30")),
        "TRACKER_IDLE_TIMEOUT_MINUTES_INSPECTOR": int(_env("IDLE_TIMEOUT_MINUTES_INSPECTOR", "240")),
        "TRACKER_TOTP_REQUIRED": _totp_roles(),
        # werkzeug's method string; only the test suite changes it, for a cheap hash (a login costs 0.2 s of scrypt).
        "TRACKER_PASSWORD_HASH": "scrypt",
        # Access records of personal data are kept at least this long (the 안전성 확보조치 기준 asks for 2 years);
        # the retention purge removes older ones.
        "TRACKER_ACCESS_LOG_DAYS": int(_env("ACCESS_LOG_DAYS", "730")),
        "SESSION_COOKIE_SECURE": secure,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": secure,
        # A field inspection can take an hour or more; the answers are kept on the phone anyway.
        "WTF_CSRF_TIME_LIMIT": int(_env("CSRF_TIME_LIMIT", str(8 * 3600))),
        "BABEL_DEFAULT_LOCALE": "ko",
        "BABEL_DEFAULT_TIMEZONE": _env("TIMEZONE", "Asia/Seoul"),
        "LANGUAGES": ["ko", "en"],
    }
