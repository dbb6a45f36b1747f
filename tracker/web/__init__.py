"""Page blueprints, one per area, and what their views share."""
from flask import flash, render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from .. import edge
from ..services import ServiceError, access_log

MAX_PAGE = 100_000  # beyond any list the office keeps; a larger number would overflow the database's OFFSET


def page_arg() -> int:
    """The list page asked for in ?page=, from 1 to MAX_PAGE; anything else is the first page."""
    page = request.args.get("page", 1, type=int)
    return page if 1 <= page <= MAX_PAGE else 1


def refused(exc: ServiceError) -> None:
    """A service said no to a page that answers anyway (a redirect, the form again): undo the request's writes, so
    that the edge commits nothing of it, and flash the reason."""
    edge.undo()
    flash(exc.message, "error")


def form_status() -> int:
    """A form page's status: 422 when a POST gets the form back (the form or a service refused it), else 200."""
    return 422 if request.method == "POST" else 200


def scheduler_warnings() -> dict:
    """A blueprint context processor for the admin pages: what is wrong with the scheduler, for base.html's
    banner (nobody notices a scheduler that stopped, until the rounds and the mail are missing)."""
    from sqlalchemy.exc import SQLAlchemyError

    from ..services import scheduler_status
    try:
        return {"scheduler_warnings": scheduler_status.warnings()}
    except SQLAlchemyError:  # an error page rendered for a failed query must not fail on the banner too
        return {"scheduler_warnings": []}


def log_access(action: str, subject: dict, reason: str = "") -> None:
    """Record that this request shows personal data (view, export or download), with whose; the edge writes it once
    the answer is given, a GET included."""
    edge.record(access_log.add, current_user.id, current_user.email, request.remote_addr or "", action, subject,
                reason)


REASON_MAX = 300


def export_reason() -> str | None:
    """The reason (사유) given for an export, from the query or the form; None when it is missing or too long."""
    reason = " ".join(request.values.get("reason", "").split())
    return reason if 0 < len(reason) <= REASON_MAX else None


def ask_reason(title: str, offer_full: bool = False):
    """The page that asks for an export's reason before the file: a GET form back to the same URL, its filters kept."""
    given = request.values.get("reason")
    error = None
    if given is not None:
        error = (_("사유를 %(n)s자 이내로 적으세요.", n=REASON_MAX) if len(given.strip()) > REASON_MAX
                 else _("내려받는 사유를 적으세요."))
    keep = [(k, v) for k, v in request.args.items(multi=True) if k not in ("reason", "full")]
    return render_template("export_reason.html", title=title, keep=keep, offer_full=offer_full,
                           full=request.args.get("full") == "1", error=error, reason_max=REASON_MAX), \
        422 if error else 200
