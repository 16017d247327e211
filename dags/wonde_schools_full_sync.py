"""
### Wonde schools catalog: full rebuild

Rebuilds `wonde_schools`, CalmCompliance's copy of Wonde's school directory
(`GET /v1.0/schools/all`), from scratch:

1. **prepare_database** applies pending schema migrations to `calm_db`.
2. **start_sync_run** checks the Params (a bad value fails the run at once, no retries, with
   a `Failed` Sync History row naming the Param and the fix), then opens a Sync History row
   (`wonde_sync_runs`, kind `catalog`, `Processing`, with the run type).
3. **stage_directory** streams the directory page by page into `wonde_schools_staging`
   (COPY on PostgreSQL), requesting the next pages while it stages; records without an id
   or a name are rejected and counted.
4. **validate_catalog** refuses an empty directory, duplicate ids, or a drop of more than
   `max_drop_pct` percent against the current catalog (unless `allow_large_drop`).
5. **publish_catalog** swaps the staged rows in and records the full-sync metadata in one
   transaction, marks the run `Completed` and updates the `wonde_schools` Asset.
6. **choose_sites** refreshes connection states from Wonde, lists the sites that are
   enabled, approved and hold a school token, and splits them into batches of `batch_size`;
   **import_sites** then runs a full import of each site, once per batch (dynamic task
   mapping, pool `wonde_api`): everyone Wonde lists is fetched, people missing from a
   complete fetch are archived (subject to the mass-archive guard). A failed batch names its
   failed sites, and its retry imports only the sites not imported yet. With the Param
   `dry_run` the site imports are previews (the catalog is still rebuilt): each logs what
   it would change as a plan and changes nobody.

Any failure leaves the previous catalog untouched and the run `Failed` with the reason.
Wonde answering 401/403, or a failed check, is not retried; network faults are.
Connections: `wonde_default` (Wonde, app token), `calm_db` (the CalmCompliance database).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, get_current_context, task
from airflow.timetables.trigger import CronTriggerTimetable

from wonde_sync.tasks.assets import WONDE_SCHOOLS
from wonde_sync.tasks.defaults import batch_size_param, default_args, dry_run_param


@dag(
    dag_id="wonde_schools_full_sync",
    schedule=CronTriggerTimetable("0 1 * * 0", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["wonde", "catalog"],
    default_args=default_args(),
    params={
        "max_drop_pct": Param(
            10.0,
            type="number",
            minimum=0,
            maximum=100,
            title="Largest drop (%)",
            description="Refuse a directory this many percent smaller than the catalog, 0 to 100.",
        ),
        "allow_large_drop": Param(
            False,
            type="boolean",
            title="Allow a large drop",
            description="Publish even if the directory shrank more than the largest drop.",
        ),
        "approve_mass_archive": Param(
            False,
            type="boolean",
            title="Approve a mass archive",
            description="Apply site imports that archive more than the archive limit below.",
        ),
        "max_archive_pct": Param(
            10.0,
            type="number",
            minimum=0,
            maximum=100,
            title="Archive limit (%)",
            description="Most of a site's active people one import may archive, 0 to 100.",
        ),
        "batch_size": batch_size_param(),
        "dry_run": dry_run_param(),
    },
)
def wonde_schools_full_sync():
    @task
    def prepare_database() -> list[str]:
        from wonde_sync.tasks import database_steps

        return database_steps.prepare_database()

    @task(multiple_outputs=False)
    def start_sync_run() -> dict:
        from wonde_sync.tasks import catalog_steps, run_params

        ctx = get_current_context()
        run = run_params.run_of(ctx)
        run_params.check_full(ctx["params"], **run)
        return catalog_steps.begin(**run)

    @task(multiple_outputs=False)
    def stage_directory(run: dict) -> dict:
        from wonde_sync.tasks import catalog_steps

        return catalog_steps.stage_directory(run["run_id"])

    @task
    def validate_catalog(run: dict, staged: dict) -> int:
        from wonde_sync.tasks import catalog_steps

        params = get_current_context()["params"]
        return catalog_steps.validate(
            run["run_id"],
            max_drop_pct=float(params["max_drop_pct"]),
            allow_large_drop=bool(params["allow_large_drop"]),
        )

    @task(outlets=[WONDE_SCHOOLS])
    def publish_catalog(run: dict, staged: dict) -> int:
        from wonde_sync.tasks import catalog_steps

        dag_run_id = get_current_context()["run_id"]
        return catalog_steps.publish(run["run_id"], run["started_at"], dag_run_id, staged)

    @task
    def choose_sites() -> list[dict]:
        from wonde_sync.tasks import import_steps, site_batches

        batch_size = int(get_current_context()["params"]["batch_size"])
        return site_batches.batches(import_steps.sites_to_import(), batch_size)

    @task(multiple_outputs=False, pool="wonde_api", map_index_template="{{ batch.label }}")
    def import_sites(batch: dict) -> dict:
        from wonde_sync.tasks import import_steps, run_params

        ctx = get_current_context()
        return import_steps.import_sites(
            batch["site_ids"],
            run_started_at=ctx["dag_run"].start_date,
            full=True,
            approve_mass_archive=bool(ctx["params"]["approve_mass_archive"]),
            max_archive_pct=float(ctx["params"]["max_archive_pct"]),
            dry_run=bool(ctx["params"]["dry_run"]),
            **run_params.run_of(ctx),
        )

    run = start_sync_run()
    staged = stage_directory(run)
    prepare_database() >> run
    published = publish_catalog(run, staged)
    validate_catalog(run, staged) >> published
    batches = choose_sites()
    published >> batches
    import_sites.expand(batch=batches)


wonde_schools_full_sync()
