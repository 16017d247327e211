"""The sync DAGs' Params through dag.test(): defaults run (on both databases), bad values fail
at once (on SQLite; tests/tasks checks the same values on both); Sync History records the run type
and the window."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from tests.people.test_sync_dags import connect
from wonde_sync.core import sync_history
from wonde_sync.people import importer

DAGS = Path(__file__).resolve().parents[2] / "dags"
INCREMENTAL = "wonde_incremental_sync"

pytestmark = pytest.mark.slow


def run_dag(dag_id: str, conf: dict | None = None):
    """dag.test() of one DAG with its own retries (a retried task would wait 5 minutes)."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS)).dags[dag_id].test(run_conf=conf)


def tries(dag_run) -> dict[str, tuple[str, int]]:
    return {ti.task_id: (str(ti.state), ti.try_number) for ti in dag_run.get_task_instances()}


@pytest.fixture
def emu(start_emulator):
    return start_emulator(schools=6, staff_per_school=20, students_per_school=5, seed=8, approved=0)


def test_default_params_run_and_a_manual_since_is_recorded(airflow_db, emu, control, engine):
    assert str(run_dag("wonde_schools_full_sync").state) == "success"
    connect(engine, control, "site-a", emu.school_ids()[0])
    assert str(run_dag(INCREMENTAL).state) == "success"
    first = sync_history.list_runs(engine, site_id="site-a")[0]
    assert (first.kind, first.status, first.run_type) == ("full_import", "Completed", "manual")
    assert first.window_start is None and first.window_end == first.started_at
    catalog = sync_history.list_runs(engine, kind="catalog")[0]
    assert (catalog.status, catalog.run_type) == ("Completed", "manual")

    # A since later than the watermark reads from the watermark.
    mark = importer.watermark(engine, "site-a")
    today = mark.date().isoformat()
    assert str(run_dag(INCREMENTAL, {"since": today, "sites": ["site-a"]}).state) == "success"
    run = sync_history.list_runs(engine, site_id="site-a")[0]
    assert (run.kind, run.run_type) == ("incremental_import", "manual")
    assert run.window_start == min(mark, datetime.fromisoformat(f"{today}T00:00+00:00")) - (
        importer.DEFAULT_OVERLAP
    )
    assert run.dag_run_id and run.dag_id == INCREMENTAL


@pytest.mark.parametrize("calm_db", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("conf", "expected"),
    [
        ({"sites": ["nosuch"]}, "Param sites names no known site: 'nosuch'."),
        ({"since": "2999-01-01"}, "Param since='2999-01-01' lies in the future"),
    ],
    ids=["unknown-site", "future-since"],
)
def test_a_bad_param_fails_the_first_task_once(airflow_db, emu, engine, conf, expected):
    dag_run = run_dag(INCREMENTAL, conf)

    assert str(dag_run.state) == "failed"
    states = tries(dag_run)
    assert states["prepare_database"] == ("success", 1)
    assert states["check_params"] == ("failed", 1)  # no retry
    assert {s for t, (s, _) in states.items() if t not in ("prepare_database", "check_params")} == {
        "upstream_failed"
    }
    [run] = sync_history.list_runs(engine)
    assert (run.status, run.run_type, run.dag_id) == ("Failed", "manual", INCREMENTAL)
    assert expected in run.message and "leave it empty" in run.message


@pytest.mark.parametrize("calm_db", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "conf", [{"since": "yesterday"}, {"max_archive_pct": 150}, {"sites": "site-a"}]
)
def test_what_the_schema_refuses_never_becomes_a_run(airflow_db, emu, engine, conf):
    from airflow.sdk.definitions.param import ParamValidationError

    with pytest.raises(ParamValidationError):
        run_dag(INCREMENTAL, conf)
    assert sync_history.list_runs(engine) == []


def test_since_default_is_an_empty_date():
    from airflow.dag_processing.dagbag import DagBag

    params = DagBag(dag_folder=str(DAGS)).dags[INCREMENTAL].params
    since = params.get_param("since")
    assert since.value is None
    assert since.schema["type"] == ["null", "string"] and since.schema["format"] == "date"
    assert since.schema["title"] and since.description
    assert params.get_param("sites").value == []
    params.validate()  # the defaults pass the trigger form's checks
