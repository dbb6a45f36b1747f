"""Business rules. Services flush, never commit: the edge (view, API, CLI, job) commits once."""

SHOWN_VALUE_MAX = 50


def shown(value, limit: int = SHOWN_VALUE_MAX) -> str:
    """A user's value as a message quotes it: cut to a readable length, so that a huge cell makes no huge page, and
    with control characters written out (\\r, \\x00), so that the reader sees what is wrong."""
    text = str(value)
    text = text if len(text) <= limit else text[:limit] + "…"
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


class ServiceError(Exception):
    """A rule was broken; the message is meant for the user, in their language."""

    def __init__(self, message, errors: dict | list | None = None, status: int = 422):
        super().__init__(str(message))
        self.message = str(message)
        self.errors = errors or {}
        self.status = status
