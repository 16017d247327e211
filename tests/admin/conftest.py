"""The admin tools act on the world of the school-access tests, so their fixtures are those.

An emulator, the catalog read from it, sites a and b with one admin each plus an outsider,
and the API on a TestClient: see :mod:`tests.school_access.conftest`. On top: the CLI run
in-process (``main(argv)``) or as its own process, and checks of its errors.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.school_access.conftest import api, lifecycle_env, two_sites, world

__all__ = ["api", "lifecycle_env", "two_sites", "world"]

REPO = Path(__file__).resolve().parents[2]


def url_of(engine: sa.Engine) -> str:
    """The engine's URL as the CLI takes it (password included)."""
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def run_cli(capsys):
    """Run the CLI in-process: ``run_cli(*argv)`` -> (exit code, stdout, stderr)."""
    from wonde_sync.admin.cli import main

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def cli(engine, run_cli):
    """Run one command on the test database: (exit code, stdout, stderr)."""
    return lambda *argv: run_cli("--db", url_of(engine), *argv)


def run_process(
    *argv: str, env: dict | None = None, python_options: tuple[str, ...] = ()
) -> subprocess.CompletedProcess:
    """``python [python_options] -m wonde_sync ARGV`` in its own process, as typed."""
    return subprocess.run(
        [sys.executable, *python_options, "-m", "wonde_sync", *argv],
        env={**os.environ, **(env or {})},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_line_error(code: int, out: str, err: str, *expected: str) -> None:
    """Exit code 2, nothing on stdout, one ``error:`` line on stderr holding ``expected``."""
    assert code == 2, (code, out, err)
    assert out == "", out
    assert "Traceback" not in err, err
    assert err.startswith("error: ") and err.endswith("\n") and err.count("\n") == 1, err
    for text in expected:
        assert text in err, err


def row_counts(engine: sa.Engine) -> dict[str, int]:
    """Rows per table of the database, to show that a failed command changed nothing."""
    with engine.connect() as conn:
        names = sa.inspect(conn).get_table_names()
        return {
            name: conn.execute(sa.text(f'SELECT count(*) FROM "{name}"')).scalar_one()
            for name in names
        }
