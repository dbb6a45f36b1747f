"""The privacy page (개인정보 처리방침): public, with the periods and the district's contact from the settings."""
from flask import Blueprint, current_app, render_template

from ..services import retention

bp = Blueprint("privacy", __name__)


@bp.route("/privacy")
def page():
    """What Tracker keeps, why, for how long, and whom to ask; no login needed."""
    cfg = current_app.config
    return render_template("privacy.html", days=retention.periods(), officer=cfg.get("TRACKER_PRIVACY_OFFICER"),
                           contact=cfg.get("TRACKER_PRIVACY_CONTACT"))
