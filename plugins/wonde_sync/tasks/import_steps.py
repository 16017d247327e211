"""The steps the sync DAGs run around imports: gatekeeping, choosing sites, one site's run.

Kept out of the DAG files so that they read like the process and parse fast.
"""

from __future__ import annotations

import logging
from datetime import datetime

from wonde_sync.catalog import queries, rebuild
from wonde_sync.core import interrupted_runs, run_locks, sync_history
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
    from wonde_sync.school_access.import_targets import importable_sites
    from wonde_sync.school_access.reconcile import reconcile
    from wonde_sync.school_access.status import read_statuses
    from wonde_sync.wonde.client import WondeClient

    engine = engine_for()
    if refresh:
        result = reconcile(engine, WondeClient())
        log.info("Connection states refreshed from Wonde: %s", result)
    importable = set(importable_sites(engine))
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


class SiteBusyError(run_locks.LockTimeout):
    """Another run kept importing the site for longer than this attempt could wait."""


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
    dry_run: bool = False,
    engine=None,
    client=None,
) -> dict:
    """Run one site's import, one at a time per site; failures a retry cannot fix become
    no-retry failures. ``engine`` (``calm_db``'s) and ``client`` (a WondeClient on
    ``wonde_default``): when the caller has them (a batch looks each connection up once).

    The site's run lock is held from before the watermark is read until the import ends, so
    a run that had to wait reads from where the other one left off. When the other run
    keeps it past :func:`wonde_sync.core.run_locks.wait_bound`, :class:`SiteBusyError`
    (retried by Airflow) names that run.
    """
    engine = engine or engine_for()
    key = run_locks.site_key(site_id)
    holder = f"import of {site_id}: {dag_id or 'no DAG'} {dag_run_id or ''}".strip()
    try:
        with run_locks.held(engine, key, holder=holder) as lock:
            if lock.holder_seen:
                log.info(
                    "Site %s: waited %.1f s for another import of this site (%s) to finish; "
                    "this one starts from where it left off.",
                    site_id,
                    lock.waited,
                    lock.holder_seen,
                )
            return _import_holding_lock(
                engine,
                site_id,
                importer.ImportOptions(
                    full=full,
                    since=since,
                    approve_mass_archive=approve_mass_archive,
                    max_archive_pct=max_archive_pct,
                    dag_id=dag_id,
                    dag_run_id=dag_run_id,
                    run_type=run_type,
                    dry_run=dry_run,
                ),
                client,
            )
    except run_locks.LockTimeout as exc:
        if exc.key != key or isinstance(exc, SiteBusyError):
            raise
        raise SiteBusyError(
            _busy_message(engine, site_id, exc), key=key, waited=exc.waited, holder=exc.holder
        ) from exc


def import_sites(
    site_ids: list[str],
    *,
    dag_id: str | None = None,
    dag_run_id: str | None = None,
    run_started_at: datetime | None = None,
    **options,
) -> dict:
    """Import a batch of sites (see :mod:`wonde_sync.tasks.site_batches`), each as
    :func:`import_one_site` does; return each imported site's summary, by site id.

    Sites this DAG run already imported since ``run_started_at`` (an earlier attempt of the
    task) are skipped. When sites fail, the others are imported first, then the task fails
    naming each failed site: a no-retry failure when no failure is one a retry could fix.
    """
    from airflow.sdk.exceptions import AirflowFailException

    from wonde_sync.tasks import site_batches
    from wonde_sync.wonde.client import WondeClient

    engine, client = engine_for(), WondeClient()
    try:
        return site_batches.import_batch(
            site_ids,
            lambda site_id: import_one_site(
                site_id,
                dag_id=dag_id,
                dag_run_id=dag_run_id,
                engine=engine,
                client=client,
                **options,
            ),
            threads=site_batches.threads_for(engine),
            done=site_batches.imported_in_run(engine, dag_id, dag_run_id, run_started_at),
            is_permanent=lambda exc: isinstance(exc, AirflowFailException),
        )
    except site_batches.SitesFailed as exc:
        if exc.permanent:
            raise AirflowFailException(str(exc)) from exc
        raise


def _import_holding_lock(engine, site_id: str, options: importer.ImportOptions, client) -> dict:
    from airflow.sdk.exceptions import AirflowFailException

    from wonde_sync.school_access.import_targets import import_target
    from wonde_sync.wonde.client import WondeClient

    with engine.begin() as conn:
        # Read under the lock: the connection may have changed while this run waited.
        target = import_target(conn, site_id)
        if target is None:
            raise AirflowFailException(
                f"Site {site_id} can no longer be imported: its connection changed since the "
                "run began."
            )
        # Full or incremental: the sweep covers both kinds of this site's imports, and, as
        # every import of the site holds its lock, any still Processing is from a dead attempt.
        interrupted_runs.close_interrupted(
            conn, FULL_IMPORT, site_id=site_id, dag_id=options.dag_id, work_locked=True
        )
    with no_retry_when_permanent():
        summary = importer.import_site(engine, client or WondeClient(), target, options)
    log.info("Site %s: %s", site_id, summary["message"])
    return {k: v for k, v in summary.items() if k != "message"}


def _busy_message(engine, site_id: str, exc: run_locks.LockTimeout) -> str:
    """Why this attempt gave up, naming the run that holds the site (as far as known)."""
    running = [
        run
        for kind in sync_history.IMPORT_KINDS
        for run in sync_history.list_runs(
            engine, site_id=site_id, kind=kind, status=sync_history.PROCESSING, limit=1
        )
    ]
    if running:
        run = max(running, key=lambda r: r.started_at)
        other = (
            f"Sync History run {run.id} ({sync_history.kind_label(run.kind).lower()}, "
            f"{run.dag_id or 'no DAG'} {run.dag_run_id or ''}".rstrip()
            + f", started {run.started_at:%Y-%m-%d %H:%M:%S} UTC)"
        )
    else:
        other = exc.holder or "another run"
    return (
        f"Site {site_id} is still being imported by {other} after this run waited "
        f"{exc.waited:.1f} s for it; nothing was imported by this attempt, and a retry will "
        "try again."
    )


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
    from wonde_sync.school_access.import_targets import importable_sites
    from wonde_sync.wonde.client import WondeClient

    engine = engine_for()
    client = WondeClient()
    school_ids = sorted(set(importable_sites(engine).values()))
    return rebuild.refresh_schools(engine, (client.get(f"schools/{sid}") for sid in school_ids))
