"""Page blueprints, one per area."""
from flask import request

MAX_PAGE = 100_000  # beyond any list the office keeps; a larger number would overflow the database's OFFSET


def page_arg() -> int:
    """The list page asked for in ?page=, from 1 to MAX_PAGE; anything else is the first page."""
    page = request.args.get("page", 1, type=int)
    return page if 1 <= page <= MAX_PAGE else 1
