"""Application factory. It never starts the scheduler: see jobs.py."""
import os
from pathlib import Path

from flask import Flask, has_request_context, request, session
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import event

from . import assets, config, edge, logmask
from .extensions import babel, compress, csrf, db, login_manager, migrate
from .jsonio import JSONProvider
from .models import LEADS
from .models import ROLES as ALL

ROOT = Path(__file__).resolve().parent.parent
# (endpoint, label, roles); a link shows only when its endpoint exists and the user's role may use it.
NAV_LINKS = [
    ("dashboard.overview", _l("대시보드"), LEADS),
    ("schedule.week", _l("주간 현황"), LEADS),
    ("inspect.home", _l("이번 주 점검"), ALL),
    ("sites.index", _l("사업장"), ALL),
    ("schedule.actions", _l("행정지도"), LEADS),
    ("mail.preview", _l("주간 메일"), LEADS),
    ("admin.users", _l("관리"), ("admin",)),
    ("admin.checklist_view", _l("점검표"), ("admin",)),
    ("outbox.index", _l("메일"), ("admin",)),
]


def _same_page(**changes) -> str:
    """This page's URL with some query arguments changed (the language link keeps filters, mode and page)."""
    from flask import request, url_for
    # A query argument named like one of the path's (?site_id= on /sites/<site_id>) is not the page's: drop it.
    args = {k: v for k, v in request.args.to_dict(flat=False).items() if k not in (request.view_args or {})}
    args.update({k: [v] for k, v in changes.items()})
    if request.endpoint is None:
        from urllib.parse import urlencode
        return "?" + urlencode(args, doseq=True)
    return url_for(request.endpoint, **(request.view_args or {}), **args)


class _Flask(Flask):
    json_provider_class = JSONProvider


def create_app(overrides: dict | None = None) -> Flask:
    """Build the app: config, extensions, blueprints and CLI."""
    instance = os.environ.get("TRACKER_INSTANCE_PATH", str(ROOT / "instance"))
    app = _Flask(__name__, instance_path=instance, template_folder=str(ROOT / "templates"),
                 static_folder=str(assets.BUILD / "static"))
    app.config.update(config.load(app.instance_path))
    app.config.update(overrides or {})
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    edge.register(app)  # first, so that its after_request hook runs after every other one
    logmask.install()  # the request log shows /s/<code> as /s/***
    register_extensions(app)
    register_blueprints(app)
    register_hooks(app)
    register_cli(app)
    register_static(app)
    if app.config["TRACKER_PROXIES"]:
        # Behind a reverse proxy every request comes from the proxy: take the client's address (login throttling,
        # logs) and scheme from the headers the trusted proxies set, and from no one else's.
        from werkzeug.middleware.proxy_fix import ProxyFix
        n = app.config["TRACKER_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)
    return app


def _remember_language():
    # Saved before the view runs, so that ?lang= sticks even on a URL that only redirects.
    lang = request.args.get("lang")
    if lang in ("ko", "en"):
        session["lang"] = lang


def _locale():
    # CLI commands and jobs have no request (and no session): they speak the default locale.
    if not has_request_context():
        return None
    lang = request.args.get("lang")
    return lang if lang in ("ko", "en") else session.get("lang", "ko")


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    babel.init_app(app, locale_selector=_locale,
                   default_translation_directories=str(ROOT / "translations"))
    # Pages, JSON and the service worker; the static files come precompressed from WhiteNoise (register_static).
    # Brotli first, at level 6: the form's page is 640 bytes smaller than with zstd's default, for about 2 ms.
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip", "zstd", "deflate"])
    app.config.setdefault("COMPRESS_BR_LEVEL", 6)
    app.config.setdefault("COMPRESS_MIMETYPES", [
        "text/html", "text/css", "text/javascript", "application/javascript", "application/json",
        "application/manifest+json", "image/svg+xml", "text/plain"])
    compress.init_app(app)
    from . import auth  # noqa: F401  (registers the user and bearer-token loaders)
    from .services import rollup
    # The rollup follows inspections added through the ORM on this extension's sessions (not every SQLAlchemy
    # Session in the process); registered once, however many apps a process makes.
    if not event.contains(db.session, "after_flush", rollup.after_flush):
        event.listen(db.session, "after_flush", rollup.after_flush)
    with app.app_context():
        # Listeners on this app's engine only: another app in the same process (a test, a bench) keeps its own.
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _sqlite_pragmas)
            event.listen(db.engine, "savepoint", _sqlite_begin_before_savepoint)


def _sqlite_begin_before_savepoint(conn, _name):
    # pysqlite begins a transaction only before an INSERT, UPDATE or DELETE: a SAVEPOINT sent first would begin one
    # of its own, which its RELEASE would commit, whatever the session does next.
    dbapi_connection = conn.connection.dbapi_connection
    if not dbapi_connection.in_transaction:
        dbapi_connection.execute("BEGIN")


def _sqlite_pragmas(dbapi_connection, _record):
    # WAL lets readers run beside one writer; busy_timeout makes writers queue instead of failing.
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def register_static(app: Flask) -> None:
    """Static files under content-hashed names, served by WhiteNoise (precompressed, cached for a year)."""
    from whitenoise import WhiteNoise
    manifest = assets.ensure()
    names = manifest["files"]
    app.extensions["static_manifest"] = manifest

    @app.url_defaults
    def hashed_static(endpoint, values):
        # Every url_for('static', ...) names the hashed file, so a page always asks for the files it was made with.
        if endpoint == "static" and values.get("filename") in names:
            values["filename"] = names[values["filename"]]

    def immutable(headers, _path, _url):
        headers["Cache-Control"] = "public, max-age=31536000, immutable"
        headers["X-Content-Type-Options"] = "nosniff"

    app.wsgi_app = WhiteNoise(app.wsgi_app, root=str(assets.BUILD / "static"), prefix=app.static_url_path,
                              max_age=None, add_headers_function=immutable)


def register_blueprints(app: Flask) -> None:
    from . import api
    from .web import (
        account,
        admin,
        consent,
        dashboard,
        health,
        inspect,
        mail_preview,
        outbox,
        privacy,
        pwa,
        reminders,
        replies,
        schedule,
        sites,
    )
    from .web import auth as auth_views

    for bp in (auth_views.bp, sites.bp, inspect.bp, schedule.bp, dashboard.bp, admin.bp, outbox.bp, health.bp,
               mail_preview.bp, pwa.bp, consent.bp, privacy.bp, account.bp, reminders.bp,
               replies.bp):
        app.register_blueprint(bp)
    api.register(app)


def register_hooks(app: Flask) -> None:
    from .web import errors
    errors.register(app)

    app.before_request(_remember_language)
    from .web.account import gate
    app.before_request(gate)  # a reset password or a required TOTP comes before any other page

    @app.after_request
    def security_headers(resp):
        from flask import g
        # Only the app's own origin. The inspection form alone may also show blob: images: the photo the phone
        # has just shrunk, which exists nowhere but in the page's memory.
        img = "'self' blob:" if g.get("csp_blob_images") else "'self'"
        resp.headers.setdefault(
            "Content-Security-Policy",
            f"default-src 'self'; img-src {img}; style-src 'self'; script-src 'self'; "
            "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        if request.is_secure:
            resp.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        # What a signed-in user sees stays out of the browser's cache: on a shared phone the next user could read
        # it back. (The service worker's own store is separate, and cleared at logout.)
        if current_user.is_authenticated and "no-store" not in resp.headers.get("Cache-Control", ""):
            resp.headers["Cache-Control"] = "no-store"
        return resp

    from .web.trend_chart import rate_floor
    app.add_template_global(rate_floor)

    @app.context_processor
    def template_globals():
        from flask_babel import get_locale

        from . import clock
        from .services import audit, checklist
        lang = str(get_locale() or "ko")
        return {"lang": lang, "clock": clock, "item_label": lambda key: checklist.item_label(key, lang),
                "district_name": app.config["TRACKER_DISTRICT_NAME"], "nav_links": NAV_LINKS,
                "has_endpoint": lambda ep: ep in app.view_functions,
                "audit_action": audit.action_label, "audit_changes": audit.changes, "field_label": audit.field_label,
                "same_page": _same_page}

    @app.template_filter("band")
    def band(key):
        """A head-count band in the reader's language: '50 이하' reads '≤ 50' in English."""
        from . import district
        return district.current().band_label(key)

    @app.template_filter("localtime")
    def localtime(dt, fmt="%Y-%m-%d %H:%M"):
        from . import clock
        return clock.local(dt).strftime(fmt) if dt else ""

    @app.template_filter("num")
    def num(value):
        return f"{value:,}" if isinstance(value, (int, float)) else value


def register_cli(app: Flask) -> None:
    from .cli import register
    register(app)
