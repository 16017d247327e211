"""A worker killed between any two SQL statements of an import or a catalog rebuild.

After the kill, the next run completes and leaves the data an uninterrupted run leaves (no
row lost), with no ``Processing`` row and no staging row behind (no row leaked). The suite
kills a few points spread over each run; ``CALM_CRASH_POINTS=all`` kills before every one
of its statements and commits (about a minute per backend).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from tests.support import crash_points
from tests.support.emulator_control import EmulatorControl
from wonde_sync.core.database import apply_schema, engine_from_url, table

POINTS = os.environ.get("CALM_CRASH_POINTS", "3")
FULL_SYNC = "wonde_schools_full_sync"
CONTACT = {"first_name": "Ann", "last_name": "Lee", "email": "ann@site-a.example.org"}
#: What an import or a rebuild leaves, compared between runs (no ids or times).
KEPT = {
    "personnel": ("site_id", "external_id", "status", "archived_reason", "content_hash"),
    "pupils": ("site_id", "external_id", "status", "archived_reason", "content_hash"),
    "wonde_schools": ("id", "name", "urn", "postcode"),
    "wonde_site_watermarks": ("site_id",),
    "wonde_connections": ("site_id", "school_id", "status"),
}
STAGING = ("wonde_schools_staging", "wonde_people_staging")


@pytest.fixture
def site_and_catalog(calm_db, start_emulator):
    """Site-a approved for one school of 30 staff and 20 pupils (some not imported:
    suspended, archived, left), and a catalog that a rebuild changes (one school renamed
    since, one new)."""
    from wonde_sync.admin import sites
    from wonde_sync.catalog import rebuild
    from wonde_sync.core import sync_history
    from wonde_sync.school_access import admin_actions
    from wonde_sync.school_access.transitions import record_approval
    from wonde_sync.wonde.client import WondeClient

    emu = start_emulator(schools=5, staff_per_school=30, students_per_school=20, seed=8)
    control, client = EmulatorControl(emu), WondeClient(backoff_initial=0.01, backoff_max=0.05)
    engine = engine_from_url(calm_db)
    apply_schema(engine)
    run_id = sync_history.start_run(engine, sync_history.CATALOG)
    directory = [r for page in client.iter_pages("schools/all") for r in page.records]
    rebuild.stage(engine, run_id, [[{**directory[0], "name": "Old name"}, *directory[1:-1]]])
    rebuild.publish(engine, run_id, started_at=datetime.now(UTC), dag_run_id=None)
    sync_history.complete_run(engine, run_id, "School directory synced")
    sites.add_site(engine, "site-a", "Ashdown Academy")
    school = emu.school_ids()[0]
    admin_actions.request_access(engine, client, "site-a", school, CONTACT)
    record_approval(engine, school, control.approve(school)["school_token"])
    engine.dispose()
    return emu


def snapshot(url) -> dict[str, list[tuple]]:
    """The kept columns of every compared table, sorted."""
    engine = engine_from_url(url)
    try:
        with engine.connect() as conn:
            return {
                name: sorted(
                    tuple(row) for row in conn.execute(sa.select(*(table(name).c[c] for c in cols)))
                )
                for name, cols in KEPT.items()
            }
    finally:
        engine.dispose()


def leftovers(url) -> int:
    """Processing Sync History rows plus staging rows."""
    engine = engine_from_url(url)
    runs = table("wonde_sync_runs")
    try:
        with engine.connect() as conn:
            processing = conn.scalar(
                sa.select(sa.func.count()).where(runs.c.status == "Processing")
            )
            staged = sum(
                conn.scalar(sa.select(sa.func.count()).select_from(table(name))) for name in STAGING
            )
    finally:
        engine.dispose()
    return processing + staged


def full_import(run: str) -> None:
    from wonde_sync.tasks import import_steps

    import_steps.import_one_site("site-a", full=True, dag_id=FULL_SYNC, dag_run_id=run)


def catalog_rebuild(run: str) -> None:
    from wonde_sync.tasks import catalog_steps

    begun = catalog_steps.begin(FULL_SYNC, run)
    staged = catalog_steps.stage_directory(begun["run_id"])
    catalog_steps.validate(begun["run_id"], max_drop_pct=10.0, allow_large_drop=False)
    catalog_steps.publish(begun["run_id"], begun["started_at"], run, staged)


@pytest.mark.parametrize("work", [full_import, catalog_rebuild], ids=lambda w: w.__name__)
def test_a_kill_between_any_two_statements_loses_and_leaks_nothing(
    site_and_catalog, calm_db, calm_db_copies, work
):
    reference = calm_db_copies()
    total = crash_points.count_statements(lambda: work("manual__reference"))
    expected = snapshot(reference)
    assert leftovers(reference) == 0

    points = crash_points.kill_points(total, POINTS)
    lost = leaked = 0
    for n in points:
        url = calm_db_copies()
        assert crash_points.run_killed_before(n, lambda n=n: work(f"manual__killed_{n}")), n
        work(f"manual__after_{n}")
        after = snapshot(url)
        lost += sum(len(set(rows) - set(after[name])) for name, rows in expected.items())
        assert after == expected, f"killed before statement {n} of {total}"
        left = leftovers(url)
        leaked += left
        assert left == 0, f"killed before statement {n} of {total}"
    # Shown by ``pytest -rP``.
    print(
        f"{work.__name__} on {calm_db.get_backend_name()}: killed before {len(points)} of "
        f"{total} statements and commits, each followed by a run; "
        f"rows lost {lost}, rows leaked {leaked}"
    )
