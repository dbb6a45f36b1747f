"""The lock that makes one scheduler process the leader: a PostgreSQL advisory lock on a connection of its own, or,
on SQLite (one machine), an exclusive lock on a file beside the database.

Either is freed when its holder dies: PostgreSQL ends the session of a closed (or, through the keepalives below,
silent) connection, and the kernel drops a dead process's flock. The lock only saves work: every job is idempotent.
"""
import contextlib
import fcntl
import logging
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

log = logging.getLogger("tracker.leadership")
# One app-wide key for pg_try_advisory_lock ("trkr" in ASCII); a database holds one deployment.
LOCK_KEY = 0x74726B72
# TCP keepalives after 10 s of silence, 3 probes 5 s apart, and unacknowledged data given up after 25 s: a peer that
# vanished without closing its connection is noticed within about 25 s. libpq's own settings make this process notice
# a lost server (and stop leading); the same settings passed to the server for this session (-c ...) make the server
# notice a lost machine, end its session and free the lock for another process.
KEEPALIVE = {"idle": 10, "interval": 5, "count": 3, "user_timeout_ms": 25000}
LOCK_CONNECT_ARGS = {
    "keepalives": 1, "keepalives_idle": KEEPALIVE["idle"], "keepalives_interval": KEEPALIVE["interval"],
    "keepalives_count": KEEPALIVE["count"], "tcp_user_timeout": KEEPALIVE["user_timeout_ms"], "connect_timeout": 10,
    "application_name": "tracker-scheduler-lock",
    "options": (f"-c tcp_keepalives_idle={KEEPALIVE['idle']} -c tcp_keepalives_interval={KEEPALIVE['interval']} "
                f"-c tcp_keepalives_count={KEEPALIVE['count']} -c tcp_user_timeout={KEEPALIVE['user_timeout_ms']}"),
}


class AdvisoryLock:
    """pg_try_advisory_lock held on a dedicated connection, outside the pool the jobs use, in autocommit so that it
    never sits idle in a transaction. The lock is the session's: it lasts exactly as long as the connection."""

    def __init__(self, url: str):
        self.engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT",
                                    connect_args=LOCK_CONNECT_ARGS)
        self.conn = None

    def acquire(self) -> bool:
        """Take the lock if it is free; False when another process holds it or the database cannot be reached."""
        try:
            if self.conn is None:
                self.conn = self.engine.connect()
            return bool(self.conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": LOCK_KEY}))
        except Exception as exc:  # the database is away: follow, and try again at the next round
            log.warning("scheduler lock: cannot reach the database: %s", exc)
            self.release()
            return False

    def alive(self) -> bool:
        """Whether the lock's connection still answers, and with it the lock is still this process's."""
        try:
            self.conn.execute(text("SELECT 1"))
            return True
        except Exception as exc:
            log.warning("scheduler lock: lost the database connection: %s", exc)
            self.release()
            return False

    def release(self) -> None:
        """Close the connection, which frees the lock (if the server still has the session)."""
        if self.conn is not None:
            # A broken connection cannot say goodbye: invalidate drops it either way, and any error on the way out
            # changes nothing for a process that is giving the lock up.
            with contextlib.suppress(Exception):
                self.conn.invalidate()
                self.conn.close()
            self.conn = None


class FileLock:
    """flock on a file beside the SQLite database: a second process on the machine waits for the first."""

    def __init__(self, path: Path):
        self.path = path
        self.fh = None

    def acquire(self) -> bool:
        """Take the lock if no other process holds it."""
        if self.fh is not None:
            return True
        fh = open(self.path, "a")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            return False
        self.fh = fh
        return True

    def alive(self) -> bool:
        """A file lock cannot be lost while the process lives."""
        return self.fh is not None

    def release(self) -> None:
        if self.fh is not None:
            self.fh.close()  # closing the file drops the flock
            self.fh = None


def lock_for(url: str, instance_path: str):
    """The lock that fits the database: advisory on PostgreSQL, a file on SQLite. The file follows the database,
    not the instance folder, so that two processes sharing one database file share one lock."""
    u = make_url(url)
    if u.get_backend_name() == "postgresql":
        return AdvisoryLock(url)
    if u.database and u.database != ":memory:":
        db_file = Path(u.database)
        return FileLock(db_file.with_name(db_file.name + ".scheduler-lock"))
    return FileLock(Path(instance_path) / "scheduler.lock")
