"""apply_schema: every revision once, in one transaction, one process at a time."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.core.schema_state import REVISIONS, describe, version
from wonde_sync.core import migrations
from wonde_sync.core.database import apply_schema

HALF_MADE = """
import pathlib, time
import sqlalchemy as sa
from alembic import op

revision = "099_half_made"
down_revision = "{head}"


def upgrade():
    op.create_table("wonde_half_made", sa.Column("id", sa.Integer, primary_key=True))
    op.add_column("wonde_connections", sa.Column("half_made", sa.Text))
    op.create_index("sites_half_made_idx", "sites", ["name"])
    {last_step}
"""


def history_with_half_made(folder: Path, last_step: str) -> Path:
    """A copy of the history with one more revision: three operations, then ``last_step``."""
    location = folder / "migrations"
    shutil.copytree(
        migrations.SCRIPT_LOCATION, location, ignore=shutil.ignore_patterns("__pycache__")
    )
    (location / "versions" / "099_half_made.py").write_text(
        HALF_MADE.format(head=REVISIONS[-1], last_step=last_step)
    )
    return location


@pytest.fixture
def broken_history(tmp_path):
    return history_with_half_made(tmp_path, 'raise RuntimeError("broken on purpose")')


def test_every_revision_is_applied_once(bare_engine):
    assert apply_schema(bare_engine) == REVISIONS
    assert apply_schema(bare_engine) == []
    assert version(bare_engine) == [REVISIONS[-1]]
    assert not sa.inspect(bare_engine).has_table(migrations.LEGACY_TABLE)


def test_airflow_version_table_is_left_alone(bare_engine):
    # Airflow's metadata may live in the same database; its table is alembic_version.
    with bare_engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.exec_driver_sql("INSERT INTO alembic_version VALUES ('airflow_head')")
    assert apply_schema(bare_engine) == REVISIONS
    with bare_engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT * FROM alembic_version").all() == [("airflow_head",)]


def test_failed_upgrade_leaves_the_previous_schema(bare_engine, broken_history):
    apply_schema(bare_engine)
    before = describe(bare_engine)

    with pytest.raises(RuntimeError, match="broken on purpose"):
        migrations.upgrade(bare_engine, broken_history)

    assert describe(bare_engine) == before
    assert version(bare_engine) == [REVISIONS[-1]]


def test_failed_first_upgrade_leaves_an_empty_database(bare_engine, broken_history):
    # All pending revisions share one transaction: the others go with the failing one.
    with pytest.raises(RuntimeError, match="broken on purpose"):
        migrations.upgrade(bare_engine, broken_history)

    assert sa.inspect(bare_engine).get_table_names() == []


_HALF_UPGRADER = """
import sys
from pathlib import Path
from wonde_sync.core import migrations
from wonde_sync.core.database import engine_from_url
migrations.upgrade(engine_from_url(sys.argv[1]), Path(sys.argv[2]))
"""


def test_process_killed_mid_upgrade_leaves_the_previous_schema(calm_db, bare_engine, tmp_path):
    apply_schema(bare_engine)
    before = describe(bare_engine)
    started = tmp_path / "started"
    location = history_with_half_made(
        tmp_path, f"pathlib.Path({str(started)!r}).touch(); time.sleep(120)"
    )
    url = calm_db.render_as_string(hide_password=False)
    proc = subprocess.Popen([sys.executable, "-c", _HALF_UPGRADER, url, str(location)])
    try:
        deadline = time.monotonic() + 60
        while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert started.exists(), "the upgrade never reached its fourth revision"
    finally:
        proc.kill()
        proc.wait()

    assert describe(bare_engine) == before
    assert version(bare_engine) == [REVISIONS[-1]]


# Each process loads everything first, then waits for the go file, so the upgrades overlap.
_UPGRADER = """
import pathlib, sys, time
from wonde_sync.core import migrations
from wonde_sync.core.database import apply_schema, engine_from_url
engine = engine_from_url(sys.argv[1])
print("ready", flush=True)
while not pathlib.Path(sys.argv[2]).exists():
    time.sleep(0.005)
print(",".join(apply_schema(engine)))
"""


def test_concurrent_upgrades_apply_each_revision_once(calm_db, bare_engine, tmp_path):
    # The file exists (in WAL mode) before the race, as after any first connection: what is
    # raced here is the upgrade, not SQLite's one-off switch of a new file's journal mode.
    with bare_engine.connect():
        pass
    go = tmp_path / "go"
    url = calm_db.render_as_string(hide_password=False)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _UPGRADER, url, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready"
    go.touch()
    results = [proc.communicate(timeout=120) for proc in procs]

    assert [proc.returncode for proc in procs] == [0] * 4, [err for _, err in results]
    assert sorted(out.strip() for out, _ in results) == ["", "", "", ",".join(REVISIONS)]
    assert version(bare_engine) == [REVISIONS[-1]]
