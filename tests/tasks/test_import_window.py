"""Which changes an import reads, and what Sync History records of it, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from tests.support.emulator_control import EmulatorControl
from wonde_sync.core import sync_history
from wonde_sync.core.database import table
from wonde_sync.people import importer
from wonde_sync.tasks import import_steps

# The emulator's people last changed between mid-2024 and 2025-09-01.
OLD_MARK = datetime(2025, 1, 1, tzinfo=UTC)
AFTER_EVERY_CHANGE = datetime(2025, 10, 1, tzinfo=UTC)


def plant_watermark(engine, site_id: str, mark: datetime) -> None:
    """A site whose last import ended at ``mark`` (its later runs did not happen)."""
    with engine.begin() as conn:
        conn.execute(
            sa.insert(table("wonde_site_watermarks")).values(
                site_id=site_id, watermark=mark, updated_at=mark
            )
        )


def test_a_since_later_than_the_watermark_keeps_the_changes_in_between(world):
    target = world.targets[0]
    plant_watermark(world.engine, target.site_id, OLD_MARK)
    options = importer.ImportOptions(since=AFTER_EVERY_CHANGE, run_type="manual")

    summary = importer.import_site(world.engine, world.client, target, options)

    run = sync_history.get_run(world.engine, summary["run_id"])
    # Read from the watermark (minus the overlap), not from `since`: the people who changed
    # after the watermark are read although they changed before `since`.
    assert run.window_start == OLD_MARK - importer.DEFAULT_OVERLAP
    assert run.kind == "incremental_import" and run.counts["fetched_count"] > 0
    assert run.window_end == run.started_at == importer.watermark(world.engine, target.site_id)


def test_a_since_earlier_than_the_watermark_is_where_the_window_starts(world):
    target = world.targets[1]
    plant_watermark(world.engine, target.site_id, AFTER_EVERY_CHANGE)
    options = importer.ImportOptions(since=OLD_MARK, run_type="manual")
    summary = importer.import_site(world.engine, world.client, target, options)
    run = sync_history.get_run(world.engine, summary["run_id"])
    assert run.window_start == OLD_MARK - importer.DEFAULT_OVERLAP
    assert run.counts["fetched_count"] > 0


def test_a_backfill_asks_for_its_interval_and_a_manual_since_wins():
    start = datetime(2026, 11, 1, tzinfo=UTC)
    backfill = {"since": None, "run_type": "backfill"}
    assert import_steps.requested_since(backfill, start) == start
    assert import_steps.requested_since({"since": None, "run_type": "scheduled"}, start) is None
    manual = {"since": "2026-10-30T00:00:00+00:00", "run_type": "backfill"}
    assert import_steps.requested_since(manual, start) == datetime(2026, 10, 30, tzinfo=UTC)


def test_run_type_window_and_the_real_duration_are_recorded(world):
    control = EmulatorControl(world.emu)
    target = world.targets[2]
    # The school's staff take a while to come: the import takes over 1.5 s.
    control.fault(kind="slow", delay=1.6, path_contains="/employees", times=1)

    first = importer.import_site(
        world.engine, world.client, target, importer.ImportOptions(run_type="scheduled")
    )
    run = sync_history.get_run(world.engine, first["run_id"])
    assert (run.kind, run.run_type, run.window_start) == ("full_import", "scheduled", None)
    assert run.window_end == run.started_at
    assert run.duration >= timedelta(seconds=1.5)
    assert sync_history.duration_label(run).endswith(" s")
    assert sync_history.duration_label(run) != "0.0 s"
    assert sync_history.window_label(run) == f"everyone, as of {run.started_at:%Y-%m-%d %H:%M} UTC"

    second = importer.import_site(
        world.engine, world.client, target, importer.ImportOptions(run_type="approval")
    )
    run = sync_history.get_run(world.engine, second["run_id"])
    assert (run.kind, run.run_type) == ("incremental_import", "approval")
    mark = importer.watermark(world.engine, target.site_id)
    assert run.window_start < run.window_end == mark
    assert sync_history.window_label(run).startswith(f"changes from {run.window_start:%Y-%m-%d}")
