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
``--task-overhead`` seconds (default 1.5, what ``bench/task_overhead.py`` measured with
the LocalExecutor) of Airflow scheduling and start-up per task,
``--slots`` tasks at a time. It also checks that the model's sites expand into no more
than ``[core] max_map_length`` tasks. Figures are saved as JSON with ``--json FILE``.
Usage: ``python bench/many_sites.py [--sites 2000] [--latency 0.1] [--slots 4]``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import requests
from site_world import connect_sites, sites_world

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MAX_MAP_LENGTH = 1024


def import_batch(site_ids: list[str], full: bool, run: str) -> int:
    """One ``import_sites`` task (runs in a pool process); how many sites it imported."""
    from wonde_sync.tasks import import_steps

    summaries = import_steps.import_sites(site_ids, full=full, dag_id="bench", dag_run_id=run)
    return len(summaries)


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
    parser.add_argument("--task-overhead", type=float, default=1.5)
    parser.add_argument("--json", help="save the figures here")
    args = parser.parse_args()

    with sites_world(args.sites, args.staff, args.latency, "bench_sites") as world:
        from wonde_sync.core.database import dispose_engines
        from wonde_sync.tasks import import_steps, site_batches
        from wonde_sync.tasks.defaults import DEFAULT_BATCH_SIZE
        from wonde_sync.wonde import pacing

        school_ids = [s["id"] for s in world.schools]
        started = time.perf_counter()
        connect_sites(world)
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
                changed = change_staff(world.wonde_url, school_ids, 0.01)
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


if __name__ == "__main__":
    main()
