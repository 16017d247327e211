"""Fixtures for import tests: an emulator with approved schools, a catalog, sites."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import requests

from wonde_sync.admin import sites
from wonde_sync.catalog import rebuild
from wonde_sync.core import sync_history
from wonde_sync.school_access.lifecycle import ImportTarget


@dataclass
class World:
    """The emulator, the database and the connected sites of one test."""

    emu: object
    engine: object
    client: object
    targets: list[ImportTarget]

    def control(self, method: str, path: str, **kwargs):
        response = requests.request(
            method, f"{self.emu.base_url}/_emulator/{path}", timeout=10, **kwargs
        )
        response.raise_for_status()
        return response.json() if response.content else None

    def truth(self, school_id: str, record_type: str = "employee") -> list[dict]:
        return self.control("GET", f"schools/{school_id}/people", params={"type": record_type})[
            "data"
        ]


@pytest.fixture
def world(engine, start_emulator):
    from wonde_sync.wonde.client import WondeClient

    emu = start_emulator(
        schools=6, staff_per_school=40, students_per_school=30, seed=21, approved=3
    )
    client = WondeClient(backoff_initial=0.01, backoff_max=0.05)
    run_id = sync_history.start_run(engine, "catalog")
    rebuild.stage(engine, run_id, (p.records for p in client.iter_pages("schools/all")))
    rebuild.publish(engine, run_id, started_at=datetime.now(UTC), dag_run_id=None)
    targets = []
    for n, school_id in enumerate(emu.school_ids()[:3], start=1):
        sites.add_site(engine, f"site-{n}", f"Site {n}")
        state = requests.get(
            f"{emu.base_url}/_emulator/schools/{school_id}/state", timeout=10
        ).json()
        targets.append(ImportTarget(f"site-{n}", school_id, state["school_token"]))
    return World(emu, engine, client, targets)
