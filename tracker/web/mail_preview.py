"""Preview of any week's summary e-mail, as the recipients will see it."""
from flask import Blueprint, Response, flash, render_template, request
from flask_babel import gettext as _

from .. import clock
from ..auth import roles_required
from ..models import LEADS
from ..services import weekly_mail

bp = Blueprint("mail", __name__, url_prefix="/mail")
# The message at its own URL, shown in a frame on the preview page: e-mail HTML is styled inline, and only this
# document (no scripts, nothing fetched) allows that, so the app's pages keep their 'self'-only policy.
BODY_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'; base-uri 'none'"


def _week() -> str:
    week = request.args.get("week") or clock.add_weeks(clock.week_of(), -1)
    try:
        clock.parse_week(week)
    except ValueError:
        flash(_("주는 2020-W11 형식이어야 합니다: '%(w)s'", w=week), "error")
        week = clock.add_weeks(clock.week_of(), -1)
    return week


@bp.route("/preview")
@roles_required(*LEADS)
def preview():
    """The subject, recipients and both bodies of a week's summary."""
    week = _week()
    return render_template("mail/preview.html", week=week, msg=weekly_mail.render(week),
                           recipients=weekly_mail.recipients(), prev=clock.add_weeks(week, -1),
                           next=clock.add_weeks(week, 1))


@bp.route("/preview/body")
@roles_required(*LEADS)
def preview_body():
    """The HTML body alone, as a document of its own (what a mail client opens)."""
    html = weekly_mail.render(_week())["body_html"]
    if request.args.get("framed"):
        # In the preview's frame the message's link to the dashboard opens in the whole window, not the frame.
        html = html.replace("<head>", '<head><base target="_top">', 1)
    resp = Response(html, mimetype="text/html")
    resp.headers["Content-Security-Policy"] = BODY_CSP
    resp.headers["X-Frame-Options"] = "SAMEORIGIN"
    return resp
