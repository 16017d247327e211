"""The sync DAGs with imports, through dag.test(), against the emulator.

The full-then-incremental flow runs on both databases; the skips and the mass-archive guard on
SQLite only (the import code meets them on both backends in tests/people and tests/tasks).
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from wonde_sync.admin import sites
from wonde_sync.core import sync_history
from wonde_sync.core.database import table
from wonde_sync.people import importer
from wonde_sync.school_access import admin_actions
from wonde_sync.school_access.transitions import record_approval

DAGS = Path(__file__).resolve().parents[2] / "dags"
CONTACT = {"first_name": "Siân", "last_name": "O'Neill", "email": "sian@school.example"}

pytestmark = pytest.mark.slow


def run_dag(dag_id: str, conf: dict | None = None, retries: int | None = None) -> str:
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(DAGS)).dags[dag_id]
    if retries is not None:
        for task in dag.tasks:
            task.retries = retries
    return str(dag.test(run_conf=conf).state)


def connect(engine, control, site_id: str, school_id: str, *, approve: bool = True) -> None:
    """Add a site, request access to its school, and (optionally) have the school approve."""
    from wonde_sync.wonde.client import WondeClient

    sites.add_site(engine, site_id, f"Site {site_id}")
    admin_actions.request_access(engine, WondeClient(), site_id, school_id, CONTACT)
    if approve:
        token = control.approve(school_id)["school_token"]
        record_approval(engine, school_id, token)


def people(engine, site_id: str) -> dict[str, dict]:
    t = table("personnel")
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t).where(t.c.site_id == site_id)).mappings().all()
    return {r["external_id"]: dict(r) for r in rows}


def import_runs(engine) -> list:
    return [r for r in sync_history.list_runs(engine, limit=100) if r.kind != "catalog"]


@pytest.fixture
def emu(start_emulator):
    return start_emulator(
        schools=40, staff_per_school=30, students_per_school=10, seed=4, approved=0
    )


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def wonde_logs():
    """Messages the integration logged (collected at the source: Airflow reroutes handlers)."""
    handler = _Collect()
    logger = logging.getLogger("wonde_sync")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    yield handler.messages
    logger.removeHandler(handler)
    logger.setLevel(old_level)


@pytest.mark.parametrize("calm_db", ["sqlite"], indirect=True)
def test_skips_until_the_directory_is_synced(airflow_db, emu, engine, wonde_logs):
    sites.add_site(engine, "site-a", "Site a")
    assert run_dag("wonde_incremental_sync") == "success"
    expected = (
        "The school directory hasn't been synced yet: run the full schools catalog sync first."
    )
    assert expected in wonde_logs
    assert import_runs(engine) == []
    assert people(engine, "site-a") == {}


@pytest.mark.parametrize("calm_db", ["sqlite"], indirect=True)
def test_skips_when_no_connection_is_ready(airflow_db, emu, control, engine, wonde_logs):
    ids = emu.school_ids()
    assert run_dag("wonde_schools_full_sync") == "success"
    connect(engine, control, "pending-site", ids[0], approve=False)
    connect(engine, control, "declined-site", ids[1], approve=False)
    control.decline(ids[1], "Not now")
    connect(engine, control, "revoked-site", ids[2])
    control.revoke(ids[2], "Contract ended")
    connect(engine, control, "disabled-site", ids[3])
    admin_actions.set_enabled(engine, "disabled-site", False)
    sites.add_site(engine, "lonely-site", "Not connected")

    wonde_logs.clear()
    assert run_dag("wonde_incremental_sync") == "success"
    text = "\n".join(wonde_logs)
    assert "Site pending-site gets no import: Pending approval" in text
    assert "Site declined-site gets no import: Access declined by school" in text
    assert "Site revoked-site gets no import: Access revoked" in text
    assert "Site disabled-site gets no import: the integration is disabled for this site" in text
    assert "Site lonely-site gets no import: Not connected" in text
    assert "No connection is both enabled and approved" in text
    assert import_runs(engine) == []


def test_full_then_incremental_then_one_site_failing(airflow_db, emu, control, engine):
    ids = emu.school_ids()
    assert run_dag("wonde_schools_full_sync") == "success"
    connect(engine, control, "site-a", ids[0])
    connect(engine, control, "site-b", ids[1])
    # A site's first import is a full one, whichever DAG runs it.
    assert run_dag("wonde_incremental_sync") == "success"

    for site_id, school_id in (("site-a", ids[0]), ("site-b", ids[1])):
        truth = control.people(school_id)
        assert set(people(engine, site_id)) == {
            p["id"] for p in truth if p["mis_status"] == "active"
        }
        run = sync_history.list_runs(engine, site_id=site_id)[0]
        assert (run.kind, run.status) == ("full_import", "Completed")
        reasons = Counter(p["mis_status"] for p in truth if p["mis_status"] != "active")
        assert run.counts["filtered_count"] >= sum(reasons.values())

    # A change in the MIS shows up after the next incremental run.
    truth_a = control.people(ids[0])
    person = next(p for p in truth_a if p["mis_status"] == "active")
    control.edit_person(ids[0], person["id"], forename="Éowyn")
    assert run_dag("wonde_incremental_sync") == "success"
    assert people(engine, "site-a")[person["id"]]["forename"] == "Éowyn"
    run_a = sync_history.list_runs(engine, site_id="site-a")[0]
    assert (run_a.kind, run_a.status, run_a.counts["updated_count"]) == (
        "incremental_import",
        "Completed",
        1,
    )

    # Site b's school starts failing; site a still imports, b keeps its data and watermark.
    before_b = people(engine, "site-b")
    mark_b = importer.watermark(engine, "site-b")
    control.fault(kind="status", status=500, path_contains=f"/schools/{ids[1]}/", times=None)
    control.edit_person(ids[0], person["id"], surname="Ní Dhuinn")
    assert run_dag("wonde_incremental_sync", retries=0) == "failed"
    assert people(engine, "site-a")[person["id"]]["surname"] == "Ní Dhuinn"
    assert people(engine, "site-b") == before_b
    assert importer.watermark(engine, "site-b") == mark_b
    failed = sync_history.list_runs(engine, site_id="site-b")[0]
    assert failed.status == "Failed" and "500" in failed.message

    # Rerunning once the school is back changes nothing more for site a.
    control.clear_faults()
    assert run_dag("wonde_incremental_sync") == "success"
    last_a = sync_history.list_runs(engine, site_id="site-a")[0]
    assert (
        last_a.counts["created_count"],
        last_a.counts["updated_count"],
        last_a.counts["archived_count"],
    ) == (0, 0, 0)


@pytest.mark.parametrize("calm_db", ["sqlite"], indirect=True)
def test_mass_archive_guard_and_manual_approval(airflow_db, emu, control, engine):
    ids = emu.school_ids()
    assert run_dag("wonde_schools_full_sync") == "success"
    connect(engine, control, "site-a", ids[0])
    assert run_dag("wonde_schools_full_sync") == "success"
    assert sync_history.list_runs(engine, site_id="site-a")[0].kind == "full_import"
    before = people(engine, "site-a")
    control.fault(kind="empty", path_contains="/employees", times=None)
    conf = {"full_resync": True}
    assert run_dag("wonde_incremental_sync", conf, retries=0) == "failed"
    assert people(engine, "site-a") == before
    failed = sync_history.list_runs(engine, site_id="site-a")[0]
    assert failed.status == "Failed"
    assert f"would archive {len(before)} of {len(before)}" in failed.message

    conf = {"full_resync": True, "approve_mass_archive": True, "sites": ["site-a"]}
    assert run_dag("wonde_incremental_sync", conf) == "success"
    assert {p["status"] for p in people(engine, "site-a").values()} == {"archived"}
