"""What the import benchmarks share: PostgreSQL, the emulator, the catalog, connected sites.

The emulator runs in its own process with every school approved; ``sites_world`` points
the ``wonde_default`` and ``calm_db`` connections at them, migrates the database and syncs
the catalog; ``connect_sites`` gives each school a site whose access is approved.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Generator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import requests

TOKEN = "bench-token"


@dataclass
class SiteWorld:
    """The running services and what the benchmarks read from them."""

    engine: object
    client: object
    wonde_url: str
    pg_base: str
    schools: list[dict]


@contextmanager
def sites_world(
    schools: int, staff: int, latency: float, database: str
) -> Generator[SiteWorld, None, None]:
    """PostgreSQL and an emulator of ``schools`` approved schools, the catalog synced."""
    from tests.support import postgres_server
    from wonde_emulator.process import start_process

    pg_dir = tempfile.mkdtemp(prefix="calm-bench-pg-")
    pg_base = postgres_server.start(pg_dir)
    emulator, wonde_url = start_process(
        schools=schools,
        staff_per_school=staff,
        students_per_school=0,
        seed=3,
        token=TOKEN,
        approved=schools,
        latency=latency,
    )
    os.environ["AIRFLOW_CONN_WONDE_DEFAULT"] = json.dumps(
        {
            "conn_type": "http",
            "host": f"{wonde_url}/v1.0",
            "extra": {"Authorization": f"Bearer {TOKEN}"},
        }
    )
    os.environ["AIRFLOW_CONN_CALM_DB"] = f"{pg_base}/{database}".replace(
        "postgresql+psycopg", "postgresql"
    )
    os.environ.setdefault("CALM_ENVIRONMENT", "demo")
    logging.disable(logging.INFO)
    try:
        import sqlalchemy as sa

        from wonde_sync.catalog import rebuild
        from wonde_sync.core import sync_history
        from wonde_sync.core.database import apply_schema, engine_for
        from wonde_sync.wonde.client import WondeClient

        admin = sa.create_engine(f"{pg_base}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {database}")
        admin.dispose()
        engine = engine_for()
        apply_schema(engine)
        client = WondeClient()
        run_id = sync_history.start_run(engine, "catalog")
        rebuild.stage(engine, run_id, (p.records for p in client.iter_pages("schools/all")))
        rebuild.publish(engine, run_id, started_at=datetime.now(UTC), dag_run_id=None)
        listed = list(client.iter_records("schools"))
        yield SiteWorld(engine, client, wonde_url, pg_base, listed)
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
        postgres_server.stop(pg_dir)


def connect_sites(world: SiteWorld) -> dict[str, str]:
    """One site per school (``site-00000``, …), its access requested and approved, 16
    schools at a time; return each school's token."""
    from wonde_sync.admin import sites
    from wonde_sync.school_access.admin_actions import request_access
    from wonde_sync.school_access.transitions import record_approval

    contact = {"first_name": "Bench", "last_name": "Admin", "email": "bench@school.example"}

    def connect(numbered: tuple[int, dict]) -> tuple[str, str]:
        n, school = numbered
        sites.add_site(world.engine, f"site-{n:05}", f"Site {n}")
        request_access(world.engine, world.client, f"site-{n:05}", school["id"], contact)
        state = requests.get(
            f"{world.wonde_url}/_emulator/schools/{school['id']}/state", timeout=30
        )
        token = state.json()["school_token"]
        record_approval(world.engine, school["id"], token)
        return school["id"], token

    with ThreadPoolExecutor(16) as pool:
        return dict(pool.map(connect, enumerate(world.schools)))
