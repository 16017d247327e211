"""The steps the sync DAGs run around imports: gatekeeping, choosing sites, one site's run.

Kept out of the DAG files so that they read like the process and parse fast.
"""

from __future__ import annotations

import logging
from datetime import datetime

from wonde_sync.catalog import queries, rebuild
from wonde_sync.core import interrupted_runs
from wonde_sync.core.database import as_utc, engine_for
from wonde_sync.core.sync_history import BACKFILL, FULL_IMPORT
from wonde_sync.core.vocabulary import DIRECTORY_NOT_SYNCED, RUN_FULL_SYNC_FIRST
from wonde_sync.people import importer
from wonde_sync.people import store as people_store
from wonde_sync.tasks.outcomes import no_retry_when_permanent

log = logging.getLogger(__name__)

NOT_SYNCED = f"{DIRECTORY_NOT_SYNCED}: {RUN_FULL_SYNC_FIRST}."


def directory_synced() -> bool:
    """True when a full catalog sync has completed; otherwise log why imports wait."""
    if queries.latest_full_sync(engine_for()) is None:
        log.warning(NOT_SYNCED)
        return False
    return True


def _skip_reason(status, importable: set[str]) -> str | None:
    """Why a site gets no import, in the product's words (None when it gets one)."""
    if status.site_id in importable:
        return None
    if status.enabled is False:
        return f"the integration is disabled for this site ({status.label})"
    return f"{status.label}: {status.detail}"


def sites_to_import(requested: list[str] | None = None, refresh: bool = True) -> list[str]:
    """Refresh connection states from Wonde, then list the sites that can be imported.

    Every other site is logged with the reason it gets no import. ``requested`` narrows
    the choice (a manual run's Param ``sites``, checked by :mod:`wonde_sync.tasks.run_params`).
    """
    from wonde_sync.school_access.import_targets import import_targets
    from wonde_sync.school_access.reconcile import reconcile
    from wonde_sync.school_access.status import read_statuses
    from wonde_sync.wonde.client import WondeClient

    engine = engine_for()
    if refresh:
        result = reconcile(engine, WondeClient())
        log.info("Connection states refreshed from Wonde: %s", result)
    importable = {t.site_id for t in import_targets(engine)}
    statuses = read_statuses(engine)
    chosen = []
    for status in statuses:
        if requested and status.site_id not in requested:
            continue
        reason = _skip_reason(status, importable)
        if reason:
            log.info("Site %s gets no import: %s", status.site_id, reason)
        else:
            chosen.append(status.site_id)
    if not chosen:
        log.warning("No connection is both enabled and approved: nothing to import.")
    return sorted(chosen)


def import_one_site(
    site_id: str,
    *,
    full: bool,
    since: datetime | None = None,
    approve_mass_archive: bool = False,
    max_archive_pct: float = people_store.DEFAULT_MAX_ARCHIVE_PCT,
    run_type: str | None = None,
    dag_id: str | None = None,
    dag_run_id: str | None = None,
) -> dict:
    """Run one site's import; failures a retry cannot fix become no-retry failures."""
    from airflow.sdk.exceptions import AirflowFailException

    from wonde_sync.school_access.import_targets import import_targets
    from wonde_sync.wonde.client import WondeClient

    engine = engine_for()
    targets = {t.site_id: t for t in import_targets(engine)}
    if site_id not in targets:
        raise AirflowFailException(
            f"Site {site_id} can no longer be imported: its connection changed since the run began."
        )
    options = importer.ImportOptions(
        full=full,
        since=since,
        approve_mass_archive=approve_mass_archive,
        max_archive_pct=max_archive_pct,
        dag_id=dag_id,
        dag_run_id=dag_run_id,
        run_type=run_type,
    )
    # Full or incremental: the sweep covers both kinds of this site's imports.
    interrupted_runs.close_interrupted(engine, FULL_IMPORT, site_id=site_id, dag_id=dag_id)
    with no_retry_when_permanent():
        summary = importer.import_site(engine, WondeClient(), targets[site_id], options)
    log.info("Site %s: %s", site_id, summary["message"])
    return {k: v for k, v in summary.items() if k != "message"}


def requested_since(checked: dict, interval_start: datetime | None) -> datetime | None:
    """What an incremental run asks to read from: the Param ``since``, else, for a backfill
    run, its data interval start; None: from each site's watermark.

    The importer reads from the earlier of this and the site's watermark, minus the overlap
    (:func:`wonde_sync.people.importer.import_window_start`): the run moves the watermark to
    its own start, so starting later would skip the changes in between for good.
    """
    if checked.get("since"):
        return datetime.fromisoformat(checked["since"])
    if checked.get("run_type") == BACKFILL and interval_start is not None:
        return as_utc(interval_start)
    return None


def refresh_connected_schools() -> int:
    """Re-read the catalog entries of connected schools from Wonde; return how many changed."""
    from wonde_sync.school_access.import_targets import import_targets
    from wonde_sync.wonde.client import WondeClient

    engine = engine_for()
    client = WondeClient()
    school_ids = sorted({t.school_id for t in import_targets(engine)})
    return rebuild.refresh_schools(engine, (client.get(f"schools/{sid}") for sid in school_ids))
