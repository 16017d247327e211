"""
### Wonde daily incremental sync (03:00 UTC, and when a connection is approved)

Keeps each connected site's staff (`personnel`) and pupils (`pupils`) in step with its
school's MIS, importing only what Wonde reports changed since the site's watermark
(minus an overlap window), plus Wonde's deletions feed.

1. **prepare_database** applies pending schema migrations to `calm_db`.
2. **check_params** checks the Params; a bad value fails the run at once (no retries) with
   a `Failed` Sync History row that names the Param and the fix.
3. **directory_synced** skips everything while no full catalog sync has completed
   ("The school directory hasn't been synced yet: run the full schools catalog sync first.").
4. **choose_sites** refreshes connection states from Wonde, lists the sites that are
   enabled, approved and hold a school token (every other site is logged with the reason),
   and splits them into batches of `batch_size`.
5. **any_site** skips the imports when no connection is ready.
6. **import_sites** runs once per batch (dynamic task mapping, pool `wonde_api`), importing
   its sites a few at a time: fetch, filter suspended/archived/leavers (reason codes),
   upsert, archive, one Sync History row per site. A site's watermark moves only when its
   import succeeds; one failing site does not stop the others. A failed batch names its
   failed sites, and its retry imports only the sites not imported yet.
7. **refresh_schools** re-reads the catalog entries of connected schools.

Manual runs take Params: `sites` (default: every ready site), `since` (a date, default: each
site's watermark), `full_resync`, `approve_mass_archive`, `max_archive_pct`, `batch_size`
(sites per `import_sites` task), `dry_run` (preview: every site's import logs its changes
as a plan, a Sync History row of kind `import_preview`, and changes nobody). An import
reads from the earlier of `since` (or a backfill run's data interval start) and the site's
watermark, minus a two-hour overlap, so no change is ever left unread; re-running a window
changes nothing. Sync History records each run's type (scheduled, manual, backfill,
approval) and the window it read.

An approval starts a run within seconds: the triggerer runs the watcher of the Asset
`wonde_connection_approved`, which polls `calm_db` for approvals not yet announced (at least
one triggerer must run; without one, the hourly reconcile announces them).
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import AssetOrTimeSchedule, Param, dag, get_current_context, task
from airflow.timetables.trigger import CronTriggerTimetable

from wonde_sync.tasks.assets import WONDE_CONNECTION_APPROVED
from wonde_sync.tasks.defaults import batch_size_param, default_args, dry_run_param


@dag(
    dag_id="wonde_incremental_sync",
    # Daily at 03:00 UTC over the previous day, and as soon as a connection is approved.
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 3 * * *", timezone="UTC", interval=timedelta(days=1)),
        assets=[WONDE_CONNECTION_APPROVED],
    ),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["wonde", "imports"],
    default_args=default_args(retry_delay=timedelta(minutes=5)),
    params={
        "sites": Param(
            [],
            type="array",
            items={"type": "string"},
            title="Sites",
            description="Site ids to import, one per line; empty imports every ready site.",
        ),
        "since": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Changes since",
            description=(
                "Import the changes since this day (UTC); empty imports from each site's "
                "watermark. A later day than a site's watermark reads from the watermark, so "
                "no change is left unread."
            ),
        ),
        "full_resync": Param(
            False,
            type="boolean",
            title="Full resync",
            description="Fetch everyone, not just changes, and archive the absent.",
        ),
        "approve_mass_archive": Param(
            False,
            type="boolean",
            title="Approve a mass archive",
            description="Apply a run that archives more than the archive limit below.",
        ),
        "max_archive_pct": Param(
            10.0,
            type="number",
            minimum=0,
            maximum=100,
            title="Archive limit (%)",
            description="Most of a site's active people one run may archive, 0 to 100.",
        ),
        "batch_size": batch_size_param(),
        "dry_run": dry_run_param(),
    },
)
def wonde_incremental_sync():
    @task
    def prepare_database() -> list[str]:
        from wonde_sync.tasks import database_steps

        return database_steps.prepare_database()

    @task(multiple_outputs=False)
    def check_params() -> dict:
        from wonde_sync.tasks import run_params

        ctx = get_current_context()
        return run_params.check_incremental(ctx["params"], **run_params.run_of(ctx))

    @task.short_circuit
    def directory_synced() -> bool:
        from wonde_sync.tasks import import_steps

        return import_steps.directory_synced()

    @task
    def choose_sites(checked: dict) -> list[dict]:
        from wonde_sync.tasks import import_steps, site_batches

        site_ids = import_steps.sites_to_import(checked["sites"])
        return site_batches.batches(site_ids, checked["batch_size"])

    @task.short_circuit
    def any_site(batches: list[dict]) -> bool:
        return bool(batches)

    @task(multiple_outputs=False, pool="wonde_api", map_index_template="{{ batch.label }}")
    def import_sites(batch: dict, checked: dict) -> dict:
        from wonde_sync.tasks import import_steps

        ctx = get_current_context()
        return import_steps.import_sites(
            batch["site_ids"],
            run_started_at=ctx["dag_run"].start_date,
            full=checked["full_resync"],
            since=import_steps.requested_since(checked, ctx.get("data_interval_start")),
            approve_mass_archive=checked["approve_mass_archive"],
            max_archive_pct=checked["max_archive_pct"],
            dry_run=checked["dry_run"],
            run_type=checked["run_type"],
            dag_id=ctx["dag"].dag_id,
            dag_run_id=ctx["run_id"],
        )

    @task
    def refresh_schools() -> int:
        from wonde_sync.tasks import import_steps

        return import_steps.refresh_connected_schools()

    checked = check_params()
    batches = choose_sites(checked)
    ready = any_site(batches)
    prepare_database() >> checked >> directory_synced() >> batches
    ready >> [import_sites.partial(checked=checked).expand(batch=batches), refresh_schools()]


wonde_incremental_sync()
