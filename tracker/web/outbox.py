"""Admin view of the e-mail outbox: what was sent, what is queued, what failed, with a resend button."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..auth import roles_required
from ..extensions import db
from ..models import Outbox
from ..services import mail
from .forms import ConfirmForm

bp = Blueprint("outbox", __name__, url_prefix="/admin/outbox")


@bp.route("/")
@roles_required("admin")
def index():
    """Outbox rows by status."""
    status = request.args.get("status") or None
    page = db.paginate(mail.outbox_stmt(status), page=request.args.get("page", 1, type=int), per_page=50,
                       error_out=False)
    return render_template("admin/outbox.html", page=page, status=status, form=ConfirmForm())


@bp.route("/<int:row_id>/resend", methods=["POST"])
@roles_required("admin")
def resend(row_id):
    """Queue a failed message again."""
    row = db.get_or_404(Outbox, row_id)
    if ConfirmForm().validate_on_submit():
        mail.resend(row)
        db.session.commit()
        flash(_("%(to)s에게 다시 보내도록 대기열에 넣었습니다.", to=row.recipient), "info")
    return redirect(url_for("outbox.index", status=request.args.get("status")))
