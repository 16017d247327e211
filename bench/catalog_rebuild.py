"""Benchmark: the streaming catalog rebuild against a load-everything baseline.

For 10,000 and 100,000 schools, on SQLite and PostgreSQL, each run in a fresh process
(the emulator in another one), it prints rows/s and peak RSS:

- ``streaming``: what the DAG does: pages → 5,000-row chunks → staging (COPY on
  PostgreSQL) → checks → one-transaction publish.
- ``baseline``: the obvious hand-written job: every record in a list, one
  ``pandas.json_normalize`` frame, ``DataFrame.to_sql``.

Peak memory that stays flat from 10,000 to 100,000 schools is the property to look for.
Usage: ``python bench/catalog_rebuild.py [--sizes 10000,100000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
TOKEN = "bench-token"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(mode: str, db_url: str, wonde_url: str) -> None:
    """Run one rebuild and print its figures as JSON (runs in its own process)."""
    os.environ["AIRFLOW_CONN_WONDE_DEFAULT"] = json.dumps(
        {
            "conn_type": "http",
            "host": f"{wonde_url}/v1.0",
            "extra": {"Authorization": f"Bearer {TOKEN}"},
        }
    )
    import pandas as pd

    from wonde_sync.catalog import rebuild
    from wonde_sync.core import sync_history
    from wonde_sync.core.database import apply_schema, engine_from_url
    from wonde_sync.wonde.client import WondeClient

    engine = engine_from_url(db_url)
    apply_schema(engine)
    client = WondeClient()
    rss_before = _rss_mb()
    started = time.perf_counter()
    if mode == "streaming":
        run_id = sync_history.start_run(engine, "catalog")
        pages = (page.records for page in client.iter_pages("schools/all"))
        rebuild.stage(engine, run_id, pages)
        rebuild.validate_staged(engine, run_id, allow_large_drop=True)
        rows = rebuild.publish(engine, run_id, started_at=datetime.now(UTC), dag_run_id=None)
    else:
        records = list(client.iter_records("schools/all"))
        frame = pd.json_normalize(records)
        frame.to_sql(
            "bench_baseline_schools", engine, if_exists="replace", index=False, chunksize=5000
        )
        rows = len(frame)
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "rows": rows,
                "seconds": seconds,
                "rss_before_mb": rss_before,
                "peak_rss_mb": _rss_mb(),
                "requests": client.request_count,
            }
        )
    )


def start_emulator(schools: int) -> tuple[subprocess.Popen, str]:
    """Serve a directory of ``schools`` schools from another process."""
    from wonde_emulator.process import start_process

    return start_process(schools=schools, staff_per_school=1, seed=1, token=TOKEN)


def main() -> None:
    """Run every combination and print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "DB", "WONDE"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    from tests.support import postgres_server

    work = Path(tempfile.mkdtemp(prefix="calm-bench-"))
    pg_dir = tempfile.mkdtemp(prefix="calm-bench-pg-")
    pg_base = postgres_server.start(pg_dir)
    try:
        import sqlalchemy as sa

        for size in [int(s) for s in args.sizes.split(",")]:
            emulator, wonde_url = start_emulator(size)
            try:
                for backend in ("sqlite", "postgresql"):
                    for mode in ("baseline", "streaming"):
                        name = f"bench_{backend}_{size}_{mode}"
                        if backend == "sqlite":
                            db_url = f"sqlite:///{work / name}.db"
                        else:
                            admin = sa.create_engine(
                                f"{pg_base}/postgres", isolation_level="AUTOCOMMIT"
                            )
                            with admin.connect() as conn:
                                conn.exec_driver_sql(f"CREATE DATABASE {name}")
                            admin.dispose()
                            db_url = f"{pg_base}/{name}"
                        out = subprocess.run(
                            [sys.executable, __file__, "--child", mode, db_url, wonde_url],
                            capture_output=True,
                            text=True,
                            check=True,
                        )
                        figures = json.loads(out.stdout.strip().splitlines()[-1])
                        print_row(backend, size, mode, figures)
            finally:
                emulator.terminate()
                emulator.wait(timeout=10)
    finally:
        postgres_server.stop(pg_dir)


def print_row(backend: str, size: int, mode: str, f: dict) -> None:
    """One line of the results table."""
    if not hasattr(print_row, "header"):
        print(
            f"{'backend':<11}{'schools':>9}  {'mode':<10}{'seconds':>9}{'rows/s':>10}"
            f"{'RSS start MB':>14}{'peak RSS MB':>13}{'growth MB':>11}{'requests':>10}"
        )
        print_row.header = True
    print(
        f"{backend:<11}{size:>9}  {mode:<10}{f['seconds']:>9.2f}{f['rows'] / f['seconds']:>10.0f}"
        f"{f['rss_before_mb']:>14.0f}{f['peak_rss_mb']:>13.0f}"
        f"{f['peak_rss_mb'] - f['rss_before_mb']:>11.0f}{f['requests']:>10}",
        flush=True,
    )


if __name__ == "__main__":
    main()
