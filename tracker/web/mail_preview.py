"""Preview of any week's summary e-mail, as the recipients will see it."""
from flask import Blueprint, Response, flash, render_template, request

from .. import clock
from ..auth import roles_required
from ..services import weekly_mail
from flask_babel import gettext as _

bp = Blueprint("mail", __name__, url_prefix="/mail")
LEADS = ("lead", "admin")


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
    msg = weekly_mail.render(week)
    return render_template("mail/preview.html", week=week, msg=msg, recipients=weekly_mail.recipients(),
                           prev=clock.add_weeks(week, -1), next=clock.add_weeks(week, 1))


@bp.route("/preview/body")
@roles_required(*LEADS)
def preview_body():
    """The HTML body alone, framed by the preview page."""
    resp = Response(weekly_mail.render(_week())["body_html"], mimetype="text/html")
    # E-mail HTML needs inline styles; it has no scripts, and only this app may frame it.
    resp.headers["Content-Security-Policy"] = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
                                               "frame-ancestors 'self'")
    resp.headers["X-Frame-Options"] = "SAMEORIGIN"
    return resp
