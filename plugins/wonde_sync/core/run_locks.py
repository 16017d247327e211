"""Run locks: one run at a time on a piece of work (a site's imports, the catalog's swap).

A lock belongs to a live process: on PostgreSQL a session-level advisory lock held on a
connection of its own, on SQLite an ``flock`` on a file next to the database (in
``<database>.locks/``). Either goes away when its process dies, however it dies, so a
killed worker never blocks the work; no row has to be cleaned up after it.

:func:`held` waits for the lock, polling, up to a bound (:func:`wait_bound`), logging once
who holds it, then raises :class:`LockTimeout`: a plain, retryable error, as the holder is
expected to finish. Locks are not re-entrant: a process asking again for a lock it holds
waits for itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import socket
import tempfile
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

#: Seconds to wait for a lock, when this environment variable does not say otherwise.
WAIT_ENV = "WONDE_RUN_LOCK_WAIT_SECONDS"
DEFAULT_WAIT_SECONDS = 900.0
POLL_SECONDS = 0.25


def site_key(site_id: str) -> str:
    """The lock every run that writes ``site_id``'s people holds (imports, previews, undos)."""
    return f"site:{site_id}"


class LockTimeout(Exception):
    """A lock stayed held by another run for longer than the wait bound; a retry may get it."""

    def __init__(self, message: str, *, key: str, waited: float, holder: str | None) -> None:
        super().__init__(message)
        self.key = key
        self.waited = waited
        self.holder = holder


@dataclass(frozen=True)
class HeldLock:
    """A lock now held: how long it took to get, and who held it meanwhile (if anyone)."""

    key: str
    waited: float
    holder_seen: str | None


def wait_bound() -> float:
    """How long :func:`held` waits by default: ``WONDE_RUN_LOCK_WAIT_SECONDS``, else 900 s."""
    value = os.environ.get(WAIT_ENV, "").strip()
    try:
        return max(0.0, float(value)) if value else DEFAULT_WAIT_SECONDS
    except ValueError:
        log.warning("%s=%r is not a number of seconds", WAIT_ENV, value)
        return DEFAULT_WAIT_SECONDS


def lock_number(key: str) -> int:
    """A stable signed 64-bit number for ``key`` (PostgreSQL advisory locks take one)."""
    digest = hashlib.blake2b(f"wonde_sync:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextlib.contextmanager
def held(
    engine: Engine,
    key: str,
    *,
    holder: str,
    wait: float | None = None,
    poll: float = POLL_SECONDS,
) -> Generator[HeldLock, None, None]:
    """Hold the lock ``key`` for the block, waiting up to ``wait`` seconds for it.

    ``holder`` says who asks (a DAG run, a Sync History run); waiting runs see it, with
    this process's id and host. Raises :class:`LockTimeout` when the wait runs out.
    """
    bound = wait_bound() if wait is None else wait
    label = f"{holder} (pid {os.getpid()} on {socket.gethostname()})"
    lock = (
        _AdvisoryLock(engine, key)
        if engine.dialect.name == "postgresql"
        else _FileLock(engine, key)
    )
    started = time.monotonic()
    seen = None
    try:
        while not lock.try_acquire(label):
            waited = time.monotonic() - started
            if seen is None:
                seen = lock.holder() or "another run"
                log.info("Waiting up to %.0f s for the %s lock, held by %s", bound, key, seen)
            if waited >= bound:
                raise LockTimeout(
                    f"the {key} lock is still held by {seen} after {waited:.1f} s",
                    key=key,
                    waited=waited,
                    holder=seen,
                )
            time.sleep(min(poll, max(bound - waited, 0.01)))
    except BaseException:
        lock.close()
        raise
    waited = 0.0 if seen is None else time.monotonic() - started
    if seen is not None:
        log.info("Got the %s lock after waiting %.1f s", key, waited)
    try:
        yield HeldLock(key, waited, seen)
    finally:
        lock.release()


class _AdvisoryLock:
    """A session-level advisory lock on a connection used for nothing else."""

    def __init__(self, engine: Engine, key: str) -> None:
        self.number = lock_number(key)
        # Session locks outlive transactions: in autocommit, no transaction holds a snapshot
        # for nothing, and no COMMIT is a round trip of its own.
        self.conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")

    def try_acquire(self, label: str) -> bool:
        # Waiting runs read the holder's name from pg_stat_activity (63 characters at most);
        # a session that did not get the lock is never read as a holder.
        got = self.conn.execute(
            sa.text("SELECT pg_try_advisory_lock(:n), set_config('application_name', :a, false)"),
            {"n": self.number, "a": label[:63]},
        ).scalar()
        return bool(got)

    def holder(self) -> str | None:
        unsigned = self.number & 0xFFFF_FFFF_FFFF_FFFF
        found = self.conn.execute(
            sa.text(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
                " AND l.classid::bigint = :hi AND l.objid::bigint = :lo"
                " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"hi": unsigned >> 32, "lo": unsigned & 0xFFFF_FFFF},
        ).scalar()
        return found or None

    def release(self) -> None:
        unlocked = False
        try:
            unlocked = bool(
                self.conn.execute(
                    sa.text(
                        "SELECT pg_advisory_unlock(:n), set_config('application_name', '', false)"
                    ),
                    {"n": self.number},
                ).scalar()
            )
        except sa.exc.DBAPIError as exc:  # the session is going anyway, and the lock with it
            log.warning("Could not unlock %s cleanly: %s", self.number, exc.orig)
        if unlocked:
            self.conn.close()  # back to the pool: the session holds no lock any more
        else:
            self.close()

    def close(self) -> None:
        # Never back to the pool: closing the session drops the lock whatever happened.
        self.conn.invalidate()
        self.conn.close()


class _FileLock:
    """An ``flock`` on a file next to the SQLite database; its text names the holder."""

    def __init__(self, engine: Engine, key: str) -> None:
        self.path = lock_file(engine, key)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)

    def try_acquire(self, label: str) -> bool:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, label.encode(), 0)
        return True

    def holder(self) -> str | None:
        return os.pread(self.fd, 1000, 0).decode(errors="replace").strip() or None

    def release(self) -> None:
        try:
            os.ftruncate(self.fd, 0)
        finally:
            self.close()

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the file releases its flock
            self.fd = None


def lock_file(engine: Engine, key: str) -> Path:
    """Where a SQLite database keeps the lock ``key``: ``<database>.locks/<key>-<hash>.lock``.

    The files stay (removing one could let two runs lock different files of one name).
    """
    database = engine.url.database
    if database and database != ":memory:":
        path = Path(database).resolve()
        folder = path.parent / f"{path.name}.locks"
    else:  # an in-memory database lives in one process: so can its locks
        folder = Path(tempfile.gettempdir()) / f"wonde_sync-memory-{os.getpid()}.locks"
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", key)[:60]
    digest = hashlib.blake2b(key.encode(), digest_size=4).hexdigest()
    return folder / f"{slug}-{digest}.lock"
