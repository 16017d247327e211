"""Sites imported in batches: within Airflow's mapping limit, each site's failure its own, and
a retry that imports only the sites not imported yet."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from airflow.sdk.exceptions import AirflowFailException

from tests.school_access.conftest import CONTACT, load_catalog
from tests.support.emulator_control import EmulatorControl
from wonde_sync.core import sync_history
from wonde_sync.core.database import table, utcnow
from wonde_sync.tasks import import_steps, site_batches

SITES = ("site-a", "site-b", "site-c")
RUN = {"dag_id": "wonde_incremental_sync", "dag_run_id": "manual__1"}


def run_started(seconds_ago: float = 60) -> dict:
    """The DAG run of the imports below, started ``seconds_ago``."""
    return {**RUN, "run_started_at": utcnow() - timedelta(seconds=seconds_ago)}


def test_batches_grow_to_stay_within_the_mapping_limit():
    site_ids = [f"site-{n:03}" for n in range(100)]
    assert [len(b["site_ids"]) for b in site_batches.batches(site_ids, 30)] == [30, 30, 30, 10]
    limited = site_batches.batches(site_ids, 10, max_batches=4)
    assert [len(b["site_ids"]) for b in limited] == [25] * 4
    assert [s for b in limited for s in b["site_ids"]] == site_ids
    assert limited[0]["label"] == "site-000 … site-024 (25 sites)"
    assert site_batches.batches(["site-a"], 25) == [{"label": "site-a", "site_ids": ["site-a"]}]
    assert site_batches.batches([], 25) == []
    # 10,000 sites at the default size map to 400 tasks, within the default limit of 1,024.
    many = site_batches.batches(map(str, range(10_000)), 25, max_batches=1024)
    assert len(many) == 400


@pytest.fixture
def three_sites(engine, start_emulator, quick_backoff, monkeypatch):
    """Three sites, each connected to its own school and never imported."""
    from wonde_sync.admin import sites
    from wonde_sync.school_access import admin_actions
    from wonde_sync.school_access.transitions import record_approval
    from wonde_sync.wonde.client import WondeClient

    monkeypatch.setenv("CALM_ENVIRONMENT", "test")
    monkeypatch.delenv("WONDE_TOKEN_KEY", raising=False)
    emu = start_emulator(schools=4, staff_per_school=8, students_per_school=4, seed=5, approved=0)
    control = EmulatorControl(emu)
    client = WondeClient()
    load_catalog(engine, client)
    schools = dict(zip(SITES, emu.school_ids(), strict=False))
    for site_id, school in schools.items():
        sites.add_site(engine, site_id, site_id.title())
        admin_actions.request_access(engine, client, site_id, school, CONTACT)
        record_approval(engine, school, control.approve(school)["school_token"])
    return engine, control, schools


def imports(engine) -> dict[str, list[str]]:
    """Each site's import runs in Sync History, oldest first, as statuses."""
    runs = table("wonde_sync_runs")
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(runs.c.site_id, runs.c.status)
            .where(runs.c.site_id.is_not(None))
            .order_by(runs.c.id)
        ).all()
    found: dict[str, list[str]] = {}
    for site_id, status in rows:
        found.setdefault(site_id, []).append(status)
    return found


def test_a_failing_site_never_stops_its_batch_and_the_retry_imports_only_it(three_sites):
    engine, control, schools = three_sites
    control.fault(
        kind="status", status=500, path_contains=f"/schools/{schools['site-b']}/", times=None
    )

    run = run_started()
    with pytest.raises(site_batches.SitesFailed) as failed:
        import_steps.import_sites(list(SITES), full=True, **run)

    assert [f.site_id for f in failed.value.failures] == ["site-b"]
    assert failed.value.imported == ["site-a", "site-c"]
    assert not failed.value.permanent  # a 500: the retry may succeed
    assert "1 of 3 sites failed (2 imported): site site-b:" in str(failed.value)
    completed, failed_ = sync_history.COMPLETED, sync_history.FAILED
    assert imports(engine) == {"site-a": [completed], "site-b": [failed_], "site-c": [completed]}

    control.clear_faults()
    summaries = import_steps.import_sites(list(SITES), full=True, **run)

    assert list(summaries) == ["site-b"]
    assert summaries["site-b"]["created_count"] > 0
    assert imports(engine) == {
        "site-a": [completed],
        "site-b": [failed_, completed],
        "site-c": [completed],
    }

    # The finished run cleared to run again (Airflow restarts it): every site is imported.
    rerun = import_steps.import_sites(list(SITES), full=True, **run_started(seconds_ago=0))
    assert sorted(rerun) == list(SITES)
    assert all(summary["created_count"] == 0 for summary in rerun.values())


def test_a_batch_whose_failures_no_retry_can_fix_fails_for_good(three_sites):
    engine, control, schools = three_sites
    control.revoke(schools["site-c"])  # Wonde refuses the school's token from now on
    from wonde_sync.school_access.reconcile import reconcile
    from wonde_sync.wonde.client import WondeClient

    reconcile(engine, WondeClient())  # site-c's access is revoked locally too

    with pytest.raises(AirflowFailException, match="1 of 3 sites failed") as failed:
        import_steps.import_sites(list(SITES), full=False, **run_started())

    assert "site site-c: Site site-c can no longer be imported" in str(failed.value)
    assert sorted(imports(engine)) == ["site-a", "site-b"]
