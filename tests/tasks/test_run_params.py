"""The sync DAGs' Params as a run's first task checks them, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from airflow.sdk import Asset
from airflow.sdk.exceptions import AirflowFailException
from airflow.utils.types import DagRunType

from wonde_sync.admin import sites
from wonde_sync.core import sync_history
from wonde_sync.core.database import utcnow
from wonde_sync.tasks import run_params
from wonde_sync.tasks.assets import WONDE_CONNECTION_APPROVED

RUN = {"run_type": "manual", "dag_id": "wonde_incremental_sync", "dag_run_id": "manual__x"}
DEFAULTS = {
    "sites": [],
    "since": None,
    "full_resync": False,
    "approve_mass_archive": False,
    "max_archive_pct": 10.0,
    "batch_size": 25,
    "dry_run": False,
}
FULL_DEFAULTS = {
    "max_drop_pct": 10.0,
    "allow_large_drop": False,
    "approve_mass_archive": False,
    "max_archive_pct": 10.0,
    "batch_size": 25,
    "dry_run": False,
}
TOMORROW = (utcnow() + timedelta(days=1)).date().isoformat()


def refused(engine, check, params) -> sync_history.SyncRun:
    """Check ``params``: the no-retry failure, and the one Failed row it wrote."""
    with pytest.raises(AirflowFailException) as failure:
        check(params, **RUN)
    runs = sync_history.list_runs(engine)
    assert len(runs) == 1
    run = runs[0]
    assert (run.status, run.run_type, run.dag_run_id) == ("Failed", "manual", "manual__x")
    assert run.message == str(failure.value)
    return run


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"since": "yesterday"},
            "Param since='yesterday' is not a date: use YYYY-MM-DD, or leave it empty to "
            "import from each site's watermark.",
        ),
        ({"since": "2026-02-30"}, "Param since='2026-02-30' is not a date: use YYYY-MM-DD"),
        ({"since": TOMORROW}, f"Param since='{TOMORROW}' lies in the future"),
        ({"sites": ["nosuch"]}, "Param sites names no known site: 'nosuch'."),
        ({"sites": "site-a"}, "Param sites='site-a' is not a list of site ids"),
        ({"max_archive_pct": 150}, "Param max_archive_pct=150 is outside 0..100"),
        ({"max_archive_pct": "ten"}, "Param max_archive_pct='ten' is not a number"),
        ({"batch_size": 0}, "Param batch_size=0 is less than 1: use 1 or more."),
        ({"batch_size": 2.5}, "Param batch_size=2.5 is not a whole number: use 1 or more."),
    ],
    ids=[
        "not-a-date",
        "no-such-day",
        "future",
        "unknown-site",
        "not-a-list",
        "pct",
        "nan",
        "no-batch",
        "part-batch",
    ],
)
def test_a_bad_incremental_param_fails_the_run_and_says_how_to_fix_it(engine, change, expected):
    sites.add_site(engine, "site-a", "Site A")
    run = refused(engine, run_params.check_incremental, {**DEFAULTS, **change})
    assert run.kind == "incremental_import" and run.site_id is None
    assert expected in run.message


def test_a_refused_full_resync_is_recorded_as_a_full_import(engine):
    run = refused(
        engine, run_params.check_incremental, {**DEFAULTS, "full_resync": True, "since": "x"}
    )
    assert run.kind == "full_import"


@pytest.mark.parametrize("name", ["max_drop_pct", "max_archive_pct"])
def test_a_bad_full_sync_param_fails_the_catalog_run(engine, name):
    run = refused(engine, run_params.check_full, {**FULL_DEFAULTS, name: -1})
    assert run.kind == "catalog"
    assert f"Param {name}=-1 is outside 0..100: use a percentage from 0 to 100." in run.message


def test_defaults_and_good_values_are_accepted_and_nothing_is_recorded(engine):
    sites.add_site(engine, "site-a", "Site A")
    sites.add_site(engine, "site-b", "Site B")
    assert run_params.check_incremental(DEFAULTS, **RUN) == {**DEFAULTS, "run_type": "manual"}
    assert run_params.check_full(FULL_DEFAULTS, **RUN) == {**FULL_DEFAULTS, "run_type": "manual"}
    today = utcnow().date().isoformat()
    checked = run_params.check_incremental(
        {**DEFAULTS, "sites": ["site-b", "site-a", "site-b"], "since": f" {today} "}, **RUN
    )
    assert checked["sites"] == ["site-a", "site-b"]
    assert checked["since"] == f"{today}T00:00:00+00:00"
    # An empty text field of the trigger form counts as missing.
    assert run_params.check_incremental({**DEFAULTS, "since": ""}, **RUN)["since"] is None
    assert sync_history.list_runs(engine) == []


def test_since_is_midnight_utc_of_the_day():
    now = datetime(2026, 11, 4, 9, 0, tzinfo=UTC)
    assert run_params.since_date("2026-11-04", now) == datetime(2026, 11, 4, tzinfo=UTC)
    with pytest.raises(run_params.ParamError, match="lies in the future"):
        run_params.since_date("2026-11-05", now)
    with pytest.raises(run_params.ParamError, match="is not a date"):
        run_params.since_date("2026-11-04T08:00:00", now)


def test_run_type_from_the_dag_run_and_its_triggering_assets():
    assert run_params.run_type(DagRunType.SCHEDULED) == "scheduled"
    assert run_params.run_type(DagRunType.MANUAL) == "manual"
    assert run_params.run_type(DagRunType.BACKFILL_JOB) == "backfill"
    approval = Asset(name=WONDE_CONNECTION_APPROVED.name, uri=WONDE_CONNECTION_APPROVED.uri)
    assert run_params.run_type(DagRunType.ASSET_TRIGGERED, [approval]) == "approval"
    other = Asset(name="something_else", uri="calm-db://calm_db/else")
    assert run_params.run_type(DagRunType.ASSET_TRIGGERED, [other]) == "asset_triggered"
