"""Work run in a forked child, as a process that inherited this one's state."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable


def exit_code_in_child(work: Callable[[], int], timeout: float = 30) -> int:
    """Run ``work`` in a forked child; its result is the child's exit code."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 255
        try:
            code = work()
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(wait_for_child(pid, timeout, "the forked child"))


def wait_for_child(pid: int, timeout: float, what: str) -> int:
    """The child's wait status; one that outlives ``timeout`` is killed, an AssertionError."""
    deadline = time.monotonic() + timeout
    while not (found := os.waitpid(pid, os.WNOHANG))[0]:
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError(f"{what} hung for {timeout} s")
        time.sleep(0.01)
    return found[1]
