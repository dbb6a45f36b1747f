"""The user's own consent to location (위치정보): see it, withdraw it, give it (the lead links it from 내 정보)."""
from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..auth import roles_required
from ..services import location, retention
from . import form_status
from .forms import LocationConsentForm

bp = Blueprint("consent", __name__)


def _wants_json() -> bool:
    # The inspection form's script posts an answer given on the form, and asks for JSON.
    return "application/json" in request.headers.get("Accept", "")


def state_json(st: location.State) -> dict:
    """A state as the form's script keeps it: the state, and since when (UTC, ISO 8601)."""
    return {"state": st.state, "at": st.at.strftime("%Y-%m-%dT%H:%M:%SZ") if st.at else ""}


@bp.route("/me/location", methods=["GET", "POST"])
@roles_required()
def location_page():
    """GET: the user's consent with its history and a button to change it; POST: record the answer."""
    form = LocationConsentForm()
    if form.validate_on_submit():
        st = location.decide(current_user, form.answer.data == "given")
        if _wants_json():
            return jsonify(state_json(st))
        flash(_("위치정보 수집에 동의했습니다.") if st.given else _("위치정보를 수집하지 않습니다."), "info")
        return redirect(url_for("consent.location_page"), 303)
    if request.method == "POST" and _wants_json():
        return jsonify(error="invalid", message=_("입력을 확인하세요."), errors=form.errors), 422
    st = location.state(current_user)
    return render_template("account/location.html", form=form, st=st, st_json=state_json(st),
                           history=location.history(current_user),
                           days=retention.days(retention.POSITIONS)), \
        form_status()
