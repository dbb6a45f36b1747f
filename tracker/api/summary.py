"""summary endpoints of the API: the dashboard's figures as JSON, from services.summary.compute()."""
from ..auth import api_roles
from ..models import LEADS
from ..services import summary
from . import bp, refusals
from .schemas import SummaryArgs, SummarySchema


@bp.route("/summary")
@api_roles(*LEADS)
@refusals(403)
@bp.arguments(SummaryArgs, location="query")
@bp.response(200, SummarySchema)
def get_summary(args):
    """Dashboard figures for a period: compliance by dong, band, mode, item and week.

    The same figures as the dashboard's, from the same function."""
    data = summary.compute(args.get("first"), args.get("last"), args.get("dong"), coverage=args["coverage"])
    return data | {"definitions": summary.DEFINITIONS}
