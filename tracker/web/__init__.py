"""Page blueprints, one per area."""
from flask import flash, request

from .. import edge
from ..services import ServiceError


def refused(exc: ServiceError) -> None:
    """A service said no to a page that answers anyway (a redirect, the form again): undo the request's writes, so
    that the edge commits nothing of it, and flash the reason."""
    edge.undo()
    flash(exc.message, "error")


def form_status() -> int:
    """A form page's status: 422 when a POST gets the form back (the form or a service refused it), else 200."""
    return 422 if request.method == "POST" else 200
