"""Team conventions, checked over every DAG in dags/: imports, names, docs, owners, retries."""

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


def test_every_dag_file_holds_a_dag(dagbag):
    """A file in dags/ without a DAG is a DAG that failed to appear (or a stray module)."""
    files = {path.name for path in (REPO / "dags").glob("*.py")}
    assert files == {Path(dag.fileloc).name for dag in dagbag.dags.values()}


def _violations(dag) -> list[str]:
    """Every team convention one DAG breaks, in words."""
    from airflow.timetables.trigger import CronTriggerTimetable

    found = []
    if Path(dag.fileloc).stem != dag.dag_id:
        found.append(f"file {Path(dag.fileloc).name} should be named {dag.dag_id}.py")
    if not dag.dag_id.startswith("wonde_"):
        found.append("dag_id should start with wonde_")
    if not dag.tags or "wonde" not in dag.tags:
        found.append("tags should include 'wonde'")
    if not (dag.doc_md and dag.doc_md.strip()):
        found.append("doc_md (the module docstring) is empty")
    if dag.max_active_runs != 1:
        found.append("max_active_runs should be 1")
    if dag.catchup:
        found.append("catchup should be off (backfills are explicit)")
    if dag.start_date is None or dag.start_date.utcoffset().total_seconds() != 0:
        found.append("start_date should be set, in UTC")
    timetable = getattr(dag.timetable, "timetable", dag.timetable)  # asset-or-time
    if not isinstance(timetable, CronTriggerTimetable):
        found.append(f"schedule should be a CronTriggerTimetable, not {type(timetable).__name__}")
    for name, param in dag.params.items():
        if not param.description:
            found.append(f"Param {name} has no description")
    for task in dag.tasks:
        if task.owner != "calm-integrations":
            found.append(f"task {task.task_id}: owner {task.owner!r}")
        if task.retries < 2:
            found.append(f"task {task.task_id}: {task.retries} retries")
    return found


def test_every_dag_follows_the_conventions(dagbag):
    assert dagbag.dags, "no DAG found"
    broken = {dag_id: _violations(dag) for dag_id, dag in dagbag.dags.items()}
    assert not {k: v for k, v in broken.items() if v}


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
