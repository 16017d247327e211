"""A process killed just before its n-th SQL statement or commit, as a worker killed
between any two statements.

The work runs in a forked child (the parent's emulator threads go on serving it), which a
listener on every SQLAlchemy engine SIGKILLs when the count reaches n: nothing in the child
gets to clean up, as with a real ``kill -9`` or a lost machine.
"""

from __future__ import annotations

import itertools
import os
import signal
from collections.abc import Callable, Generator
from contextlib import contextmanager

import sqlalchemy as sa

from tests.support.forked import wait_for_child

_EVENTS = ("before_cursor_execute", "commit")


@contextmanager
def _on_every_statement(callback: Callable[..., None]) -> Generator[None, None, None]:
    for name in _EVENTS:
        sa.event.listen(sa.engine.Engine, name, callback)
    try:
        yield
    finally:
        for name in _EVENTS:
            sa.event.remove(sa.engine.Engine, name, callback)


def count_statements(work: Callable[[], object]) -> int:
    """Run ``work`` here; the number of SQL statements and commits it made."""
    counter = itertools.count()

    def count(*_args, **_kwargs) -> None:
        next(counter)

    with _on_every_statement(count):
        work()
    return next(counter)


def kill_points(total: int, wanted: str) -> list[int]:
    """Which of ``total`` statements to kill before: ``"all"``, or that many spread evenly."""
    if wanted == "all" or int(wanted) >= total:
        return list(range(1, total + 1))
    count = max(int(wanted), 1)
    return sorted({1 + round(i * (total - 1) / max(count - 1, 1)) for i in range(count)})


def run_killed_before(n: int, work: Callable[[], object], timeout: float = 120) -> bool:
    """Run ``work`` in a child killed just before its ``n``-th statement or commit.

    True when it was killed; False when it finished first. A child that fails otherwise,
    or outlives ``timeout``, is an AssertionError.
    """
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        counter = itertools.count(1)

        def kill_at_n(*_args, **_kwargs) -> None:
            if next(counter) == n:
                os.kill(os.getpid(), signal.SIGKILL)

        try:
            with _on_every_statement(kill_at_n):
                work()
        except BaseException:
            os._exit(3)
        os._exit(0)
    status = wait_for_child(pid, timeout, f"the work killed before statement {n}")
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
        return True
    code = os.waitstatus_to_exitcode(status)
    assert code == 0, f"the work killed before statement {n} failed otherwise (exit {code})"
    return False
