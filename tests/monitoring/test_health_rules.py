"""The health rules of sites and of the catalog, as pure functions (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from wonde_sync.catalog.queries import FullSyncMetadata
from wonde_sync.core.sync_history import COUNT_COLUMNS, SyncRun
from wonde_sync.monitoring import health as rules
from wonde_sync.school_access.status import LABELS, AccessStatus

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def connection(state: str = "approved", *, enabled=True, token=True) -> AccessStatus:
    """Site ashdown's connection in a product state."""
    status = {"already_approved": "approved", "not_connected": None}.get(state, state)
    return AccessStatus(
        site_id="ashdown",
        site_name="Ashdown Academy",
        school_id=None if state == "not_connected" else "A1",
        school_name="St Hilda's",
        state=state,
        status=status,
        label=LABELS[state],
        detail=f"detail of {state}",
        actions=(),
        enabled=None if state == "not_connected" else enabled,
        has_school_token=token and state == "approved",
    )


def run(run_id: int, status: str, started: datetime, *, kind="full_import", message=None):
    """A Sync History row of site ashdown (finished 3 minutes after it started)."""
    finished = None if status == "Processing" else started + timedelta(minutes=3)
    return SyncRun(
        id=run_id,
        site_id="ashdown",
        kind=kind,
        status=status,
        started_at=started,
        finished_at=finished,
        counts=dict.fromkeys(COUNT_COLUMNS, 0),
        message=message,
        dag_id=None,
        dag_run_id=None,
    )


def health(conn, last=None, finished=None, success=None, *, synced=True, stale=36):
    """The site's health at NOW with a threshold of ``stale`` hours."""
    return rules.site_health(
        conn,
        last,
        finished,
        success,
        directory_synced=synced,
        now=NOW,
        stale_after=timedelta(hours=stale),
    )


def test_recent_completed_import_is_ok():
    done = run(7, "Completed", NOW - timedelta(hours=9))
    verdict = health(connection(), done, done, done)
    assert verdict.state == "ok" and verdict.label == "OK"
    assert "run #7" in verdict.reason
    assert verdict.next_step is None


def test_no_success_within_the_threshold_is_stale_and_the_threshold_is_configurable():
    done = run(7, "Completed", NOW - timedelta(hours=40))
    verdict = health(connection(), done, done, done)
    assert verdict.state == "stale"
    assert "more than the 36 hours allowed" in verdict.reason
    assert "wonde_incremental_sync" in verdict.next_step
    assert health(connection(), done, done, done, stale=48).state == "ok"


def test_last_finished_run_failed_is_failing_even_after_a_recent_success():
    good = run(7, "Completed", NOW - timedelta(hours=5))
    bad = run(8, "Failed", NOW - timedelta(hours=1), message="Wonde rejected the token (401)")
    verdict = health(connection(), bad, bad, good)
    assert verdict.state == "failing"
    assert "run #8" in verdict.reason and "Wonde rejected the token (401)" in verdict.reason
    assert "sites=['ashdown']" in verdict.next_step


def test_a_run_in_progress_does_not_hide_the_failure_before_it():
    bad = run(8, "Failed", NOW - DAY)
    going = run(9, "Processing", NOW - timedelta(minutes=5))
    assert health(connection(), going, bad, None).state == "failing"


def test_a_success_after_a_failure_is_ok_again():
    # Run #8 failed; #9, newer, completed: the newest finished run is what counts.
    good = run(9, "Completed", NOW - timedelta(hours=2))
    assert health(connection(), good, good, good).state == "ok"


def test_stale_with_a_run_stuck_in_processing_points_at_that_run():
    done = run(7, "Completed", NOW - 3 * DAY)
    stuck = run(8, "Processing", NOW - 2 * DAY)
    verdict = health(connection(), stuck, done, done)
    assert verdict.state == "stale"
    assert "Run #8 has been processing since" in verdict.next_step


def test_never_imported_says_what_to_run_first():
    verdict = health(connection(), synced=True)
    assert verdict.state == "stale"
    assert verdict.reason == "No import of this site has completed yet."
    assert "sites=['ashdown']" in verdict.next_step
    unsynced = health(connection(), synced=False)
    assert "wonde_schools_full_sync first" in unsynced.next_step


@pytest.mark.parametrize(
    ("conn", "step"),
    [
        (connection("not_connected"), "request-access ashdown"),
        (connection("pending"), "arrives by Wonde's webhook"),
        (connection("already_approved", token=False), "revoke-and-rerequest ashdown"),
        (connection("declined"), "request access again"),
        (connection("revoked"), "request access again"),
        (connection("approved", enabled=False), "wonde_sync enable ashdown"),
    ],
)
def test_sites_that_are_not_imported_get_the_next_step_of_their_connection(conn, step):
    # Even a failed last run: the connection is what needs fixing first.
    bad = run(8, "Failed", NOW - DAY)
    verdict = health(conn, bad, bad, None)
    assert verdict.state == "not_importing"
    assert verdict.label == "Not importing"
    assert verdict.reason == conn.detail
    assert step in verdict.next_step


def full_sync(run_id: int, finished: datetime) -> FullSyncMetadata:
    """Metadata of a completed full catalog sync."""
    return FullSyncMetadata(run_id, finished - timedelta(minutes=10), finished, 5000, None)


def catalog_verdict(full, last_finished, stale_hours=192):
    """The catalog's health at NOW."""
    return rules.catalog_health(
        full, last_finished, now=NOW, stale_after=timedelta(hours=stale_hours)
    )


def test_catalog_never_synced():
    verdict = catalog_verdict(None, None)
    assert verdict.state == "never_synced"
    assert verdict.reason.startswith("The school directory hasn't been synced yet")
    assert "wonde_schools_full_sync" in verdict.next_step
    failed = run(3, "Failed", NOW - DAY, kind="catalog", message="Wonde returned 403")
    assert "Wonde returned 403" in catalog_verdict(None, failed).reason


def test_catalog_ok_stale_and_failing():
    full = full_sync(4, NOW - 2 * DAY)
    own_run = run(4, "Completed", NOW - 2 * DAY, kind="catalog")
    assert catalog_verdict(full, own_run).state == "ok"
    assert catalog_verdict(full, own_run, stale_hours=24).state == "stale"
    failed = run(5, "Failed", NOW - DAY, kind="catalog", message="The directory was empty.")
    verdict = catalog_verdict(full, failed)
    assert verdict.state == "failing"
    assert "The directory was empty." in verdict.reason and "still in use" in verdict.reason


def test_thresholds_come_from_the_environment(monkeypatch):
    assert rules.stale_after_from_env() == timedelta(hours=36)
    assert rules.catalog_stale_after_from_env() == timedelta(hours=192)
    monkeypatch.setenv("WONDE_STALE_AFTER_HOURS", "12.5")
    assert rules.stale_after_from_env() == timedelta(hours=12.5)
    for bad in ("soon", "0", "-3"):
        monkeypatch.setenv("WONDE_STALE_AFTER_HOURS", bad)
        with pytest.raises(ValueError, match="WONDE_STALE_AFTER_HOURS"):
            rules.stale_after_from_env()
