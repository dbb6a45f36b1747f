"""The edge of every request: it commits once at the end, or rolls back whole.

As in Indico's RH.process, views, API handlers and the services they call only flush; this is the one place that
decides. A request is committed when it may change data (not GET, HEAD or OPTIONS), its handler finished and
answered below 400, and it was not undone. Anything else, an exception included, is rolled back. Bookkeeping that
must outlive a refusal (a failed login's throttle counter) goes through keep(): the edge writes it after the outcome
and commits it on its own. An append-only record of what a request showed (the access log of personal data) goes
through record(): the edge writes it unless the request failed (500 and up), and commits it even on a GET.
"""
from flask import Flask, Response, g, request

from .extensions import db

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def register(app: Flask) -> None:
    """Install the edge. Call it before any other after_request hook is added, so that it runs last."""
    app.after_request(_finish)
    app.teardown_request(_discard)


def undo() -> None:
    """Roll back this request's writes now (what the page shows next is what is stored), and commit none later."""
    db.session.rollback()
    g.edge_undone = True


def keep(write, *args) -> None:
    """Have the edge call write(*args) when the request ends, and commit it whether the request succeeded or not."""
    g.setdefault("edge_kept", []).append((write, args))


def record(write, *args) -> None:
    """Have the edge call write(*args) once the request has answered, and commit it, a GET included: the record of
    what the answer showed (a form given back with 422 still shows it). A failed request (500 and up) showed nothing
    and writes nothing. The arguments should be plain values (ids, strings): a GET's own work is rolled back first."""
    g.setdefault("edge_records", []).append((write, args))


def _finish(response: Response) -> Response:
    kept = g.pop("edge_kept", [])
    records = g.pop("edge_records", [])
    if response.status_code < 500:
        kept += records
    undone = g.pop("edge_undone", False)
    commit = request.method not in SAFE_METHODS and response.status_code < 400 and not undone
    try:
        if not commit:
            db.session.rollback()
        for write, args in kept:
            write(*args)
        if commit or kept:
            db.session.commit()
    except Exception:
        # A failed commit turns the answer into a 500 (Flask runs this hook again for it, which rolls back).
        db.session.rollback()
        raise
    return response


def _discard(exc: BaseException | None) -> None:
    # An exception that reached no after_request hook (TESTING re-raises it) must still leave nothing behind.
    g.pop("edge_kept", None)
    g.pop("edge_records", None)
    g.pop("edge_undone", None)
    if exc is not None:
        db.session.rollback()
