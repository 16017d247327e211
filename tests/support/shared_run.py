"""What the pytest processes of one test run share: a folder, a tag, and work done once.

The first process of a run (pytest itself, or the pytest-xdist controller) calls
:func:`begin`, which makes the run's folder and names it in ``CALM_TEST_RUN_DIR``; the
workers it starts inherit the variable. :func:`once` does a piece of work (start a server,
migrate a database) in the first process that asks for it, under a file lock, and hands its
result to the others. :func:`tag` goes into the names of the databases the run creates, so
that the run can count what it left behind, even on a server others use too.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

ENV = "CALM_TEST_RUN_DIR"


def begin() -> Path:
    """Make the run's folder (tag inside) and name it in the environment."""
    path = Path(tempfile.mkdtemp(prefix="calm-test-run-"))
    (path / "tag").write_text(secrets.token_hex(4))
    os.environ[ENV] = str(path)
    return path


def folder() -> Path:
    """The run's folder."""
    return Path(os.environ[ENV])


def tag() -> str:
    """Eight hex digits naming this run."""
    return (folder() / "tag").read_text()


def once(name: str, make: Callable[[], str]) -> str:
    """``make()``'s result, computed by the first process that asks (the others wait)."""
    result = folder() / f"{name}.done"
    with open(folder() / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not result.exists():
            value = make()
            result.write_text(value)
        return result.read_text()


def done(name: str) -> str | None:
    """What :func:`once` recorded under ``name``, or None when nobody asked for it."""
    result = folder() / f"{name}.done"
    return result.read_text() if result.exists() else None


def end() -> None:
    """Remove the run's folder."""
    shutil.rmtree(folder(), ignore_errors=True)
