"""Sync History: one ``wonde_sync_runs`` row per run, ``Processing`` → ``Completed``/``Failed``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from wonde_sync.core.database import as_utc, table, utcnow

PROCESSING = "Processing"
COMPLETED = "Completed"
FAILED = "Failed"
#: Every status, in the order lists and filters offer them.
STATUSES = (COMPLETED, PROCESSING, FAILED)

#: What a run did (``kind``): rebuild the catalog, or import one site fully or by changes.
CATALOG = "catalog"
FULL_IMPORT = "full_import"
INCREMENTAL_IMPORT = "incremental_import"
KIND_LABELS = {
    CATALOG: "Schools catalog",
    FULL_IMPORT: "Full import",
    INCREMENTAL_IMPORT: "Incremental import",
}


def kind_label(kind: str) -> str:
    """A run kind in the product's words (the code, spaced out, when unknown)."""
    return KIND_LABELS.get(kind, kind.replace("_", " "))


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


def start_run(
    engine: Engine,
    kind: str,
    *,
    site_id: str | None = None,
    dag_id: str | None = None,
    dag_run_id: str | None = None,
    message: str | None = None,
) -> int:
    """Insert a ``Processing`` row and return its id."""
    runs = table(engine, "wonde_sync_runs")
    with engine.begin() as conn:
        return conn.execute(
            sa.insert(runs)
            .values(
                site_id=site_id,
                kind=kind,
                status=PROCESSING,
                started_at=utcnow(),
                dag_id=dag_id,
                dag_run_id=dag_run_id,
                message=message,
            )
            .returning(runs.c.id)
        ).scalar_one()


def update_run(engine: Engine, run_id: int, *, message: str | None = None, **counts: int) -> None:
    """Record progress (counts and/or message) on a run that is still going."""
    _write(engine, run_id, None, message, counts)


def complete_run(engine: Engine, run_id: int, message: str, **counts: int) -> None:
    """Mark a run ``Completed`` with its final counts and a plain message."""
    _write(engine, run_id, COMPLETED, message, counts)


def fail_run(engine: Engine, run_id: int, message: str, **counts: int) -> None:
    """Mark a run ``Failed`` with a message saying what went wrong."""
    _write(engine, run_id, FAILED, message, counts)


def _write(engine: Engine, run_id: int, status: str | None, message: str | None, counts) -> None:
    unknown = set(counts) - set(COUNT_COLUMNS)
    if unknown:
        raise ValueError(f"Unknown Sync History counts: {sorted(unknown)}")
    values: dict = dict(counts)
    if message is not None:
        values["message"] = message[:_MESSAGE_LIMIT]
    if status is not None:
        values["status"] = status
        values["finished_at"] = utcnow()
    runs = table(engine, "wonde_sync_runs")
    with engine.begin() as conn:
        updated = conn.execute(sa.update(runs).where(runs.c.id == run_id).values(**values)).rowcount
    if updated != 1:
        raise LookupError(f"Sync History has no run {run_id}")


def get_run(engine: Engine, run_id: int) -> SyncRun:
    """One run by id."""
    runs = table(engine, "wonde_sync_runs")
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
    runs = table(engine, "wonde_sync_runs")
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
    )
