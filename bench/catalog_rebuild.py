"""Benchmark: the catalog rebuild against the raw fetch, a raw COPY and a naive DAG.

For each size (10,000 and 100,000 schools) and each latency per Wonde answer (0 and 0.1 s,
the emulator in another process), each mode in a fresh process, on PostgreSQL (add
``--backends sqlite,postgresql`` for SQLite too), it prints seconds, rows/s and peak RSS:

- ``raw_fetch``: every page fetched one after another with ``requests``, decoded, dropped;
- ``raw_copy``: the records already in memory, COPYed into a table of the catalog's shape;
- ``baseline``: the obvious hand-written job: every record in a list, one
  ``pandas.json_normalize`` frame, ``DataFrame.to_sql``;
- ``project``: what the DAG does: pages read ahead (``WONDE_CONCURRENCY``) → 5,000-row
  chunks → staging (COPY on PostgreSQL) → checks → one-transaction publish.

``model`` is pages × latency / ``WONDE_CONCURRENCY``, the wait a perfectly overlapped
fetch still pays. Peak memory that stays flat from 10,000 to 100,000 schools is the
property to look for. Figures are saved as JSON with ``--json FILE``.
Usage: ``python bench/catalog_rebuild.py [--sizes 10000,100000] [--latencies 0,0.1]``.
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
    from wonde_sync.wonde import pacing
    from wonde_sync.wonde.client import WondeClient

    engine = engine_from_url(db_url)
    apply_schema(engine)
    client = WondeClient()
    rss_before = _rss_mb()
    if mode == "raw_copy":
        records = list(client.iter_records("schools/all"))
        rss_before = _rss_mb()
    started = time.perf_counter()
    if mode == "project":
        run_id = sync_history.start_run(engine, "catalog")
        directory = client.iter_pages("schools/all", ahead=pacing.concurrency())
        rebuild.stage(engine, run_id, (page.records for page in directory))
        rebuild.validate_staged(engine, run_id, allow_large_drop=True)
        rows = rebuild.publish(engine, run_id, started_at=datetime.now(UTC), dag_run_id=None)
    elif mode == "baseline":
        records = list(client.iter_records("schools/all"))
        frame = pd.json_normalize(records)
        frame.to_sql(
            "bench_baseline_schools", engine, if_exists="replace", index=False, chunksize=5000
        )
        rows = len(frame)
    elif mode == "raw_fetch":
        rows = raw_fetch(client)
    else:
        rows = raw_copy(engine, records)
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "rows": rows,
                "seconds": seconds,
                "rss_before_mb": rss_before,
                "peak_rss_mb": _rss_mb(),
                "requests": client.request_count or rows // 200 + 1,
            }
        )
    )


def raw_fetch(client) -> int:
    """Follow ``next`` with a plain session: each page fetched, decoded and dropped."""
    import requests

    session = requests.Session()
    session.trust_env = False
    session.headers["Authorization"] = f"Bearer {TOKEN}"
    url, rows = f"{client.base_url}/schools/all?per_page=200", 0
    while url:
        body = session.get(url, timeout=60).json()
        rows += len(body["data"])
        url = body["meta"]["pagination"]["next"]
    return rows


def raw_copy(engine, records: list[dict]) -> int:
    """COPY the records' catalog fields into a table of the catalog's shape."""
    import sqlalchemy as sa

    from wonde_sync.catalog.rows import CATALOG_COLUMNS, SCHOOL_FIELDS
    from wonde_sync.core.database import bulk_insert, table
    from wonde_sync.wonde.objects import dig

    shaped = sa.Table(
        "bench_raw_schools",
        sa.MetaData(),
        *(sa.Column(c.name, c.type) for c in table("wonde_schools").columns),
    )
    shaped.create(engine)
    paths = list(SCHOOL_FIELDS.values())
    rows = ([_text(dig(r, *path)) for path in paths] for r in records)
    bulk_insert(engine, "bench_raw_schools", CATALOG_COLUMNS, rows)
    return len(records)


def _text(value):
    return None if value is None else str(value)


def start_emulator(schools: int, latency: float) -> tuple[subprocess.Popen, str]:
    """Serve a directory of ``schools`` schools from another process."""
    from wonde_emulator.process import start_process

    return start_process(schools=schools, staff_per_school=1, seed=1, token=TOKEN, latency=latency)


MODES = ("raw_fetch", "raw_copy", "baseline", "project")


def main() -> None:
    """Run every combination and print one table per size and latency."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--latencies", default="0,0.1", help="seconds per Wonde answer")
    parser.add_argument("--backends", default="postgresql")
    parser.add_argument("--json", help="also save the figures to this file")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "DB", "WONDE"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    from tests.support import postgres_server
    from wonde_sync.wonde import pacing

    work = Path(tempfile.mkdtemp(prefix="calm-bench-"))
    pg_dir = tempfile.mkdtemp(prefix="calm-bench-pg-")
    pg_base = postgres_server.start(pg_dir)
    results = []
    try:
        for size in [int(s) for s in args.sizes.split(",")]:
            for latency in [float(x) for x in args.latencies.split(",")]:
                emulator, wonde_url = start_emulator(size, latency)
                warm_up(wonde_url)
                pages = size // 200 + 1
                model = pages * latency / pacing.concurrency()
                print(
                    f"\n{size:,} schools, {latency * 1000:.0f} ms per answer ({pages} pages; "
                    f"model {model:.1f} s at WONDE_CONCURRENCY={pacing.concurrency()})"
                )
                try:
                    for backend in args.backends.split(","):
                        for mode in MODES:
                            figures = run_child(
                                mode, backend, size, latency, work, pg_base, wonde_url
                            )
                            figures.update(size=size, latency=latency, backend=backend, mode=mode)
                            results.append(figures)
                            print_row(figures, results)
                finally:
                    emulator.terminate()
                    emulator.wait(timeout=10)
    finally:
        postgres_server.stop(pg_dir)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


def warm_up(wonde_url: str) -> None:
    """Read the directory once, so that every mode finds the emulator's pages serialised."""
    import requests

    url = f"{wonde_url}/v1.0/schools/all?per_page=200"
    while url:
        body = requests.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60).json()
        url = body["meta"]["pagination"]["next"]


def run_child(
    mode: str, backend: str, size: int, latency: float, work: Path, pg_base: str, wonde_url: str
) -> dict:
    """One mode in a fresh process, on a fresh database; its figures."""
    import sqlalchemy as sa

    name = f"bench_{backend}_{size}_{int(latency * 1000)}_{mode}"
    if backend == "sqlite":
        db_url = f"sqlite:///{work / name}.db"
    else:
        admin = sa.create_engine(f"{pg_base}/postgres", isolation_level="AUTOCOMMIT")
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
    return json.loads(out.stdout.strip().splitlines()[-1])


def print_row(f: dict, results: list[dict]) -> None:
    """One line of a table: the mode's figures, and its time against the raw fetch's."""
    raw = next(
        (
            r
            for r in results
            if r["mode"] == "raw_fetch"
            and r["size"] == f["size"]
            and r["latency"] == f["latency"]
            and r["backend"] == f["backend"]
        ),
        None,
    )
    if f["mode"] == MODES[0]:
        print(
            f"{'backend':<11}{'mode':<11}{'seconds':>9}{'x raw fetch':>12}{'rows/s':>10}"
            f"{'peak RSS MB':>13}{'growth MB':>11}{'requests':>10}"
        )
    ratio = f["seconds"] / raw["seconds"] if raw else float("nan")
    print(
        f"{f['backend']:<11}{f['mode']:<11}{f['seconds']:>9.2f}{ratio:>12.2f}"
        f"{f['rows'] / f['seconds']:>10.0f}{f['peak_rss_mb']:>13.0f}"
        f"{f['peak_rss_mb'] - f['rss_before_mb']:>11.0f}{f['requests']:>10}",
        flush=True,
    )


if __name__ == "__main__":
    main()
