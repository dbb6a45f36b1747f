"""Admin view of the e-mail outbox: what was sent, what is queued, what failed, with a resend button."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .. import clock
from ..auth import roles_required
from ..extensions import db
from ..models import Outbox
from ..services import mail
from . import page_arg, scheduler_warnings
from .forms import ConfirmForm

bp = Blueprint("outbox", __name__, url_prefix="/admin/outbox")
bp.context_processor(scheduler_warnings)
STATUS_LABELS = {"pending": _l("대기"), "sending": _l("보내는 중"), "sent": _l("보냄"), "failed": _l("실패")}
# What an admin should do about a stored error: by the stage mail.py names, or by the server's reply code.
HINTS = {"connect": _l("메일 서버에 연결할 수 없습니다: TRACKER_SMTP_HOST와 TRACKER_SMTP_PORT를 확인하세요. "
                      "자동으로 다시 시도합니다."),
         "tls": _l("TLS 연결이 거부되었습니다: 서버 인증서를 확인하세요 (구청 내부 인증기관이면 TRACKER_SMTP_CAFILE). "
                   "자동으로 다시 시도합니다."),
         "auth": _l("메일 서버 로그인에 실패했습니다: TRACKER_SMTP_USER와 TRACKER_SMTP_PASSWORD를 확인하세요. "
                    "자동으로 다시 시도합니다."),
         "4": _l("메일 서버가 잠시 받지 않았습니다: 자동으로 다시 시도합니다."),
         "5": _l("메일 서버가 거부했습니다: 주소를 확인한 뒤 다시 보내세요.")}


def error_hint(error: str):
    """The advice shown above a stored delivery error, or None."""
    stage, sep, _rest = error.partition(":")
    return HINTS.get(stage) if sep and stage in HINTS else HINTS.get(error[:1])


@bp.route("/")
@roles_required("admin")
def index():
    """Outbox rows by status."""
    status = request.args.get("status")
    status = status if status in STATUS_LABELS else None
    page = db.paginate(mail.outbox_stmt(status), page=page_arg(), per_page=50,
                       error_out=False)
    return render_template("admin/outbox.html", page=page, status=status, form=ConfirmForm(), now=clock.now(),
                           status_labels=STATUS_LABELS, max_attempts=mail.MAX_ATTEMPTS, hint=error_hint)


@bp.route("/<int:row_id>/resend", methods=["POST"])
@roles_required("admin")
def resend(row_id):
    """Queue a failed message again; a sent, sending or queued one is left alone, with a message saying so."""
    row = db.get_or_404(Outbox, row_id)
    if ConfirmForm().validate_on_submit():
        if mail.resend(row.id):
            flash(_("%(to)s에게 다시 보내도록 대기열에 넣었습니다.", to=row.recipient), "info")
        else:
            db.session.refresh(row)
            flash(_("%(to)s에게 가는 메일은 지금 '%(status)s' 상태라서 다시 넣지 않았습니다. "
                    "실패한 메일만 다시 보낼 수 있습니다.", to=row.recipient,
                    status=STATUS_LABELS.get(row.status, row.status)), "warn")
    return redirect(url_for("outbox.index", status=request.args.get("status")))
