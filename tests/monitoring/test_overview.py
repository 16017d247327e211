"""The overview and Sync History read from a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.monitoring.seed import EXPECTED_CONNECTION, EXPECTED_HEALTH, SITES
from tests.support.emulator_control import EmulatorControl
from wonde_sync.core import sync_history
from wonde_sync.core.database import bulk_insert, utcnow
from wonde_sync.monitoring import history
from wonde_sync.monitoring.csv_export import issues_csv
from wonde_sync.monitoring.overview import overview
from wonde_sync.monitoring.run_filters import DetailsQueryError, check_filters


def test_an_empty_database_says_the_directory_was_never_synced(engine):
    found = overview(engine)
    assert found.catalog.warning == "The school directory hasn't been synced yet"
    assert found.catalog.health.state == "never_synced"
    assert found.catalog.school_count == 0 and found.catalog.age is None
    assert found.sites == ()
    assert found.as_dict()["catalog"]["synced"] is False


def test_each_site_gets_its_health_connection_and_counts(world):
    found = overview(world.engine)
    sites = {s.site_id: s for s in found.sites}
    assert list(sites) == list(SITES)
    assert {k: s.health.state for k, s in sites.items()} == EXPECTED_HEALTH
    assert {k: s.connection.label for k, s in sites.items()} == EXPECTED_CONNECTION
    assert sites["glen"].connection.enabled is False

    seeded = world.seeded
    assert found.catalog.health.state == "ok" and found.catalog.warning is None
    assert found.catalog.school_count == seeded.school_count == 8
    assert found.catalog.last_run.id == seeded.catalog_run

    ashdown = sites["ashdown"]
    assert ashdown.last_import.id == ashdown.last_success.id == seeded.ashdown_run
    assert ashdown.active_staff == seeded.ashdown_active_staff
    filtered = {(c.record_type, c.reason): c.count for c in ashdown.filtered}
    assert filtered == seeded.ashdown_filtered
    assert sum(filtered.values()) == ashdown.last_success.counts["filtered_count"] > 0

    beacon = sites["beacon"]
    assert beacon.last_import.id == seeded.beacon_failed_run
    assert beacon.last_import.status == "Failed"
    assert beacon.last_success.id == seeded.beacon_good_run
    assert "401" in beacon.health.reason
    assert sites["cedar"].last_success.id == seeded.cedar_run
    assert "3 days ago" in sites["cedar"].health.reason
    assert sites["dale"].last_import is None and sites["dale"].active_staff == 0


def test_staleness_follows_the_configured_threshold(world, monkeypatch):
    cedar = {s.site_id: s for s in overview(world.engine).sites}["cedar"]
    assert cedar.health.state == "stale"
    monkeypatch.setenv("WONDE_STALE_AFTER_HOURS", "100")
    cedar = {s.site_id: s for s in overview(world.engine).sites}["cedar"]
    assert cedar.health.state == "ok"
    # The same import, seen four days later, is stale again.
    later = overview(world.engine, now=utcnow() + timedelta(days=4), site_ids=["cedar"])
    assert [s.health.state for s in later.sites] == ["stale"]


def test_a_failed_catalog_sync_after_the_last_good_one_is_failing(world):
    run_id = sync_history.start_run(world.engine, "catalog")
    sync_history.fail_run(world.engine, run_id, "Wonde returned an empty school directory.")
    catalog = overview(world.engine).catalog
    assert catalog.health.state == "failing"
    assert "empty school directory" in catalog.health.reason
    assert catalog.last_full_sync.sync_run_id == world.seeded.catalog_run


def test_overview_shows_only_the_sites_asked_for(world):
    found = overview(world.engine, site_ids=["beacon", "cedar", "nowhere"])
    assert [s.site_id for s in found.sites] == ["beacon", "cedar"]
    assert overview(world.engine, site_ids=[]).sites == ()


def all_ids(engine, site_ids=None, **filters):
    """The run ids of one Sync History page, and the total for the filters."""
    page = history.list_runs(engine, check_filters(**filters), site_ids=site_ids)
    return [r.id for r in page.runs], page.total


def test_sync_history_filters_pages_and_visibility(world):
    s = world.seeded
    every = [s.cedar_run, s.beacon_failed_run, s.beacon_good_run, s.ashdown_run, s.catalog_run]
    assert all_ids(world.engine) == (every, 5)
    assert all_ids(world.engine, status="Failed") == ([s.beacon_failed_run], 1)
    assert all_ids(world.engine, status="completed")[1] == 4
    assert all_ids(world.engine, kind="catalog") == ([s.catalog_run], 1)
    assert all_ids(world.engine, site="beacon") == ([s.beacon_failed_run, s.beacon_good_run], 2)
    assert all_ids(world.engine, site="beacon", status="Completed")[0] == [s.beacon_good_run]
    # Service-token callers see their sites' runs and the catalog's.
    assert all_ids(world.engine, site_ids=["ashdown"]) == ([s.ashdown_run, s.catalog_run], 2)

    pages = [all_ids(world.engine, page=n, page_size=2) for n in (1, 2, 3, 4)]
    assert [ids for ids, _ in pages] == [every[0:2], every[2:4], every[4:], []]
    page = history.list_runs(world.engine, check_filters(page_size=2))
    assert page.pages == 3 and page.site_names["cedar"] == "Cedar Primary"


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"status": "Done"}, "status"),
        ({"kind": "nightly"}, "kind"),
        ({"page": "0"}, "page"),
        ({"page": "two"}, "page"),
        ({"page_size": "101"}, "page_size"),
    ],
)
def test_bad_filters_are_refused_with_the_field(filters, field):
    with pytest.raises(DetailsQueryError) as refused:
        check_filters(**filters)
    assert refused.value.field == field


def test_a_run_with_its_filtered_counts_and_record_issues(world):
    s = world.seeded
    found = history.get_run(world.engine, s.ashdown_run)
    assert found.site_name == "Ashdown Academy"
    assert {(c.record_type, c.reason): c.count for c in found.filtered} == s.ashdown_filtered
    assert found.issues_total == 1
    (issue,) = found.issues
    assert (issue.external_id, issue.reason) == (s.ashdown_bad_email_id, "invalid_email")
    assert "not-an-email" in issue.detail

    failed = history.get_run(world.engine, s.beacon_failed_run)
    assert failed.run.status == "Failed" and "401" in failed.run.message
    with pytest.raises(LookupError):
        history.get_run(world.engine, s.beacon_failed_run, site_ids=["ashdown"])
    with pytest.raises(LookupError):
        history.get_run(world.engine, 10_000)
    # Catalog runs concern no site: visible to every caller.
    assert history.get_run(world.engine, s.catalog_run, site_ids=[]).run.kind == "catalog"


def test_all_record_issues_stream_in_order_in_batches(world):
    run_id = world.seeded.ashdown_run
    rows = [
        (run_id, "ashdown", "student", f"S{n}", "missing_name", None, utcnow()) for n in range(7)
    ]
    columns = ["sync_run_id", "site_id", "record_type", "external_id", "reason", "detail"]
    bulk_insert(world.engine, "wonde_sync_issues", [*columns, "created_at"], rows)
    streamed = list(history.iter_issues(world.engine, run_id, batch=3))
    assert [i.external_id for i in streamed] == [
        world.seeded.ashdown_bad_email_id,
        *[f"S{n}" for n in range(7)],
    ]
    found = history.get_run(world.engine, run_id, issue_limit=5)
    assert found.issues_total == 8 and len(found.issues) == 5
    csv_lines = list(issues_csv(streamed))
    assert len(csv_lines) == 9 and csv_lines[-1].startswith(f"{run_id},ashdown,student,S6,")


def test_counts_match_what_the_school_mis_holds(world):
    # Ground truth from the emulator: every active member of staff is active here.
    school = world.emu.school_ids()[SITES["ashdown"][2]]
    truth = EmulatorControl(world.emu).people(school, "student")
    ashdown = overview(world.engine, site_ids=["ashdown"]).sites[0]
    assert ashdown.active_pupils == sum(p["mis_status"] == "active" for p in truth)
    assert ashdown.active_staff == world.seeded.ashdown_active_staff
