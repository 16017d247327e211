"""Two imports of one site at once (the full sync's and the incremental one's): they take
turns, on PostgreSQL and SQLite, against the emulator slowed down."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import pytest
import sqlalchemy as sa

from tests.school_access.conftest import CONTACT, load_catalog
from tests.support.emulator_control import EmulatorControl
from wonde_sync.core import run_locks, sync_history
from wonde_sync.core.database import table
from wonde_sync.people.importer import DEFAULT_OVERLAP
from wonde_sync.tasks import import_steps
from wonde_sync.wonde.errors import PermanentError

SITE = "site-a"
FULL_SYNC = "wonde_schools_full_sync"
INCREMENTAL = "wonde_incremental_sync"


@dataclass
class Site:
    """A site connected to its school, never imported yet."""

    engine: sa.Engine
    control: EmulatorControl
    school: str

    def active_truth(self, kind: str = "employee") -> dict[str, dict]:
        return {
            p["id"]: p
            for p in self.control.people(self.school, kind)
            if p["mis_status"] == "active" and not p["deleted"]
        }

    def people(self, name: str = "personnel") -> dict[str, dict]:
        t = table(name)
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t).where(t.c.site_id == SITE)).mappings().all()
        return {r["external_id"]: dict(r) for r in rows}

    def runs(self) -> list[sync_history.SyncRun]:
        return sorted(sync_history.list_runs(self.engine, site_id=SITE), key=lambda r: r.id)


@pytest.fixture
def site(engine, start_emulator, monkeypatch) -> Site:
    from wonde_sync.admin import sites
    from wonde_sync.school_access import admin_actions
    from wonde_sync.school_access.transitions import record_approval
    from wonde_sync.wonde.client import WondeClient

    monkeypatch.setenv("CALM_ENVIRONMENT", "test")
    monkeypatch.delenv("WONDE_TOKEN_KEY", raising=False)
    monkeypatch.setenv(run_locks.WAIT_ENV, "30")  # a deadlock fails the test, soon
    emu = start_emulator(schools=3, staff_per_school=20, students_per_school=10, seed=8, approved=0)
    control = EmulatorControl(emu)
    client = WondeClient(backoff_initial=0.01, backoff_max=0.05, timeout=10.0)
    load_catalog(engine, client)
    sites.add_site(engine, SITE, "Ashdown Academy")
    school = emu.school_ids()[0]
    admin_actions.request_access(engine, client, SITE, school, CONTACT)
    record_approval(engine, school, control.approve(school)["school_token"])
    return Site(engine, control, school)


def in_thread(results: dict, name: str, **kwargs) -> threading.Thread:
    """Run import_one_site for SITE in a thread; its summary or error lands in ``results``."""

    def run() -> None:
        try:
            results[name] = import_steps.import_one_site(SITE, **kwargs)
        except Exception as exc:  # handed to the test, which fails on it
            results[name] = exc

    thread = threading.Thread(target=run, name=name)
    thread.start()
    return thread


def until_fired(control: EmulatorControl, timeout: float = 10.0) -> None:
    """Wait until the slow fault is delaying a request (the full import is mid-fetch)."""
    deadline = time.monotonic() + timeout
    while not any(f["fired"] for f in control.faults()):
        assert time.monotonic() < deadline, "the full import never reached the slow request"
        time.sleep(0.02)


def test_a_full_and_an_incremental_import_take_turns(site, caplog):
    # The full import has read the staff, then waits on the pupils...
    site.control.fault(kind="slow", delay=1.5, path_contains="/students", times=1)
    results: dict = {}
    full = in_thread(results, "full", full=True, dag_id=FULL_SYNC, dag_run_id="scheduled__1")
    until_fired(site.control)
    # ... when the MIS changes, and the daily incremental starts.
    staff = [p for p in site.control.people(site.school) if p["mis_status"] == "active"]
    renamed = site.control.edit_person(site.school, staff[0]["id"], forename="Renamed")
    hired = site.control.add_person(
        site.school, forename="New", surname="Hire", email="new.hire@school.example.org"
    )
    with caplog.at_level(logging.INFO, logger=import_steps.__name__):
        incremental = in_thread(
            results, "incremental", full=False, dag_id=INCREMENTAL, dag_run_id="scheduled__2"
        )
        full.join(30)
        incremental.join(30)
    assert not isinstance(results["full"], Exception), results["full"]
    assert not isinstance(results["incremental"], Exception), results["incremental"]

    rows, pupils = site.people(), site.people("pupils")
    # Every update kept: the rename is not reverted, the new hire is not archived.
    assert set(rows) == set(site.active_truth())
    assert rows[renamed["id"]]["forename"] == "Renamed"
    assert rows[hired["id"]]["status"] == "active"
    assert all(r["status"] == "active" for r in (*rows.values(), *pupils.values()))
    assert set(pupils) == set(site.active_truth("student"))

    first, second = site.runs()
    assert (first.kind, first.dag_id, first.status) == ("full_import", FULL_SYNC, "Completed")
    assert (second.kind, second.dag_id, second.status) == (
        "incremental_import",
        INCREMENTAL,
        "Completed",
    )
    # Everyone created once: the full import all but the new hire, the incremental the hire.
    assert first.counts["created_count"] == len(rows) + len(pupils) - 1
    assert second.counts["created_count"] == 1 and second.counts["updated_count"] == 1
    # The incremental began when the full import ended, from the watermark it left.
    assert second.started_at >= first.finished_at
    assert second.window_start == first.started_at - DEFAULT_OVERLAP
    waited = [r.getMessage() for r in caplog.records if "waited" in r.getMessage()]
    assert len(waited) == 1 and f"import of {SITE}: {FULL_SYNC} scheduled__1" in waited[0]


def test_a_run_that_waits_too_long_names_the_other_and_a_retry_imports(site, monkeypatch):
    site.control.fault(kind="slow", delay=1.5, path_contains="/students", times=1)
    results: dict = {}
    full = in_thread(results, "full", full=True, dag_id=FULL_SYNC, dag_run_id="scheduled__1")
    until_fired(site.control)
    monkeypatch.setenv(run_locks.WAIT_ENV, "0.3")
    (running,) = sync_history.list_runs(site.engine, site_id=SITE)

    with pytest.raises(import_steps.SiteBusyError) as busy:
        import_steps.import_one_site(SITE, full=False, dag_id=INCREMENTAL, dag_run_id="manual__2")

    message = str(busy.value)
    assert f"Sync History run {running.id} (full import, {FULL_SYNC} scheduled__1" in message
    assert message.endswith("a retry will try again.")
    # Left to Airflow's retries; the other run is untouched.
    assert not isinstance(busy.value, PermanentError)
    assert [r.id for r in site.runs()] == [running.id]
    full.join(30)
    assert not isinstance(results["full"], Exception), results["full"]

    retry = import_steps.import_one_site(
        SITE, full=False, dag_id=INCREMENTAL, dag_run_id="manual__2"
    )
    assert retry["kind"] == "incremental_import"
    assert [r.status for r in site.runs()] == ["Completed", "Completed"]
