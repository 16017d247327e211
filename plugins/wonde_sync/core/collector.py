"""Python's cyclic garbage collector kept out of the way while rows are built in bulk.

Decoding Wonde's pages makes millions of small dicts and lists, each a reason for the
collector to run; every run of its oldest generation walks every object of the process
(Airflow's and SQLAlchemy's modules included). That was a third of a catalog rebuild's
time. JSON records hold no reference cycles, so nothing is lost by collecting rarely: while
any caller is inside :func:`bulk_rows`, the objects alive when it began are left out of the
collector's walks (``gc.freeze``) and the youngest generation is collected less often.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
from collections.abc import Generator

#: Allocations between two collections of the youngest generation (Python's default: 700).
BULK_THRESHOLD = 100_000

_lock = threading.Lock()
_inside = 0
_saved: tuple[int, int, int] = gc.get_threshold()


def _forget_after_fork() -> None:
    global _lock
    _lock = threading.Lock()  # a lock held by another thread at the fork stays held


os.register_at_fork(after_in_child=_forget_after_fork)


@contextlib.contextmanager
def bulk_rows() -> Generator[None, None, None]:
    """Collect rarely until the last caller (of any thread) leaves."""
    global _inside, _saved
    with _lock:
        if _inside == 0:
            _saved = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(BULK_THRESHOLD, *_saved[1:])
        _inside += 1
    try:
        yield
    finally:
        with _lock:
            _inside -= 1
            if _inside == 0:
                gc.set_threshold(*_saved)
                gc.unfreeze()
