"""summary endpoints of the API: the dashboard's figures as JSON, from services.summary.compute()."""
from flask import jsonify, request

from ..auth import api_roles
from ..services import summary
from . import bp


@bp.route("/summary")
@api_roles("lead", "admin")
def get_summary():
    """Figures for ?from=2020-W11&to=2020-W24[&dong=]: the same as the dashboard's, from the same function."""
    args = request.args
    data = summary.compute(args.get("from"), args.get("to"), args.get("dong"),
                           coverage=args.get("coverage") in ("1", "true", "yes"))
    data["definitions"] = summary.DEFINITIONS
    if data.get("actions_as_of"):
        data["actions_as_of"] = data["actions_as_of"].isoformat()  # ISO 8601 in UTC, not an HTTP date
    return jsonify(data)
