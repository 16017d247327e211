"""``python -m wonde_sync`` as its own process: what it loads, and which stream gets what."""

from __future__ import annotations

import re

from tests.admin.conftest import assert_one_line_error, row_counts, run_process, url_of
from tests.admin.test_cli_access import contact_args

HEAVY = ("pandas", "airflow", "sqlalchemy", "pydantic", "alembic")


def imported(stderr: str) -> set[str]:
    """Top-level packages in ``python -X importtime`` output."""
    return {m.group(1) for m in re.finditer(r"\|\s+([\w]+)[\w.]*$", stderr, re.MULTILINE)}


def test_help_on_stdout():
    done = run_process("--help")
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.startswith("usage: python -m wonde_sync [-h] [--db URL]")


def test_reading_commands_load_neither_airflow_nor_pandas(tmp_path):
    url = f"sqlite:///{tmp_path / 'calm.db'}"
    assert run_process("--db", url, "init-db").returncode == 0
    for argv, allowed in (
        (["--help"], set()),
        (["--db", url, "status"], {"sqlalchemy"}),
        (["--db", url, "history"], {"sqlalchemy"}),
        (["--db", url, "search", "fox"], {"sqlalchemy"}),
    ):
        done = run_process(*argv, python_options=("-X", "importtime"))
        assert done.returncode == 0, done.stderr[-2000:]
        assert imported(done.stderr) & set(HEAVY) == allowed, argv


def test_missing_file_one_line_and_nothing_created(tmp_path):
    path = tmp_path / "typo" / "calm.db"
    done = run_process("--db", f"sqlite:///{path}", "status")
    assert_one_line_error(
        done.returncode, done.stdout, done.stderr, f"no CalmCompliance database at {path}"
    )
    assert not path.parent.exists()


def test_logs_go_to_stderr_results_to_stdout(world):
    """A command that loads Airflow and calls Wonde: its log lines stay off stdout."""
    url = url_of(world.engine)
    done = run_process("--db", url, "request-access", "site-a", world.schools[7], *contact_args())
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Site site-a (Ashdown Academy): Pending approval - ")
    world.control.decline(world.schools[7])
    before = row_counts(world.engine)
    done = run_process("--db", url, "reconcile-connections")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        "Checked 1 connection: site-a Pending approval -> Access declined by school.\n"
    )
    assert "Reconciled connections with Wonde" in done.stderr  # the library's log line
    assert row_counts(world.engine) != before  # the history of the change was written
