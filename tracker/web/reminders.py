"""내 정보 › 알림 (/me/reminders): each person switches their own reminders on or off (issue 16 §7)."""
from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..auth import roles_required
from ..services import reminders
from .forms import ReminderForm

bp = Blueprint("reminders", __name__)


@bp.route("/me/reminders", methods=["GET", "POST"])
@roles_required()
def edit():
    """Show the two switches; save them (post/redirect/get)."""
    form = ReminderForm()
    if form.validate_on_submit():
        reminders.set_preferences(current_user, form.task_reminder.data, form.lead_digest.data)
        flash(_("알림 설정을 저장했습니다."), "info")
        return redirect(url_for("reminders.edit"), 303)
    if not form.is_submitted():  # a refused post (no CSRF token) shows what was ticked, not what is stored
        form.task_reminder.data = current_user.mail_task_reminder
        form.lead_digest.data = current_user.mail_lead_digest
    return render_template("account/reminders.html", form=form, role=current_user.role)
