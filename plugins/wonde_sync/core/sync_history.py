"""Sync History: one ``wonde_sync_runs`` row per run, ``Processing`` → ``Completed``/``Failed``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from wonde_sync.core.database import as_utc, table, transaction, utcnow
from wonde_sync.core.vocabulary import describe_age

PROCESSING = "Processing"
COMPLETED = "Completed"
FAILED = "Failed"
#: Every status, in the order lists and filters offer them.
STATUSES = (COMPLETED, PROCESSING, FAILED)

#: What a run did (``kind``): rebuild the catalog, or import one site fully or by changes.
CATALOG = "catalog"
FULL_IMPORT = "full_import"
INCREMENTAL_IMPORT = "incremental_import"
#: A site's import run as a preview: its changes are logged as a plan, none applied.
IMPORT_PREVIEW = "import_preview"
#: Reverting an import's changes from the change log.
UNDO = "undo"
KIND_LABELS = {
    CATALOG: "Schools catalog",
    FULL_IMPORT: "Full import",
    INCREMENTAL_IMPORT: "Incremental import",
    IMPORT_PREVIEW: "Import preview",
    UNDO: "Undo",
}
#: A site's imports proper: the runs that change its people from Wonde's answers.
IMPORT_KINDS = (FULL_IMPORT, INCREMENTAL_IMPORT)
#: The kinds of run that hold a site's lock, and so sweep each other's interrupted rows.
SITE_RUN_KINDS = (FULL_IMPORT, INCREMENTAL_IMPORT, IMPORT_PREVIEW, UNDO)


def kind_label(kind: str) -> str:
    """A run kind in the product's words (the code, spaced out, when unknown)."""
    return KIND_LABELS.get(kind, kind.replace("_", " "))


#: How a run was started (``run_type``): by the schedule, by hand, by a backfill, or by a
#: connection's approval (the Asset the reconciling DAG updates).
SCHEDULED = "scheduled"
MANUAL = "manual"
BACKFILL = "backfill"
APPROVAL = "approval"
RUN_TYPE_LABELS = {
    SCHEDULED: "Scheduled",
    MANUAL: "Manual",
    BACKFILL: "Backfill",
    APPROVAL: "On approval",
}


def run_type_label(run_type: str | None) -> str:
    """A run type in the product's words ("-" when unknown: before it was recorded)."""
    if not run_type:
        return "-"
    return RUN_TYPE_LABELS.get(run_type, run_type.replace("_", " "))


COUNT_COLUMNS = (
    "fetched_count",
    "created_count",
    "updated_count",
    "unchanged_count",
    "archived_count",
    "filtered_count",
    "rejected_count",
)

# Long tracebacks do not help an admin; the Airflow task log keeps the details.
_MESSAGE_LIMIT = 2000


@dataclass(frozen=True)
class SyncRun:
    """A row of Sync History."""

    id: int
    site_id: str | None
    kind: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    counts: dict[str, int]
    message: str | None
    dag_id: str | None
    dag_run_id: str | None
    run_type: str | None = None
    #: The changes read: from (None: everyone) up to the run's start.
    window_start: datetime | None = None
    window_end: datetime | None = None

    @property
    def duration(self) -> timedelta | None:
        """How long the run took (None while it is still going)."""
        return None if self.finished_at is None else self.finished_at - self.started_at


def duration_label(run: SyncRun) -> str:
    """How long a run took, in words: tenths of a second under ten seconds."""
    if run.duration is None:
        return "-"
    seconds = run.duration.total_seconds()
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    return describe_age(run.duration)


def window_label(run: SyncRun) -> str:
    """The changes a run read, in words ("-" for runs that read no window)."""
    if run.window_end is None:
        return "-"
    end = f"{run.window_end:%Y-%m-%d %H:%M} UTC"
    if run.window_start is None:
        return f"everyone, as of {end}"
    return f"changes from {run.window_start:%Y-%m-%d %H:%M} to {end}"


def start_run(
    bind: Engine | Connection,
    kind: str,
    *,
    site_id: str | None = None,
    dag_id: str | None = None,
    dag_run_id: str | None = None,
    message: str | None = None,
    run_type: str | None = None,
    started_at: datetime | None = None,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
) -> int:
    """Insert a ``Processing`` row and return its id (``started_at`` defaults to now; in the
    caller's transaction when ``bind`` is a connection)."""
    runs = table("wonde_sync_runs")
    with transaction(bind) as conn:
        return conn.execute(
            sa.insert(runs)
            .values(
                site_id=site_id,
                kind=kind,
                status=PROCESSING,
                started_at=started_at or utcnow(),
                dag_id=dag_id,
                dag_run_id=dag_run_id,
                message=None if message is None else message[:_MESSAGE_LIMIT],
                run_type=run_type,
                window_start=window_start,
                window_end=window_end,
            )
            .returning(runs.c.id)
        ).scalar_one()


def update_run(engine: Engine, run_id: int, *, message: str | None = None, **counts: int) -> None:
    """Record progress (counts and/or message) on a run that is still going."""
    _write(engine, run_id, None, message, counts)


def complete_run(bind: Engine | Connection, run_id: int, message: str, **counts: int) -> None:
    """Mark a run ``Completed`` with its final counts and a plain message (in the caller's
    transaction when ``bind`` is a connection)."""
    _write(bind, run_id, COMPLETED, message, counts)


def fail_run(engine: Engine, run_id: int, message: str, **counts: int) -> None:
    """Mark a run ``Failed`` with a message saying what went wrong."""
    _write(engine, run_id, FAILED, message, counts)


def record_failure(engine: Engine, kind: str, message: str, **start: str | None) -> int:
    """Record a run that failed before it began (a refused Param): one ``Failed`` row."""
    run_id = start_run(engine, kind, message=message, **start)
    fail_run(engine, run_id, message)
    return run_id


def _write(
    bind: Engine | Connection, run_id: int, status: str | None, message: str | None, counts
) -> None:
    unknown = set(counts) - set(COUNT_COLUMNS)
    if unknown:
        raise ValueError(f"Unknown Sync History counts: {sorted(unknown)}")
    values: dict = dict(counts)
    if message is not None:
        values["message"] = message[:_MESSAGE_LIMIT]
    if status is not None:
        values["status"] = status
        values["finished_at"] = utcnow()
    runs = table("wonde_sync_runs")
    with transaction(bind) as conn:
        updated = conn.execute(sa.update(runs).where(runs.c.id == run_id).values(**values)).rowcount
    if updated != 1:
        raise LookupError(f"Sync History has no run {run_id}")


def get_run(engine: Engine, run_id: int) -> SyncRun:
    """One run by id."""
    runs = table("wonde_sync_runs")
    with engine.connect() as conn:
        row = conn.execute(sa.select(runs).where(runs.c.id == run_id)).mappings().first()
    if row is None:
        raise LookupError(f"Sync History has no run {run_id}")
    return run_from_row(row)


def list_runs(
    engine: Engine,
    *,
    site_id: str | None = None,
    kind: str | None = None,
    status: str | None = None,
    limit: int = 20,
) -> list[SyncRun]:
    """The newest runs first, optionally filtered by site, kind and status."""
    runs = table("wonde_sync_runs")
    query = sa.select(runs).order_by(runs.c.id.desc()).limit(limit)
    if site_id is not None:
        query = query.where(runs.c.site_id == site_id)
    if kind is not None:
        query = query.where(runs.c.kind == kind)
    if status is not None:
        query = query.where(runs.c.status == status)
    with engine.connect() as conn:
        return [run_from_row(row) for row in conn.execute(query).mappings()]


def run_from_row(row) -> SyncRun:
    """A Sync History row (a mapping of wonde_sync_runs columns) as a SyncRun."""
    return SyncRun(
        id=row["id"],
        site_id=row["site_id"],
        kind=row["kind"],
        status=row["status"],
        started_at=as_utc(row["started_at"]),
        finished_at=as_utc(row["finished_at"]),
        counts={c: row[c] for c in COUNT_COLUMNS},
        message=row["message"],
        dag_id=row["dag_id"],
        dag_run_id=row["dag_run_id"],
        run_type=row["run_type"],
        window_start=as_utc(row["window_start"]),
        window_end=as_utc(row["window_end"]),
    )
