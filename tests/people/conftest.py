"""Fixtures for import tests: an emulator with approved schools, a catalog, sites."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from tests.support.emulator_control import EmulatorControl
from tests.support.import_targets import catalog_target
from wonde_sync.admin import sites
from wonde_sync.catalog import rebuild
from wonde_sync.core import sync_history
from wonde_sync.school_access.import_targets import ImportTarget


@dataclass
class World:
    """The emulator, the database and the connected sites of one test."""

    emu: object
    control: EmulatorControl
    engine: object
    client: object
    targets: list[ImportTarget]

    def truth(self, school_id: str, kind: str = "employee") -> list[dict]:
        """The emulator's ground truth: the school's employees or students."""
        return self.control.people(school_id, kind)


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
    control = EmulatorControl(emu)
    targets = []
    for n, school_id in enumerate(emu.school_ids()[:3], start=1):
        sites.add_site(engine, f"site-{n}", f"Site {n}")
        targets.append(
            catalog_target(engine, f"site-{n}", school_id, control.school_token(school_id))
        )
    return World(emu, control, engine, client, targets)
