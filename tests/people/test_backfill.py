"""`airflow backfill create` of the incremental sync, run by a real scheduler, done twice.

The first backfill imports each day of the window (a site never imported gets its full
first import; the others read the changes since each run's data interval start, minus the
overlap); the same backfill again changes nothing. The catalog and the first site's first
import are made in-process beforehand: only the backfills need the scheduler.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.people.test_sync_dags import connect, people
from tests.support.airflow_services import parse_time
from wonde_sync.catalog import rebuild
from wonde_sync.core import sync_history
from wonde_sync.core.database import table
from wonde_sync.people import importer
from wonde_sync.school_access.import_targets import import_targets

pytestmark = pytest.mark.slow

DAG_ID = "wonde_incremental_sync"
DAYS = 2


@pytest.fixture
def emu(start_emulator):
    """An emulator with 20 schools, none approved yet."""
    return start_emulator(
        schools=20, staff_per_school=30, students_per_school=10, seed=11, approved=0
    )


@pytest.fixture
def airflow(start_airflow, emu, engine):
    """A real Airflow whose tasks use this test's emulator and CalmCompliance database."""
    return start_airflow(unpaused=(DAG_ID,))


def sync_catalog(engine) -> None:
    """The school directory, read from the emulator into the catalog."""
    from wonde_sync.wonde.client import WondeClient

    run_id = sync_history.start_run(engine, sync_history.CATALOG)
    pages = (page.records for page in WondeClient().iter_pages("schools/all"))
    rebuild.stage(engine, run_id, pages)
    rebuild.publish(engine, run_id, started_at=datetime.now(UTC), dag_run_id=None)


def first_import(engine, site_id: str) -> None:
    """The site's first (full) import, outside Airflow."""
    from wonde_sync.wonde.client import WondeClient

    (target,) = [t for t in import_targets(engine) if t.site_id == site_id]
    importer.import_site(engine, WondeClient(), target, importer.ImportOptions())


def backfill(airflow, start, end, *options: str) -> list[dict]:
    """Create a backfill of the window and wait until its runs have finished."""
    airflow.close_finished_backfills(DAG_ID)
    asked = datetime.now(UTC)
    airflow.cli(
        "backfill",
        "create",
        "--dag-id",
        DAG_ID,
        "--from-date",
        start.isoformat(),
        "--to-date",
        end.isoformat(),
        *options,
    )
    return airflow.wait_for_runs(
        DAG_ID, run_type="backfill", count=DAYS, finished_after=asked, timeout=150
    )


def rows_of(engine, run_ids) -> dict[tuple[str, str], sync_history.SyncRun]:
    """The Sync History import rows of these DAG runs, by (dag run id, site)."""
    found = {}
    for row in sync_history.list_runs(engine, limit=500):
        if row.kind != "catalog" and row.dag_run_id in run_ids:
            found.setdefault((row.dag_run_id, row.site_id), row)  # newest first
    return found


def read_from_interval_start(row: sync_history.SyncRun, run: dict) -> bool:
    """Whether a backfill import read changes since its run's interval start (minus overlap)."""
    since = parse_time(run["data_interval_start"]) - importer.DEFAULT_OVERLAP
    return row.run_type == "backfill" and row.window_start == since


def changes(row) -> tuple[int, int, int]:
    """A Sync History row's (created, updated, archived) counts."""
    return row.counts["created_count"], row.counts["updated_count"], row.counts["archived_count"]


def active_in_mis(control, school_id: str, record_type: str) -> set[str]:
    """Ids of the school's people Wonde lists as active (ground truth of the emulator)."""
    truth = control.people(school_id, record_type)
    return {p["id"] for p in truth if p["mis_status"] == "active" and not p["deleted"]}


def pupils(engine, site_id: str) -> dict[str, dict]:
    """The site's rows in ``pupils``, by Wonde id."""
    t = table("pupils")
    with engine.connect() as conn:
        rows = conn.execute(t.select().where(t.c.site_id == site_id)).mappings().all()
    return {r["external_id"]: dict(r) for r in rows}


def active(rows: dict[str, dict]) -> set[str]:
    """The ids of the active rows."""
    return {k for k, row in rows.items() if row["status"] == "active"}


# SQLite only: every DAG run goes through a real scheduler, which makes this test take
# minutes; the import code itself runs on both databases in the dag.test() tests.
@pytest.mark.parametrize("calm_db", ["sqlite"], indirect=True)
def test_backfill_imports_each_day_and_rerunning_it_changes_nothing(airflow, emu, control, engine):
    """Each backfill run imports its day; the same backfill again changes nothing."""
    ids = emu.school_ids()
    sync_catalog(engine)
    # site-a is imported before the backfill; site-b gets its first import from it.
    connect(engine, control, "site-a", ids[0])
    first_import(engine, "site-a")
    assert sync_history.list_runs(engine, site_id="site-a")[0].kind == "full_import"
    connect(engine, control, "site-b", ids[1])

    # The MIS of site-a's school changes after its import.
    renamed, suspended, deleted = sorted(active_in_mis(control, ids[0], "employee"))[:3]
    control.edit_person(ids[0], renamed, forename="Éowyn")
    control.edit_person(ids[0], suspended, mis_status="suspended")
    control.delete_person(ids[0], deleted)
    hired = control.add_person(ids[0], forename="Zoë", surname="D'Souza", email="zd@s.example")

    # One run a day at 03:00 UTC over the day before: DAYS runs, the last one at 03:00 today
    # minus one day.
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start, end = today - timedelta(days=DAYS), today - timedelta(days=1) + timedelta(hours=3)
    # Backfill runs are not bounded by the DAG's max_active_runs: one at a time, in order.
    runs = backfill(airflow, start, end, "--max-active-runs", "1")
    assert [r["state"] for r in runs] == ["success"] * DAYS
    triggers = [start + timedelta(days=n, hours=3) for n in range(DAYS)]
    assert [parse_time(r["data_interval_end"]) for r in runs] == triggers
    assert [parse_time(r["data_interval_start"]) for r in runs] == [
        t - timedelta(days=1) for t in triggers
    ]
    run_ids = [r["dag_run_id"] for r in runs]
    rows = rows_of(engine, run_ids)
    assert set(rows) == {(r, s) for r in run_ids for s in ("site-a", "site-b")}
    assert {row.status for row in rows.values()} == {"Completed"}

    # Day one applies site-a's changes and imports site-b in full; the later days re-read
    # site-a's changes (made after their windows began) and change nothing.
    first, *later = runs
    row = rows[first["dag_run_id"], "site-a"]
    assert (row.kind, changes(row)) == ("incremental_import", (1, 1, 2))
    staff_b = active_in_mis(control, ids[1], "employee")
    pupils_b = active_in_mis(control, ids[1], "student")
    row = rows[first["dag_run_id"], "site-b"]
    assert (row.kind, changes(row)) == ("full_import", (len(staff_b) + len(pupils_b), 0, 0))
    assert read_from_interval_start(rows[first["dag_run_id"], "site-a"], first)
    assert (row.run_type, row.window_start) == ("backfill", None)  # site-b: a full first import
    for run in later:
        for site_id in ("site-a", "site-b"):
            row = rows[run["dag_run_id"], site_id]
            assert (row.kind, changes(row)) == ("incremental_import", (0, 0, 0))
            assert read_from_interval_start(row, run)
        assert rows[run["dag_run_id"], "site-a"].counts["fetched_count"] >= 3

    staff = {site: people(engine, site) for site in ("site-a", "site-b")}
    pupil_rows = {site: pupils(engine, site) for site in ("site-a", "site-b")}
    assert active(staff["site-a"]) == active_in_mis(control, ids[0], "employee")
    assert hired["id"] in active(staff["site-a"])
    assert staff["site-a"][renamed]["forename"] == "Éowyn"
    assert staff["site-a"][suspended]["archived_reason"] == "suspended"
    assert staff["site-a"][deleted]["archived_reason"] == "deleted_in_mis"
    assert active(staff["site-b"]) == staff_b and active(pupil_rows["site-b"]) == pupils_b

    # The same window again. Airflow creates no run for a date that has a completed one
    # unless told to rerun them (same run ids); nothing changes, and each new Sync History
    # row says so.
    last_row = sync_history.list_runs(engine, limit=1)[0].id
    again = backfill(
        airflow, start, end, "--max-active-runs", "1", "--reprocess-behavior", "completed"
    )
    assert [r["state"] for r in again] == ["success"] * DAYS
    assert [r["dag_run_id"] for r in again] == run_ids
    new_rows = [r for r in sync_history.list_runs(engine, limit=500) if r.id > last_row]
    assert sorted((r.dag_run_id, r.site_id) for r in new_rows) == sorted(rows)
    for row in new_rows:
        assert (row.status, row.kind, changes(row)) == (
            "Completed",
            "incremental_import",
            (0, 0, 0),
        )
    again_rows = rows_of(engine, run_ids)  # the newest row of each (run, site): the rerun's
    for run in again:
        for site_id in ("site-a", "site-b"):
            assert read_from_interval_start(again_rows[run["dag_run_id"], site_id], run)
    assert {site: people(engine, site) for site in staff} == staff
    assert {site: pupils(engine, site) for site in pupil_rows} == pupil_rows
