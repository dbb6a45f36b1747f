"""Sites and register statistics as JSON."""
from ..auth import api_roles
from ..extensions import db
from ..services import sites
from . import bp, refusals
from .schemas import SiteArgs, SiteListSchema, SiteStatsSchema


@bp.route("/sites")
@api_roles()
@refusals()
@bp.arguments(SiteArgs, location="query")
@bp.response(200, SiteListSchema)
def list_sites(args):
    """Sites, filtered by dong, band, status and q, paged with limit and offset."""
    stmt = sites.list_stmt(dong=args.get("dong"), band=args.get("band"), status=args.get("status"), q=args.get("q"))
    rows = db.session.scalars(stmt.limit(args["limit"]).offset(args["offset"])).all()
    return {"items": rows, "limit": args["limit"], "offset": args["offset"]}


@bp.route("/stats/sites")
@api_roles()
@refusals()
@bp.response(200, SiteStatsSchema)
def site_stats():
    """Active sites by dong and by band, as in the council report."""
    return sites.counts()
