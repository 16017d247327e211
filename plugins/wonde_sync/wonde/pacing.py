"""How many requests one process sends Wonde at once, and a pause all of them keep.

Every attempt of every client of the process passes through one gate: at most
``WONDE_CONCURRENCY`` requests (default 4) are in flight, whichever site, page or thread
sends them. When Wonde answers 429 with ``Retry-After``, the gate stays shut for that long
for everyone, not only for the request that was told to wait.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Generator

log = logging.getLogger(__name__)

CONCURRENCY_ENV = "WONDE_CONCURRENCY"
DEFAULT_CONCURRENCY = 4


def concurrency() -> int:
    """``WONDE_CONCURRENCY``: requests to Wonde in flight at once per process (default 4)."""
    value = os.environ.get(CONCURRENCY_ENV, "").strip()
    try:
        return max(1, int(value)) if value else DEFAULT_CONCURRENCY
    except ValueError:
        log.warning(
            "%s=%r is not a whole number: using %d", CONCURRENCY_ENV, value, DEFAULT_CONCURRENCY
        )
        return DEFAULT_CONCURRENCY


class Gate:
    """At most ``limit`` requests at once, and a shared pause after a rate limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)
        self._lock = threading.Lock()
        self._resume_at = 0.0

    @contextlib.contextmanager
    def request(self) -> Generator[None, None, None]:
        """Hold one of the slots for one request, after any pause has passed."""
        self._wait()
        with self._slots:
            self._wait()  # a pause may have begun while this request queued for a slot
            yield

    def pause(self, seconds: float) -> None:
        """Keep every request back for ``seconds`` from now (a longer pause already set wins)."""
        with self._lock:
            self._resume_at = max(self._resume_at, time.monotonic() + seconds)

    def paused_for(self) -> float:
        """Seconds until requests may go again (0: not paused)."""
        return max(0.0, self._resume_at - time.monotonic())

    def _wait(self) -> None:
        while (delay := self._resume_at - time.monotonic()) > 0:
            time.sleep(delay)


_gate: Gate | None = None
_gate_lock = threading.Lock()


def _forget_after_fork() -> None:
    # The slots the parent's threads hold would stay taken for ever in the child.
    global _gate, _gate_lock
    _gate = None
    _gate_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)


def gate() -> Gate:
    """The process's gate, sized by :func:`concurrency` when first used."""
    global _gate
    with _gate_lock:
        if _gate is None or _gate.limit != concurrency():
            _gate = Gate(concurrency())
        return _gate
