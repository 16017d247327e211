"""
### Wonde daily incremental sync (03:00 UTC, and when a connection is approved)

Keeps each connected site's staff (`personnel`) and pupils (`pupils`) in step with its
school's MIS, importing only what Wonde reports changed since the site's watermark
(minus an overlap window), plus Wonde's deletions feed.

1. **directory_synced** skips everything while no full catalog sync has completed
   ("The school directory hasn't been synced yet: run the full schools catalog sync first.").
2. **choose_sites** refreshes connection states from Wonde and lists the sites that are
   enabled, approved and hold a school token; every other site is logged with the reason.
3. **any_site** skips the imports when no connection is ready.
4. **import_site** runs once per site (dynamic task mapping, pool `wonde_api`): fetch,
   filter suspended/archived/leavers (reason codes), upsert, archive, Sync History row.
   A site's watermark moves only when its import succeeds; one failing site does not stop
   the others.
5. **refresh_schools** re-reads the catalog entries of connected schools.

Manual runs take Params: `sites` (default: all), `full_resync`, `since` (ISO date),
`approve_mass_archive`, `max_archive_pct`. Backfills (`airflow backfill create`) import
from each run's data interval start; re-running a window changes nothing.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import AssetOrTimeSchedule, Param, dag, get_current_context, task
from airflow.timetables.trigger import CronTriggerTimetable

from wonde_sync.tasks.assets import WONDE_CONNECTION_APPROVED
from wonde_sync.tasks.defaults import default_args


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
            description="Site ids to import; empty means every ready site.",
        ),
        "full_resync": Param(
            False,
            type="boolean",
            description="Fetch everyone, not just changes, and archive the absent.",
        ),
        "since": Param(
            "",
            type="string",
            description="Import changes since this ISO date (UTC) instead of the watermark.",
        ),
        "approve_mass_archive": Param(
            False,
            type="boolean",
            description="Apply a run that archives more than max_archive_pct.",
        ),
        "max_archive_pct": Param(
            10.0,
            type="number",
            minimum=0,
            maximum=100,
            description="Most of a site's active people one run may archive.",
        ),
    },
)
def wonde_incremental_sync():
    @task.short_circuit
    def directory_synced() -> bool:
        from wonde_sync.tasks import import_steps

        return import_steps.directory_synced()

    @task
    def choose_sites() -> list[str]:
        from wonde_sync.tasks import import_steps

        return import_steps.sites_to_import(get_current_context()["params"]["sites"])

    @task.short_circuit
    def any_site(site_ids: list[str]) -> bool:
        return bool(site_ids)

    @task(multiple_outputs=False, pool="wonde_api", map_index_template="{{ site_id }}")
    def import_site(site_id: str) -> dict:
        from wonde_sync.tasks import import_steps

        ctx = get_current_context()
        params = ctx["params"]
        since = import_steps.parse_since(params["since"])
        if since is None and ctx["dag_run"].run_type == "backfill":
            since = import_steps.backfill_since(site_id, ctx["data_interval_start"])
        return import_steps.import_one_site(
            site_id,
            full=bool(params["full_resync"]),
            since=since,
            approve_mass_archive=bool(params["approve_mass_archive"]),
            max_archive_pct=float(params["max_archive_pct"]),
            dag_id=ctx["dag"].dag_id,
            dag_run_id=ctx["run_id"],
        )

    @task
    def refresh_schools() -> int:
        from wonde_sync.tasks import import_steps

        return import_steps.refresh_connected_schools()

    site_ids = choose_sites()
    ready = any_site(site_ids)
    directory_synced() >> site_ids
    ready >> [import_site.expand(site_id=site_ids), refresh_schools()]


wonde_incremental_sync()
