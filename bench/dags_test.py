"""Benchmark: ``airflow dags test`` of both sync DAGs against no-op DAGs of the same shape.

An emulator of 100 approved schools (30 staff each, another process), one site per school,
``calm_db`` on PostgreSQL, Airflow's metadata in SQLite in a throwaway home. Each sync DAG
runs once with ``airflow dags test``, then a no-op DAG with the same tasks, dependencies
and mapped batches, whose tasks return at once: the difference is the project's own work,
the no-op time what Airflow itself costs to run that shape in one process. The full sync
runs first (the catalog and every site's first import), then the incremental one (after
1% of the staff changed). Usage: ``python bench/dags_test.py [--sites 100] [--staff 30]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from many_sites import change_staff
from site_world import connect_sites, sites_world

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
AIRFLOW = str(Path(sys.executable).with_name("airflow"))

NOOP_DAGS = '''"""No-op DAGs with the sync DAGs' tasks, dependencies and batches."""

import pendulum
from airflow.sdk import dag, task

BATCHES = __BATCHES__
START = pendulum.datetime(2026, 1, 1, tz="UTC")


@dag(dag_id="noop_full_sync", schedule=None, start_date=START, catchup=False)
def noop_full_sync():
    @task
    def prepare_database():
        return []

    @task
    def start_sync_run():
        return {}

    @task
    def stage_directory(run):
        return {}

    @task
    def validate_catalog(run, staged):
        return 0

    @task
    def publish_catalog(run, staged):
        return 0

    @task
    def choose_sites():
        return BATCHES

    @task(map_index_template="{{ batch.label }}")
    def import_sites(batch):
        return {}

    run = start_sync_run()
    staged = stage_directory(run)
    prepare_database() >> run
    published = publish_catalog(run, staged)
    validate_catalog(run, staged) >> published
    batches = choose_sites()
    published >> batches
    import_sites.expand(batch=batches)


@dag(dag_id="noop_incremental_sync", schedule=None, start_date=START, catchup=False)
def noop_incremental_sync():
    @task
    def prepare_database():
        return []

    @task
    def check_params():
        return {}

    @task.short_circuit
    def directory_synced():
        return True

    @task
    def choose_sites(checked):
        return BATCHES

    @task.short_circuit
    def any_site(batches):
        return bool(batches)

    @task(map_index_template="{{ batch.label }}")
    def import_sites(batch, checked):
        return {}

    @task
    def refresh_schools():
        return 0

    checked = check_params()
    batches = choose_sites(checked)
    ready = any_site(batches)
    prepare_database() >> checked >> directory_synced() >> batches
    ready >> [import_sites.partial(checked=checked).expand(batch=batches), refresh_schools()]


noop_full_sync()
noop_incremental_sync()
'''


def dags_test(dag_id: str, env: dict[str, str], logs: Path) -> float:
    """``airflow dags test DAG_ID``; its seconds (exits with the log's end if it fails)."""
    log = logs / f"{dag_id}.log"
    started = time.perf_counter()
    with log.open("w") as out:
        done = subprocess.run(
            [AIRFLOW, "dags", "test", dag_id], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    seconds = time.perf_counter() - started
    if done.returncode != 0:  # "DagRun failed" when any task failed
        sys.exit(f"airflow dags test {dag_id} failed; see {log}")
    return seconds


def main() -> None:
    """Set up the sites and the Airflow home, time each DAG and its no-op twin."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--sites", type=int, default=100)
    parser.add_argument("--staff", type=int, default=30)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="calm-bench-airflow-"))
    try:
        with sites_world(args.sites, args.staff, 0.0, "bench_dags") as world:
            from wonde_sync.tasks import import_steps, site_batches
            from wonde_sync.tasks.defaults import DEFAULT_BATCH_SIZE

            connect_sites(world)
            batches = site_batches.batches(
                import_steps.sites_to_import(refresh=False), DEFAULT_BATCH_SIZE
            )
            dags = home / "dags"
            dags.mkdir()
            for name in ("wonde_schools_full_sync.py", "wonde_incremental_sync.py"):
                shutil.copy(REPO / "dags" / name, dags / name)
            (dags / "noop_sync.py").write_text(NOOP_DAGS.replace("__BATCHES__", repr(batches)))
            env = {
                **os.environ,
                "AIRFLOW_HOME": str(home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
                "PATH": f"{Path(AIRFLOW).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            }
            subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, capture_output=True)
            subprocess.run(
                [AIRFLOW, "pools", "set", "wonde_api", "4", "Calls to Wonde"],
                env=env,
                check=True,
                capture_output=True,
            )
            print(
                f"\n{args.sites} sites × {args.staff} staff, {len(batches)} import_sites "
                f"batches; airflow dags test, seconds"
            )
            print(f"{'DAG':<26}{'project':>9}{'no-op':>9}{'project work':>14}")
            for dag_id, noop in (
                ("wonde_schools_full_sync", "noop_full_sync"),
                ("wonde_incremental_sync", "noop_incremental_sync"),
            ):
                if dag_id == "wonde_incremental_sync":
                    change_staff(world.wonde_url, [s["id"] for s in world.schools], 0.01)
                took = dags_test(dag_id, env, home)
                base = dags_test(noop, env, home)
                print(f"{dag_id:<26}{took:>9.1f}{base:>9.1f}{took - base:>14.1f}", flush=True)
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
