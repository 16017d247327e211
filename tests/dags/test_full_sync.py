"""wonde_schools_full_sync end to end: dag.test() against the emulator.

The whole sync runs on PostgreSQL and SQLite; its faults on SQLite only (each dag.test() costs
seconds per task, and the steps' database code meets the same faults on both backends in
tests/catalog and tests/tasks).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from tests.support.emulator_control import EmulatorControl
from wonde_sync.catalog import queries
from wonde_sync.core import sync_history
from wonde_sync.core.database import engine_from_url, table

DAGS = Path(__file__).resolve().parents[2] / "dags"

pytestmark = pytest.mark.slow


def load_dag(retries: int | None = None):
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(DAGS)).dags["wonde_schools_full_sync"]
    if retries is not None:
        # Airflow-level retries wait minutes between attempts; a test of a lasting fault
        # wants the first failure to be the last.
        for task in dag.tasks:
            task.retries = retries
    return dag


def run_full_sync(**kwargs) -> str:
    dag_run = load_dag(**kwargs).test()
    return str(dag_run.state)


def catalog_rows(engine) -> list[tuple]:
    schools = table("wonde_schools")
    cols = [c for c in schools.c if c.name != "sync_run_id"]
    with engine.connect() as conn:
        return conn.execute(sa.select(*cols).order_by(schools.c.id)).all()


def staging_count(engine) -> int:
    staging = table("wonde_schools_staging")
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(staging)).scalar_one()


@pytest.fixture
def db(calm_db):
    engine = engine_from_url(calm_db)
    yield engine
    engine.dispose()


#: Ten pages of 200; staging in chunks is tested in tests/catalog.
SCHOOLS = 2000


def test_full_sync_of_a_directory_then_rerun(airflow_db, start_emulator, db):
    emu = start_emulator(schools=SCHOOLS, seed=11)
    assert run_full_sync() == "success"

    rows = catalog_rows(db)
    assert [r.id for r in rows] == sorted(emu.school_ids())
    assert len(rows) == SCHOOLS
    run = sync_history.list_runs(db, kind="catalog")[0]
    assert run.status == "Completed"
    assert run.counts["fetched_count"] == SCHOOLS
    assert f"{SCHOOLS} schools" in run.message
    assert run.dag_id == "wonde_schools_full_sync" and run.dag_run_id
    meta = queries.latest_full_sync(db)
    assert meta.school_count == SCHOOLS and meta.sync_run_id == run.id
    assert staging_count(db) == 0

    # A spot check of one school's mapping against what Wonde serves.
    some_id = rows[1234].id
    served = requests.get(
        f"{emu.api_url}/schools/all",
        params={"per_page": 200, "page": 1, "urn": rows[1234].urn},
        headers={"Authorization": "Bearer test-app-token"},
        timeout=10,
    ).json()["data"]
    school = next(s for s in served if s["id"] == some_id)
    assert rows[1234].name == school["name"]
    assert rows[1234].postcode == school["address"]["address_postcode"].upper()
    assert rows[1234].region_domain == school["region"]["domain"]

    assert run_full_sync() == "success"
    assert catalog_rows(db) == rows
    runs = sync_history.list_runs(db, kind="catalog")
    assert [r.status for r in runs] == ["Completed", "Completed"]
    assert queries.latest_full_sync(db).sync_run_id == runs[0].id


@pytest.mark.parametrize("calm_db", ["sqlite"], indirect=True)
def test_auth_failure_mid_rebuild_keeps_previous_catalog(airflow_db, start_emulator, db):
    emu = start_emulator(schools=1200, seed=3)
    assert run_full_sync() == "success"
    before = catalog_rows(db)

    # Pages 1-3 succeed, then Wonde starts refusing the token.
    EmulatorControl(emu).fault(
        kind="status", status=401, path_contains="/schools/all", skip=3, times=None
    )
    assert run_full_sync() == "failed"

    assert catalog_rows(db) == before
    assert staging_count(db) == 0
    failed = sync_history.list_runs(db, kind="catalog")[0]
    assert failed.status == "Failed"
    assert "Reading the school directory from Wonde failed" in failed.message
    assert "401" in failed.message
    assert "test-app-token" not in failed.message
    assert queries.latest_full_sync(db).sync_run_id != failed.id


@pytest.mark.parametrize("calm_db", ["sqlite"], indirect=True)
def test_lasting_network_fault_fails_cleanly(airflow_db, start_emulator, db, quick_backoff):
    emu = start_emulator(schools=800, seed=5)
    assert run_full_sync() == "success"
    before = catalog_rows(db)

    EmulatorControl(emu).fault(kind="truncate", path_contains="/schools/all", skip=2, times=None)
    assert run_full_sync(retries=0) == "failed"

    assert catalog_rows(db) == before
    failed = sync_history.list_runs(db, kind="catalog")[0]
    assert failed.status == "Failed"
    assert "failed after 5 attempt" in failed.message


@pytest.mark.parametrize("calm_db", ["sqlite"], indirect=True)
def test_transient_faults_are_retried_without_gaps_or_duplicates(
    airflow_db, start_emulator, db, quick_backoff
):
    emu = start_emulator(schools=900, seed=9)
    control = EmulatorControl(emu)
    control.fault(
        kind="status", status=503, retry_after=0, path_contains="/schools/all", skip=1, times=2
    )
    control.fault(kind="reset", path_contains="/schools/all", skip=3, times=1)
    assert run_full_sync() == "success"
    assert [r.id for r in catalog_rows(db)] == sorted(emu.school_ids())


@pytest.mark.parametrize("calm_db", ["sqlite"], indirect=True)
def test_empty_directory_is_refused(airflow_db, start_emulator, db):
    emu = start_emulator(schools=300, seed=2)
    assert run_full_sync() == "success"
    EmulatorControl(emu).fault(kind="empty", path_contains="/schools/all", times=None)
    assert run_full_sync() == "failed"
    assert len(catalog_rows(db)) == 300
    failed = sync_history.list_runs(db, kind="catalog")[0]
    assert failed.status == "Failed"
    assert "empty school directory" in failed.message
