"""Benchmark: what one mapped task costs Airflow itself, on a real scheduler and executor.

A real Airflow (api-server, scheduler, dag-processor; LocalExecutor with ``--parallelism``
task slots, default 4; metadata on PostgreSQL, all on loopback) runs a DAG whose mapped
task does nothing: once with 1 mapped task to warm up (the first run pays for parsing and
the first task process), then with 1 and with ``--tasks`` + 1 (default 41). The
difference, times the slots, over ``--tasks`` is the slot-seconds each more task costs:
scheduling, queueing, a task process's start-up and its reports. This is the per-task
cost ``bench/many_sites.py`` takes as ``--task-overhead``.
Usage: ``python bench/task_overhead.py [--tasks 40] [--parallelism 4]``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DAG_ID = "noop_batches"

NOOP_DAG = '''"""A mapped task over ``batches`` batches that each do nothing."""

import pendulum
from airflow.sdk import Param, dag, task


@dag(
    dag_id="noop_batches",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"batches": Param(1, type="integer")},
)
def noop_batches():
    @task
    def choose_sites(params=None):
        return [{"label": str(n)} for n in range(params["batches"])]

    @task(map_index_template="{{ batch.label }}")
    def import_sites(batch):
        return {}

    import_sites.expand(batch=choose_sites())


noop_batches()
'''


def main() -> None:
    """Start Airflow, time the DAG with 1 and with ``--tasks`` + 1 mapped tasks."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--parallelism", type=int, default=4)
    args = parser.parse_args()

    from tests.support import postgres_server
    from tests.support.airflow_services import AirflowServices

    work = Path(tempfile.mkdtemp(prefix="calm-bench-overhead-"))
    pg_dir = tempfile.mkdtemp(prefix="calm-bench-pg-")
    base = postgres_server.start(pg_dir)
    try:
        import sqlalchemy as sa

        admin = sa.create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql("CREATE DATABASE airflow_meta")
        admin.dispose()
        dags = work / "dags"
        dags.mkdir()
        (dags / "noop_batches.py").write_text(NOOP_DAG)
        services = AirflowServices(
            work / "airflow",
            metadata_url=f"{base}/airflow_meta",
            parallelism=args.parallelism,
            dags_folder=dags,
            plugins_folder=work / "no-plugins",
            unpaused=(DAG_ID,),
        )
        with services as airflow:
            took = {}
            for count in (0, 1, args.tasks + 1):
                started = time.perf_counter()
                run_id = airflow.trigger(DAG_ID, {"batches": max(count, 1)})
                (run,) = airflow.wait_for_runs(DAG_ID, run_ids=[run_id], timeout=900, poll=0.2)
                assert run["state"] == "success", run
                took[count] = time.perf_counter() - started
                label = "warm-up" if count == 0 else f"{count:>4} mapped tasks"
                print(f"{label:>16}: {took[count]:6.1f} s from trigger to end")
        extra = took[args.tasks + 1] - took[1]
        per_task = extra * args.parallelism / args.tasks
        print(
            f"\neach more mapped task: {extra / args.tasks:.2f} s of wall time at "
            f"{args.parallelism} slots, {per_task:.2f} slot-seconds"
        )
    finally:
        postgres_server.stop(pg_dir)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
