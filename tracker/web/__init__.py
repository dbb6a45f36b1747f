"""Page blueprints, one per area, and what their views share."""
from flask import flash, request

from .. import edge
from ..services import ServiceError

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
