"""Team conventions for every DAG: it imports cleanly, fast, with tags, an owner and retries."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

EXPECTED_DAGS = {"wonde_schools_full_sync", "wonde_incremental_sync", "wonde_connections_reconcile"}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    started = time.perf_counter()
    bag = DagBag(dag_folder=str(REPO / "dags"))
    elapsed = time.perf_counter() - started
    print(f"\nParsed {len(bag.dags)} DAGs from dags/ in {elapsed:.2f} s")
    for stat in bag.dagbag_stats:
        print(f"  {stat.file}: {stat.duration}")
    return bag


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


def test_expected_dags_exist(dagbag):
    assert EXPECTED_DAGS <= set(dagbag.dag_ids)


def test_one_dag_per_file(dagbag):
    files = [dag.fileloc for dag in dagbag.dags.values()]
    assert len(files) == len(set(files))


@pytest.mark.parametrize("dag_id", sorted(EXPECTED_DAGS))
def test_conventions(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert dag.tags and "wonde" in dag.tags
    assert dag.doc_md and dag.doc_md.strip()
    assert dag.max_active_runs == 1
    for task in dag.tasks:
        assert task.owner == "calm-integrations", task.task_id
        assert task.retries >= 2, task.task_id


def test_dag_files_parse_without_heavy_imports():
    """DAG files import only Airflow at parse time; pandas and SQLAlchemy load inside tasks."""
    import subprocess
    import sys

    code = (
        "import sys, runpy, glob\n"
        f"for path in glob.glob({str(REPO / 'dags' / '*.py')!r}): runpy.run_path(path)\n"
        "heavy = [m for m in ('pandas', 'wonde_sync.catalog', 'psycopg') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1:] in ([], [""]), out.stdout


def test_incremental_sync_runs_daily_at_three_utc_over_a_day(dagbag):
    from airflow.timetables.trigger import CronTriggerTimetable

    timetable = dagbag.dags["wonde_incremental_sync"].timetable
    cron = getattr(timetable, "timetable", timetable)  # the time part of asset-or-time
    assert isinstance(cron, CronTriggerTimetable)
    assert cron._expression == "0 3 * * *"
    assert str(cron._timezone) == "UTC"
    assert cron._interval.total_seconds() == 86400
