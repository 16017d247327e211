"""
### Wonde connections: hourly reconcile

Keeps each site's connection (`wonde_connections`) in line with Wonde, in case a webhook
was missed, and tells the import DAGs when a connection became approved:

1. **prepare_database** applies pending schema migrations to `calm_db`.
2. **reconcile_connections** reads Wonde's access lists (`/schools`, `/schools/pending`,
   `/schools/declined`, `/schools/revoked`, page by page) and repairs local states:
   a missed decline or revocation is applied; a school Wonde lists as approved while no
   school token reached CalmCompliance becomes *School Already Approved* (the admin's
   action: Revoke & Re-request). Nothing is written unless every list was read.
3. **announce_approvals** emits an event on the Asset `wonde_connection_approved`
   (extra: `site_ids`) for connections that became enabled, approved and hold a token
   and were not announced yet; it is skipped when there are none, so an import DAG
   scheduled on the Asset runs only when there is something new to import. Most
   approvals are announced before this runs: the Asset's watcher (`ApprovalWatch`, in
   the triggerer) polls `calm_db` every few seconds and announces each approval once;
   this task is the fallback when no triggerer runs.
4. **prune_change_log** deletes the people's change log rows older than
   `WONDE_CHANGE_LOG_RETENTION_DAYS` (default 400 days).

Wonde answering 401/403 fails the run without Airflow retries (fix the app token of
`wonde_default`); network faults and 5xx are retried.
Connections: `wonde_default` (Wonde, app token), `calm_db` (the CalmCompliance database).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, get_current_context, task
from airflow.timetables.trigger import CronTriggerTimetable

from wonde_sync.tasks.assets import WONDE_CONNECTION_APPROVED
from wonde_sync.tasks.defaults import default_args


@dag(
    dag_id="wonde_connections_reconcile",
    schedule=CronTriggerTimetable("15 * * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["wonde", "connections"],
    default_args=default_args(),
)
def wonde_connections_reconcile():
    @task
    def prepare_database() -> list[str]:
        from wonde_sync.tasks import database_steps

        return database_steps.prepare_database()

    @task(multiple_outputs=False)
    def reconcile_connections() -> dict:
        from wonde_sync.tasks import access_steps

        return access_steps.reconcile()

    @task(outlets=[WONDE_CONNECTION_APPROVED])
    def announce_approvals(result: dict) -> list[str]:
        from airflow.sdk.exceptions import AirflowSkipException

        from wonde_sync.tasks import access_steps

        # The approval watch usually announced them already, seconds after the webhook.
        site_ids = access_steps.claim_approvals(result["newly_approved"])
        if not site_ids:
            raise AirflowSkipException("No approval is left to announce since the last run.")
        events = get_current_context()["outlet_events"]
        events[WONDE_CONNECTION_APPROVED].extra = {"site_ids": site_ids}
        return site_ids

    @task
    def prune_change_log() -> int:
        from wonde_sync.tasks import database_steps

        return database_steps.prune_change_log()

    result = reconcile_connections()
    prepared = prepare_database()
    prepared >> result
    prepared >> prune_change_log()
    announce_approvals(result)


wonde_connections_reconcile()
