"""Benchmark: staff imports, full against incremental, on PostgreSQL.

300 schools with 150 staff each (the emulator in another process, every school approved),
one CalmCompliance site per school. It prints, side by side:

- ``full``: every site's first import (everyone fetched, transformed, upserted);
- ``incremental``: the next run after 1% of all staff changed in the MIS.

Columns: HTTP requests, seconds, employees fetched, employees/s.
Usage: ``python bench/importer.py [--schools 300] [--staff 150] [--changed-pct 1]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
TOKEN = "bench-token"


def start_emulator(schools: int, staff: int) -> tuple[subprocess.Popen, str]:
    """Serve ``schools`` approved schools from another process."""
    from wonde_emulator.process import start_process

    return start_process(
        schools=schools,
        staff_per_school=staff,
        students_per_school=0,
        seed=3,
        token=TOKEN,
        approved=schools,
    )


def main() -> None:
    """Run the full and the incremental pass and print both."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--schools", type=int, default=300)
    parser.add_argument("--staff", type=int, default=150)
    parser.add_argument("--changed-pct", type=float, default=1.0)
    args = parser.parse_args()

    from tests.support import postgres_server

    pg_dir = tempfile.mkdtemp(prefix="calm-bench-pg-")
    pg_base = postgres_server.start(pg_dir)
    emulator, wonde_url = start_emulator(args.schools, args.staff)
    os.environ["AIRFLOW_CONN_WONDE_DEFAULT"] = json.dumps(
        {
            "conn_type": "http",
            "host": f"{wonde_url}/v1.0",
            "extra": {"Authorization": f"Bearer {TOKEN}"},
        }
    )
    os.environ.setdefault("CALM_ENVIRONMENT", "demo")
    try:
        import sqlalchemy as sa

        from wonde_sync.admin import sites
        from wonde_sync.catalog import rebuild
        from wonde_sync.core import sync_history
        from wonde_sync.core.database import apply_schema, engine_from_url
        from wonde_sync.people import importer
        from wonde_sync.school_access.admin_actions import request_access
        from wonde_sync.school_access.import_targets import import_targets
        from wonde_sync.school_access.transitions import record_approval
        from wonde_sync.wonde.client import WondeClient

        admin = sa.create_engine(f"{pg_base}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql("CREATE DATABASE bench_imports")
        admin.dispose()
        engine = engine_from_url(f"{pg_base}/bench_imports")
        apply_schema(engine)
        client = WondeClient()
        run_id = sync_history.start_run(engine, "catalog")
        rebuild.stage(engine, run_id, (p.records for p in client.iter_pages("schools/all")))
        rebuild.publish(engine, run_id, started_at=datetime.now(UTC), dag_run_id=None)

        school_ids = [s["id"] for s in client.iter_records("schools")]
        contact = {"first_name": "Bench", "last_name": "Admin", "email": "bench@school.example"}
        for n, school_id in enumerate(school_ids):
            sites.add_site(engine, f"site-{n}", f"Site {n}")
            request_access(engine, client, f"site-{n}", school_id, contact)
            state = requests.get(f"{wonde_url}/_emulator/schools/{school_id}/state", timeout=10)
            record_approval(engine, school_id, state.json()["school_token"])
        targets = import_targets(engine)

        def run_all(label: str) -> None:
            client = WondeClient()
            requests.delete(f"{wonde_url}/_emulator/requests", timeout=10)
            fetched = 0
            started = time.perf_counter()
            for target in targets:
                fetched += importer.import_site(engine, client, target, importer.ImportOptions())[
                    "fetched_count"
                ]
            seconds = time.perf_counter() - started
            # Counted by Wonde's side: the per-school clients are made inside each import.
            sent = requests.get(f"{wonde_url}/_emulator/requests", timeout=10).json()["total"]
            print(
                f"{label:<12}{len(targets):>7}{sent:>10}{seconds:>10.2f}"
                f"{fetched:>10}{fetched / seconds:>13.0f}",
                flush=True,
            )

        print(
            f"{'run':<12}{'sites':>7}{'requests':>10}{'seconds':>10}{'fetched':>10}"
            f"{'employees/s':>13}"
        )
        run_all("full")
        rng = random.Random(5)
        changes = round(args.schools * args.staff * args.changed_pct / 100)
        for _ in range(changes):
            school_id = rng.choice(school_ids)
            people = requests.get(
                f"{wonde_url}/_emulator/schools/{school_id}/people",
                params={"type": "employee"},
                timeout=10,
            ).json()["data"]
            person = rng.choice(people)
            requests.patch(
                f"{wonde_url}/_emulator/schools/{school_id}/employees/{person['id']}",
                json={"surname": person["surname"] + "-Smith"},
                timeout=10,
            )
        print(f"(changed {changes} employees in the MIS)")
        run_all("incremental")
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
        postgres_server.stop(pg_dir)


if __name__ == "__main__":
    main()
