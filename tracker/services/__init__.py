"""Business rules. Services flush, never commit: the edge (view, API, CLI, job) commits once."""


class ServiceError(Exception):
    """A rule was broken; the message is meant for the user, in their language."""

    def __init__(self, message, errors: dict | list | None = None, status: int = 422):
        super().__init__(str(message))
        self.message = str(message)
        self.errors = errors or {}
        self.status = status
