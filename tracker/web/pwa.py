"""What a phone needs to keep Tracker on its home screen and open it offline: the service worker, the web app
manifest and the offline page. All three are public: they carry no data, and the pages they keep need a login
(or, for a site's self-check, its signed link)."""
from flask import Blueprint, current_app, jsonify, render_template, url_for
from flask_babel import gettext as _

bp = Blueprint("pwa", __name__)

# What the service worker fetches at install: the shell that every kept page needs (its own files come by name).
SHELL = ("css/app.css", "js/app.js", "js/idle.js", "js/inspect.js", "js/signature.js", "js/qr.js", "js/self_check.js",
         "favicon.svg", "img/camera.svg", "img/icon-192.png")


@bp.route("/sw.js")
def service_worker():
    """The service worker, from the app root so that its scope covers the forms; it changes with the static files."""
    body = render_template("pwa/sw.js", version=current_app.extensions["static_manifest"]["digest"],
                           shell=[url_for("static", filename=f) for f in SHELL], offline=url_for("pwa.offline"),
                           static_prefix=current_app.static_url_path + "/")
    # no-cache: the browser asks again on each check, so that a deployment reaches the phone at its next visit.
    return body, 200, {"Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "no-cache",
                       "Service-Worker-Allowed": "/"}


@bp.route("/manifest.webmanifest")
def manifest():
    """The web app manifest: name, colours and icons for the home screen; it opens on this week's sites."""
    icons = [{"src": url_for("static", filename=f"img/icon-{n}.png"), "sizes": f"{n}x{n}", "type": "image/png",
              "purpose": purpose} for purpose in ("any", "maskable") for n in (192, 512)]
    icons.append({"src": url_for("static", filename="favicon.svg"), "sizes": "any", "type": "image/svg+xml"})
    district = current_app.config["TRACKER_DISTRICT_NAME"]
    resp = jsonify(id=url_for("inspect.home"), name=f"{district} · {_('콜센터 점검')}", short_name=_("콜센터 점검"),
                   start_url=url_for("inspect.home"), scope="/", display="standalone", background_color="#f5f7f9",
                   theme_color="#0f2a44", icons=icons)
    resp.mimetype = "application/manifest+json"
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@bp.route("/offline")
def offline():
    """What the service worker shows for a page it does not keep: the forms it does keep, listed by inspect.js."""
    return render_template("pwa/offline.html")
