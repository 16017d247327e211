"""Importing one connection's staff and pupils, with its own Sync History row.

Fetch page by page (employees, students, and the deletions feed), transform each page
row by row, stage it, then apply everything for the site in one transaction. The site's
watermark moves only when the whole import succeeded, so a failed run is simply redone.

Pages can shift while they are read (see ``feeds``). After a full fetch, everyone who would
be archived as absent is first looked up on their own, and only a 404 archives them. When
the MIS changed during the read, the watermark stays where it was: a run never moves it past
a change it may not have read, so the next run reads the same window again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from wonde_sync.core import collector, sync_history
from wonde_sync.core.database import as_utc, table, transaction, utcnow
from wonde_sync.core.vocabulary import EMPLOYEE, STUDENT
from wonde_sync.people import change_log, feeds, import_messages
from wonde_sync.people import store as people_store
from wonde_sync.people import transforms as pt
from wonde_sync.school_access.import_targets import ImportTarget

log = logging.getLogger(__name__)


#: Re-read this much before the watermark: Wonde pulls from MIS in bursts and clocks drift.
DEFAULT_OVERLAP = timedelta(hours=2)

FEEDS = (
    (EMPLOYEE, "employees", "employment_details,contact_details"),
    (STUDENT, "students", "education_details,contact_details"),
)


@dataclass
class ImportOptions:
    """How to run one site's import."""

    full: bool = False
    #: Read the changes since then (or since the watermark, when that is earlier).
    since: datetime | None = None
    overlap: timedelta = DEFAULT_OVERLAP
    max_archive_pct: float = people_store.DEFAULT_MAX_ARCHIVE_PCT
    approve_mass_archive: bool = False
    dag_id: str | None = None
    dag_run_id: str | None = None
    #: How the run was started (see sync_history.RUN_TYPE_LABELS); None outside Airflow.
    run_type: str | None = None
    #: The instant whose date in the school's time zone is "today" for leaving dates (now).
    as_of: datetime | None = None
    #: Keep the per-person change log (off only to measure what it costs).
    log_changes: bool = True
    #: A preview: log the changes as a plan, apply none, leave the watermark.
    dry_run: bool = False


def watermark(bind: Engine | sa.Connection, site_id: str) -> datetime | None:
    """Where the site's next incremental import starts, or None before its first import."""
    marks = table("wonde_site_watermarks")
    with transaction(bind) as conn:
        value = conn.execute(
            sa.select(marks.c.watermark).where(marks.c.site_id == site_id)
        ).scalar_one_or_none()
    return as_utc(value)


def import_window_start(
    mark: datetime, since: datetime | None = None, overlap: timedelta = DEFAULT_OVERLAP
) -> datetime:
    """Where an incremental import's window starts: the earlier of ``since`` and the
    watermark, minus the overlap.

    The import moves the watermark to its own start, so a ``since`` later than the watermark
    must not be honoured as it is: the changes in between would never be read.
    """
    return min(as_utc(since) or mark, mark) - overlap


@collector.bulk_rows()  # each site's staff and pupils decoded and built by the page
def import_site(engine: Engine, client, target: ImportTarget, options: ImportOptions) -> dict:
    """Import one site's staff and pupils; return the Sync History counts and message.

    ``client`` is a WondeClient on the app connection; the school's own token and region
    are applied here. Raises after recording the run as Failed.
    """
    started_at = utcnow()
    with engine.begin() as conn:  # the watermark and the run's row: one round of the pool
        mark = watermark(conn, target.site_id)
        # A site's first import is always full, whatever ``since`` says: an incremental one
        # would leave out everyone who did not change lately, and the watermark would move on.
        full = options.full or mark is None
        since = None if full else import_window_start(mark, options.since, options.overlap)
        kind = sync_history.FULL_IMPORT if full else sync_history.INCREMENTAL_IMPORT
        if options.dry_run:
            kind = sync_history.IMPORT_PREVIEW
        run_id = sync_history.start_run(
            conn,
            kind,
            site_id=target.site_id,
            dag_id=options.dag_id,
            dag_run_id=options.dag_run_id,
            message=("Previewing the import of " if options.dry_run else "Importing ")
            + f"staff and pupils of school {target.school_id}"
            + (f" changed since {since:%Y-%m-%d %H:%M} UTC" if since else ""),
            run_type=options.run_type,
            started_at=started_at,
            window_start=since,
            window_end=started_at,
        )
    tallies: dict[str, feeds.Tally] = {}
    try:
        school_client = client.for_school(target.school(), target.school_token)
        today = pt.today_in(target.timezone, options.as_of)
        read = {
            record_type: feeds.Feed(
                engine,
                school_client,
                run_id,
                target.school_id,
                record_type,
                path,
                include,
                since,
                started_at,
                today,
            )
            for record_type, path, include in FEEDS
        }
        for record_type, feed in read.items():
            tallies[record_type] = feeds.fetch_and_stage(feed)
        if full:
            _confirm_absent(engine, run_id, target.site_id, read, tallies, options)
        drift = any(t.drift for t in tallies.values())
        staged = any(t.staged for t in tallies.values())
        # One transaction: the people, the reasons, the watermark, the record issues and the
        # run's outcome are written together or not at all.
        with engine.begin() as conn:
            results = {
                record_type: people_store.apply(
                    conn,
                    run_id,
                    target.site_id,
                    record_type,
                    complete=full,
                    max_archive_pct=options.max_archive_pct,
                    approve_mass_archive=options.approve_mass_archive,
                    log_changes=options.log_changes,
                    planned=options.dry_run,
                    any_filtered=bool(tallies[record_type].filtered),
                )
                # An incremental that staged nothing has nothing to apply.
                if full or tallies[record_type].staged
                else people_store.ApplyResult()
                for record_type, _, _ in FEEDS
            }
            people_store.record_reasons(
                conn,
                run_id,
                [
                    (t, reason, n)
                    for t, tally in tallies.items()
                    for reason, n in tally.filtered.items()
                ],
            )
            if not (drift or options.dry_run):
                _move_watermark(conn, target.site_id, started_at, run_id, full)
            _record_issues(conn, run_id, target.site_id, tallies)
            if staged:
                people_store.discard(conn, run_id)
            counts = _counts(tallies, results)
            message = import_messages.summary(tallies, results, full)
            if options.dry_run:
                message = import_messages.preview_note(results, full) + message
            if options.log_changes and (counts["updated_count"] or counts["archived_count"]):
                message += import_messages.redo_note(change_log.redone_after_undo(conn, run_id))
            if drift:
                message += import_messages.drift_note(tallies, mark)
            sync_history.complete_run(conn, run_id, message, **counts)
    except Exception as exc:
        message = f"Import failed: {exc}"
        if isinstance(exc, people_store.MassArchiveBlocked) and options.log_changes:
            _keep_plan(engine, run_id, target.site_id, full, tallies, options)
            message = f"Import failed: {exc.with_plan(run_id)}"
        sync_history.fail_run(engine, run_id, message, **_counts(tallies, {}))
        people_store.discard(engine, run_id)
        _record_issues(engine, run_id, target.site_id, tallies)
        raise
    return {
        "run_id": run_id,
        "site_id": target.site_id,
        "kind": kind,
        "message": message,
        "filtered": {t: dict(tally.filtered) for t, tally in tallies.items()},
        **counts,
    }


def _confirm_absent(engine, run_id, site_id, read, tallies, options: ImportOptions) -> None:
    """Look up everyone a full fetch would archive as absent, so that only Wonde's 404 does.

    The mass-archive guard bounds the cost: when it will refuse the run anyway, nobody is
    looked up (``apply`` then fails the run before writing anything).
    """
    for record_type, feed in read.items():
        absent = people_store.absent_people(
            engine,
            run_id,
            site_id,
            record_type,
            max_archive_pct=options.max_archive_pct,
            approve_mass_archive=options.approve_mass_archive,
        )
        if absent:
            feeds.confirm_absent(feed, tallies[record_type], absent)


def _keep_plan(engine, run_id, site_id, full, tallies, options: ImportOptions) -> None:
    """Log what a run the mass-archive guard held would do, as a plan to approve."""
    with engine.begin() as conn:
        for record_type, _, _ in FEEDS:
            if full or tallies[record_type].staged:
                people_store.apply(conn, run_id, site_id, record_type, complete=full, planned=True)


def _move_watermark(conn, site_id, started_at, run_id, full) -> None:
    marks = table("wonde_site_watermarks")
    values = {"watermark": started_at, "last_sync_run_id": run_id, "updated_at": utcnow()}
    if full:
        values["last_full_sync_at"] = started_at
    updated = conn.execute(sa.update(marks).where(marks.c.site_id == site_id).values(**values))
    if updated.rowcount == 0:
        conn.execute(sa.insert(marks).values(site_id=site_id, **values))


def _record_issues(bind, run_id, site_id, tallies) -> None:
    rows = [
        {
            "sync_run_id": run_id,
            "site_id": site_id,
            "record_type": record_type,
            "external_id": ext_id,
            "reason": reason,
            "detail": detail,
        }
        for tally in tallies.values()
        for record_type, ext_id, reason, detail in tally.issues
    ]
    if rows:
        with transaction(bind) as conn:
            conn.execute(sa.insert(table("wonde_sync_issues")), rows)


def _counts(tallies: dict[str, feeds.Tally], results: dict) -> dict[str, int]:
    counts = {
        "fetched_count": sum(t.fetched for t in tallies.values()),
        "rejected_count": sum(t.rejected for t in tallies.values()),
        "filtered_count": sum(sum(t.filtered.values()) for t in tallies.values()),
    }
    for name in ("created", "updated", "unchanged", "archived"):
        counts[f"{name}_count"] = sum(getattr(r, name) for r in results.values())
    return counts
