"""The steps the sync DAGs run around imports: gatekeeping, choosing sites, one site's run.

Kept out of the DAG files so that they read like the process and parse fast.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from wonde_sync.catalog import queries, rebuild
from wonde_sync.core.database import as_utc, engine_for
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
    the choice (a manual run's Param); naming an unknown site is an error.
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
    unknown = set(requested or ()) - {s.site_id for s in statuses}
    if unknown:
        raise ValueError(f"Unknown site(s) in the Param sites: {', '.join(sorted(unknown))}")
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
    )
    with no_retry_when_permanent():
        summary = importer.import_site(engine, WondeClient(), targets[site_id], options)
    log.info("Site %s: %s", site_id, summary["message"])
    return {k: v for k, v in summary.items() if k != "message"}


def parse_since(value: str | None) -> datetime | None:
    """The Param ``since`` (ISO date or date-time, UTC) as a datetime, or None when blank."""
    if not value:
        return None
    try:
        return as_utc(datetime.fromisoformat(value.strip()))
    except ValueError as exc:
        raise ValueError(f"Param since must be an ISO date like 2026-11-01, got {value!r}") from exc


def backfill_since(
    site_id: str, interval_start: datetime, overlap: timedelta = importer.DEFAULT_OVERLAP
) -> datetime | None:
    """Where a backfill run's import of a site starts: its data interval start minus overlap.

    A site never imported gets None (a full import: every site's first import is full). When
    the site's watermark is older than the interval start, the import starts from the
    watermark instead, because the run moves the watermark to its own start time: starting
    later would skip the changes in between for good.
    """
    mark = importer.watermark(engine_for(), site_id)
    if mark is None:
        log.info("Site %s: backfill run, first import of the site: a full one", site_id)
        return None
    since = min(as_utc(interval_start), mark) - overlap
    log.info("Site %s: backfill run, changes since %s UTC", site_id, f"{since:%Y-%m-%d %H:%M}")
    return since


def refresh_connected_schools() -> int:
    """Re-read the catalog entries of connected schools from Wonde; return how many changed."""
    from wonde_sync.school_access.import_targets import import_targets
    from wonde_sync.wonde.client import WondeClient

    engine = engine_for()
    client = WondeClient()
    school_ids = sorted({t.school_id for t in import_targets(engine)})
    return rebuild.refresh_schools(engine, (client.get(f"schools/{sid}") for sid in school_ids))
