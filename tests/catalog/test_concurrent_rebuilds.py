"""Catalog rebuilds that overlap, and a publish retried after it committed, on PostgreSQL
and SQLite, through the DAG's steps and the emulator's directory."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from tests.support.emulator_control import EmulatorControl
from wonde_sync.catalog import rebuild
from wonde_sync.core import sync_history
from wonde_sync.core.database import table
from wonde_sync.tasks import catalog_steps

FULL_SYNC = "wonde_schools_full_sync"
SCHOOLS = 120


@pytest.fixture
def emu(engine, start_emulator):
    """A directory of SCHOOLS schools over several pages."""
    return start_emulator(schools=SCHOOLS, staff_per_school=1, approved=0, max_per_page=40)


def rows(engine, name: str) -> list[tuple]:
    t = table(name)
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(t).order_by(*t.primary_key.columns))]


def staged_rows(engine) -> int:
    staging = table("wonde_schools_staging")
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(staging)).scalar_one()


def catalog_ids(engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(sa.select(table("wonde_schools").c.id)).scalars())


def stage_and_check(run: dict) -> dict:
    staged = catalog_steps.stage_directory(run["run_id"])
    catalog_steps.validate(run["run_id"], max_drop_pct=10.0, allow_large_drop=False)
    return staged


def test_two_rebuilds_at_once_one_publishes_the_other_is_told(engine, emu):
    from airflow.sdk.exceptions import AirflowFailException

    # Both read the directory at once, slowly, then publish at the same moment.
    EmulatorControl(emu).fault(kind="slow", delay=0.3, path_contains="/schools/all", times=2)
    runs = {name: catalog_steps.begin(FULL_SYNC, f"{name}__run", "manual") for name in ("a", "b")}
    together = threading.Barrier(2, timeout=20)
    results: dict = {}

    def rebuild_catalog(name: str) -> None:
        run = runs[name]
        try:
            staged = stage_and_check(run)
            together.wait()
            results[name] = catalog_steps.publish(
                run["run_id"], run["started_at"], f"{name}__run", staged
            )
        except Exception as exc:  # kept for the asserts below
            results[name] = exc

    threads = [threading.Thread(target=rebuild_catalog, args=(name,)) for name in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    (winner,) = [n for n, r in results.items() if r == SCHOOLS]
    (loser,) = [n for n in runs if n != winner]
    won, lost = runs[winner]["run_id"], runs[loser]["run_id"]
    # The loser fails without retries, with a message an admin can read.
    assert isinstance(results[loser], AirflowFailException), results[loser]
    said = (
        f"Publishing the new catalog failed: another school directory sync (run {won}) "
        f"published its catalog ({SCHOOLS} schools) after this run started; it stays: "
        "nothing to do."
    )
    assert sync_history.get_run(engine, lost).status == "Failed"
    assert sync_history.get_run(engine, lost).message == said
    completed = sync_history.get_run(engine, won)
    assert completed.status == "Completed"
    assert completed.message == f"School directory synced: {SCHOOLS} schools in the catalog."
    assert staged_rows(engine) == 0
    assert catalog_ids(engine) == set(emu.school_ids())
    assert [r[0] for r in rows(engine, "wonde_full_sync_metadata")] == [won]


def test_a_publish_retried_after_its_commit_changes_nothing(engine, emu):
    run = catalog_steps.begin(FULL_SYNC, "scheduled__1", "scheduled")
    staged = stage_and_check(run)
    # The first attempt committed the swap, then its worker died before completing the run.
    assert rebuild.publish(engine, run["run_id"], started_at=run["started_at"], dag_run_id="s1")
    published = rows(engine, "wonde_schools"), rows(engine, "wonde_full_sync_metadata")

    assert catalog_steps.publish(run["run_id"], run["started_at"], "s1", staged) == SCHOOLS
    done = sync_history.get_run(engine, run["run_id"])
    assert done.status == "Completed" and done.message.startswith("School directory synced")
    # And again, after the run completed: the same answer, nothing written at all.
    assert catalog_steps.publish(run["run_id"], run["started_at"], "s1", staged) == SCHOOLS
    assert sync_history.get_run(engine, run["run_id"]) == done
    assert (rows(engine, "wonde_schools"), rows(engine, "wonde_full_sync_metadata")) == published
    assert len(published[0]) == SCHOOLS and staged_rows(engine) == 0
