"""Benchmark: 2,000 sites through the sync DAGs' batched task path, and 10,000 modelled.

2,000 approved schools with 20 staff each (the emulator in another process, every answer
delayed by ``--latency``, default 0.1 s), one CalmCompliance site per school, on
PostgreSQL. The sites are split into batches as the sync DAGs split them
(``site_batches.batches``, ``batch_size`` 25), and the batches run ``--slots`` processes at
a time (default 4: the ``wonde_api`` pool's slots), each process importing its batch as the
``import_sites`` task does (``WONDE_CONCURRENCY`` sites at a time). Two passes: every
site's first (full) import, then the daily incremental after 1% of the staff changed.

For each pass it prints tasks, seconds, sites per second and the model for ``--model``
sites (default 10,000) on the same pool: the measured seconds scaled by sites, plus
``--task-overhead`` seconds (default 25) of Airflow scheduling and start-up per task,
``--slots`` tasks at a time. It also checks that the model's sites expand into no more
than ``[core] max_map_length`` tasks. Figures are saved as JSON with ``--json FILE``.
Usage: ``python bench/many_sites.py [--sites 2000] [--latency 0.1] [--slots 4]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import random
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
TOKEN = "bench-token"
MAX_MAP_LENGTH = 1024


def import_batch(site_ids: list[str], full: bool, run: str) -> int:
    """One ``import_sites`` task (runs in a pool process); how many sites it imported."""
    from wonde_sync.tasks import import_steps

    summaries = import_steps.import_sites(site_ids, full=full, dag_id="bench", dag_run_id=run)
    return len(summaries)


def connect_sites(engine, client, wonde_url: str, school_ids: list[str]) -> None:
    """One site per school, its access requested and approved (16 requests at a time)."""
    from wonde_sync.admin import sites
    from wonde_sync.school_access.admin_actions import request_access
    from wonde_sync.school_access.transitions import record_approval

    contact = {"first_name": "Bench", "last_name": "Admin", "email": "bench@school.example"}

    def connect(numbered: tuple[int, str]) -> None:
        n, school_id = numbered
        sites.add_site(engine, f"site-{n:05}", f"Site {n}")
        request_access(engine, client, f"site-{n:05}", school_id, contact)
        state = requests.get(f"{wonde_url}/_emulator/schools/{school_id}/state", timeout=30)
        record_approval(engine, school_id, state.json()["school_token"])

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(connect, enumerate(school_ids)))


def change_staff(wonde_url: str, school_ids: list[str], share: float) -> int:
    """Rename ``share`` of every school's staff in the MIS; return how many."""
    rng = random.Random(5)
    changed = 0
    for school_id in school_ids:
        people = requests.get(
            f"{wonde_url}/_emulator/schools/{school_id}/people",
            params={"type": "employee"},
            timeout=30,
        ).json()["data"]
        for person in people:
            if rng.random() < share:
                requests.patch(
                    f"{wonde_url}/_emulator/schools/{school_id}/employees/{person['id']}",
                    json={"surname": person["surname"] + "-Smith"},
                    timeout=30,
                )
                changed += 1
    return changed


def main() -> None:
    """Connect the sites, run both passes through the batched path, print the model."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--sites", type=int, default=2000)
    parser.add_argument("--staff", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per Wonde answer")
    parser.add_argument("--slots", type=int, default=4, help="import tasks at a time")
    parser.add_argument("--model", type=int, default=10_000, help="sites to extrapolate to")
    parser.add_argument("--task-overhead", type=float, default=25.0)
    parser.add_argument("--json", help="save the figures here")
    args = parser.parse_args()

    from tests.support import postgres_server
    from wonde_emulator.process import start_process

    pg_dir = tempfile.mkdtemp(prefix="calm-bench-pg-")
    pg_base = postgres_server.start(pg_dir)
    emulator, wonde_url = start_process(
        schools=args.sites,
        staff_per_school=args.staff,
        students_per_school=0,
        seed=3,
        token=TOKEN,
        approved=args.sites,
        latency=args.latency,
    )
    os.environ["AIRFLOW_CONN_WONDE_DEFAULT"] = json.dumps(
        {
            "conn_type": "http",
            "host": f"{wonde_url}/v1.0",
            "extra": {"Authorization": f"Bearer {TOKEN}"},
        }
    )
    os.environ["AIRFLOW_CONN_CALM_DB"] = f"{pg_base}/bench_sites".replace(
        "postgresql+psycopg", "postgresql"
    )
    os.environ.setdefault("CALM_ENVIRONMENT", "demo")
    logging.disable(logging.INFO)
    try:
        import sqlalchemy as sa

        from wonde_sync.catalog import rebuild
        from wonde_sync.core import sync_history
        from wonde_sync.core.database import apply_schema, dispose_engines, engine_for
        from wonde_sync.tasks import import_steps, site_batches
        from wonde_sync.tasks.defaults import DEFAULT_BATCH_SIZE
        from wonde_sync.wonde import pacing
        from wonde_sync.wonde.client import WondeClient

        admin = sa.create_engine(f"{pg_base}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql("CREATE DATABASE bench_sites")
        admin.dispose()
        engine = engine_for()
        apply_schema(engine)
        client = WondeClient()
        run_id = sync_history.start_run(engine, "catalog")
        rebuild.stage(engine, run_id, (p.records for p in client.iter_pages("schools/all")))
        rebuild.publish(engine, run_id, started_at=datetime.now(UTC), dag_run_id=None)
        school_ids = [s["id"] for s in client.iter_records("schools")]
        started = time.perf_counter()
        connect_sites(engine, client, wonde_url, school_ids)
        print(f"{len(school_ids)} sites connected in {time.perf_counter() - started:.1f} s")

        batches = site_batches.batches(
            import_steps.sites_to_import(refresh=False), DEFAULT_BATCH_SIZE
        )
        modelled = site_batches.batches(
            [f"site-{n:05}" for n in range(args.model)], DEFAULT_BATCH_SIZE
        )
        assert len(modelled) <= MAX_MAP_LENGTH, len(modelled)
        print(
            f"{args.model} sites expand into {len(modelled)} import_sites tasks "
            f"(max_map_length {MAX_MAP_LENGTH}); {len(school_ids)} into {len(batches)}"
        )
        dispose_engines()  # each pool process opens its own connections
        fork = multiprocessing.get_context("fork")

        def run_pass(full: bool, run: str) -> float:
            began = time.perf_counter()
            with ProcessPoolExecutor(args.slots, mp_context=fork) as pool:
                imported = sum(
                    pool.map(
                        import_batch,
                        [b["site_ids"] for b in batches],
                        [full] * len(batches),
                        [run] * len(batches),
                    )
                )
            assert imported == len(school_ids), imported
            return time.perf_counter() - began

        results = {"sites": len(school_ids), "latency": args.latency, "slots": args.slots}
        print(
            f"\n{len(school_ids)} sites, {args.latency * 1000:.0f} ms per answer, "
            f"{args.slots} tasks at a time, {pacing.concurrency()} sites at a time per task"
        )
        print(
            f"{'pass':<13}{'tasks':>7}{'seconds':>10}{'sites/s':>10}"
            f"{f'model {args.model}':>14}{'fits 1 h':>10}"
        )
        for label, full in (("full", True), ("incremental", False)):
            if not full:
                changed = change_staff(wonde_url, school_ids, 0.01)
                results["changed"] = changed
            seconds = run_pass(full, label)
            model = seconds * args.model / len(school_ids) + (
                len(modelled) * args.task_overhead / args.slots
            )
            results[label] = {"seconds": seconds, "model_seconds": model}
            print(
                f"{label:<13}{len(batches):>7}{seconds:>10.1f}{len(school_ids) / seconds:>10.1f}"
                f"{model:>14.0f}{'yes' if model <= 3600 else 'no':>10}",
                flush=True,
            )
        print(
            f"\nmodel = seconds x {args.model}/{len(school_ids)} sites + {len(modelled)} tasks x "
            f"{args.task_overhead:g} s of Airflow overhead / {args.slots} slots"
        )
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2))
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
        postgres_server.stop(pg_dir)


if __name__ == "__main__":
    main()
