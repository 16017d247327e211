"""The schools catalog: a local copy of Wonde's school directory, rebuilt as a whole.

A rebuild streams the directory's pages into ``wonde_schools_staging`` (tagged with its
sync run), checks the staged set, then replaces ``wonde_schools`` in one transaction, so
readers see either the previous catalog or the new one, never half of either.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from wonde_sync.catalog.queries import catalog_count
from wonde_sync.catalog.rows import CATALOG_COLUMNS, rejection, school_row
from wonde_sync.core import collector, run_locks
from wonde_sync.core.database import as_utc, bulk_insert, table, utcnow
from wonde_sync.wonde.errors import PermanentError

log = logging.getLogger(__name__)


#: Rows written to staging per batch: bounds memory whatever the directory's size.
CHUNK_ROWS = 5000

#: The run lock of the catalog's writers (publish, refresh).
CATALOG_LOCK = "catalog"

#: A rebuild may not shrink the catalog by more than this share unless approved.
DEFAULT_MAX_DROP_PCT = 10.0


class CatalogValidationError(PermanentError):
    """The staged directory failed a check; the previous catalog was kept."""


class CatalogSupersededError(PermanentError):
    """Another rebuild published after this one started; its catalog was kept."""


@dataclass(frozen=True)
class StageResult:
    """What a rebuild staged: records fetched, rows staged, records rejected (and why)."""

    fetched: int
    staged: int
    rejected: int
    rejected_examples: tuple[str, ...]


def _chunks(pages: Iterable[list[dict]], rows: int) -> Iterator[list[dict]]:
    batch: list[dict] = []
    for records in pages:
        batch.extend(records)
        if len(batch) >= rows:
            yield batch
            batch = []
    if batch:
        yield batch


def stage(
    engine: Engine, run_id: int, pages: Iterable[list[dict]], chunk_rows: int = CHUNK_ROWS
) -> StageResult:
    """Stream directory pages into the staging table under ``run_id``.

    On any failure the run's staged rows are removed, so nothing half-read lingers.
    """
    discard_staging(engine, run_id)  # a retried task starts clean
    fetched = staged = rejected = 0
    examples: list[str] = []
    with collector.bulk_rows():  # pages decoded and rows built by the hundred thousand
        try:
            for batch in _chunks(pages, chunk_rows):
                good = []
                for row in map(school_row, batch):
                    reason = rejection(row)
                    if not reason:
                        good.append(row)
                        continue
                    rejected += 1
                    if len(examples) < 5:
                        examples.append(f"{row[0] or '(no id)'}: {reason}")
                _write_staging(engine, run_id, good)
                fetched += len(batch)
                staged += len(good)
                log.info("Staged %d schools so far (%d rejected)", staged, rejected)
        except BaseException:
            discard_staging(engine, run_id)
            raise
    return StageResult(fetched, staged, rejected, tuple(examples))


def _write_staging(engine: Engine, run_id: int, good: list[tuple]) -> None:
    rows = ((run_id, *row) for row in good)
    bulk_insert(engine, "wonde_schools_staging", ["sync_run_id", *CATALOG_COLUMNS], rows)


def discard_staging(engine: Engine, run_id: int) -> None:
    """Remove a run's staged rows."""
    staging = table("wonde_schools_staging")
    with engine.begin() as conn:
        conn.execute(sa.delete(staging).where(staging.c.sync_run_id == run_id))


def validate_staged(
    engine: Engine,
    run_id: int,
    *,
    max_drop_pct: float = DEFAULT_MAX_DROP_PCT,
    allow_large_drop: bool = False,
) -> int:
    """Check the staged directory before it replaces the catalog; return its size.

    Raises CatalogValidationError when it is empty, holds duplicate ids, or is smaller than
    the published catalog by more than ``max_drop_pct`` percent (unless ``allow_large_drop``);
    the refused rows are removed from staging.
    """
    try:
        return _check_staged(engine, run_id, max_drop_pct, allow_large_drop)
    except CatalogValidationError:
        discard_staging(engine, run_id)
        raise


def _check_staged(engine: Engine, run_id: int, max_drop_pct: float, allow_large_drop: bool) -> int:
    staging = table("wonde_schools_staging")
    mine = staging.c.sync_run_id == run_id
    with engine.connect() as conn:
        staged = conn.execute(sa.select(sa.func.count()).where(mine)).scalar_one()
        duplicates = conn.execute(
            sa.select(staging.c.id, sa.func.count().label("n"))
            .where(mine)
            .group_by(staging.c.id)
            .having(sa.func.count() > 1)
            .order_by(staging.c.id)
            .limit(5)
        ).all()
    previous = catalog_count(engine)
    if staged == 0:
        raise CatalogValidationError(
            "Wonde returned an empty school directory; "
            f"the previous catalog ({previous} schools) was kept."
        )
    if duplicates:
        ids = ", ".join(f"{d.id} (x{d.n})" for d in duplicates)
        raise CatalogValidationError(
            f"Wonde's directory listed some schools more than once ({ids}); it probably changed "
            "while it was being read. The previous catalog was kept: run the sync again."
        )
    if previous and not allow_large_drop:
        drop_pct = 100.0 * (previous - staged) / previous
        if drop_pct > max_drop_pct:
            raise CatalogValidationError(
                f"The new directory has {staged} schools against {previous} in the catalog, "
                f"a drop of {drop_pct:.1f}% (more than the {max_drop_pct:g}% allowed). "
                "The previous catalog was kept. If the drop is expected, trigger the full "
                "sync with the Param allow_large_drop."
            )
    return staged


def publish(engine: Engine, run_id: int, *, started_at: datetime, dag_run_id, expected=None) -> int:
    """Swap the run's staged rows in as the catalog and record the full-sync metadata, in one
    transaction, one publish at a time (the ``catalog`` run lock); return the catalog's size.

    A run that already published returns its count, writing nothing (a retried task). Refused,
    its staging removed and the catalog kept: a run overtaken by a publish made after its
    ``started_at`` (CatalogSupersededError), and a swap of no school or not ``expected`` ones.
    """
    with run_locks.held(engine, CATALOG_LOCK, holder=f"catalog sync run {run_id}"):
        try:
            return _swap(engine, run_id, as_utc(started_at), dag_run_id, expected)
        except PermanentError:
            discard_staging(engine, run_id)
            raise


def _swap(engine, run_id, started_at, dag_run_id, expected) -> int:
    schools, staging, metadata = (
        table(f"wonde_{n}") for n in ("schools", "schools_staging", "full_sync_metadata")
    )
    cols = [staging.c[c] for c in CATALOG_COLUMNS]
    with engine.begin() as conn:
        mine = metadata.c.sync_run_id == run_id
        done = conn.execute(sa.select(metadata.c.school_count).where(mine)).scalar()
        if done is not None:
            log.info("Run %s already published the catalog (%d schools)", run_id, done)
            return done
        newest = sa.select(metadata).order_by(metadata.c.finished_at.desc()).limit(1)
        last = conn.execute(newest).first()
        if last is not None and as_utc(last.finished_at) >= started_at:
            raise CatalogSupersededError(
                f"another school directory sync (run {last.sync_run_id}) published its catalog "
                f"({last.school_count} schools) after this run started; it stays: nothing to do."
            )
        fresh = sa.insert(schools).from_select(
            [*CATALOG_COLUMNS, "sync_run_id"],
            sa.select(*cols, staging.c.sync_run_id).where(staging.c.sync_run_id == run_id),
        )
        if conn.dialect.name == "postgresql":
            _replace_rows_postgresql(conn, fresh)
        else:
            conn.execute(sa.delete(schools))
            conn.execute(fresh)
        count = conn.execute(sa.select(sa.func.count()).select_from(schools)).scalar_one()
        if count == 0 or (expected is not None and count != expected):
            # Raised inside the transaction: the previous catalog comes back whole.
            raise CatalogValidationError(
                f"this run's staged directory changed after it was read ({count} schools found, "
                f"{expected or 'some'} staged); the previous catalog was kept: run the sync again."
            )
        conn.execute(sa.delete(staging).where(staging.c.sync_run_id == run_id))
        conn.execute(
            sa.insert(metadata).values(
                sync_run_id=run_id,
                started_at=started_at,
                finished_at=utcnow(),
                school_count=count,
                dag_run_id=dag_run_id,
            )
        )
    return count


def _replace_rows_postgresql(conn: sa.Connection, fresh: sa.Insert) -> None:
    """Empty the catalog and insert ``fresh`` with its secondary indexes built afterwards.

    Three to five times faster than deleting and inserting into the indexed table. TRUNCATE
    and the index changes lock the catalog until the transaction ends: readers wait for
    the new catalog (a second or so) instead of reading the previous one meanwhile.
    """
    indexes = conn.execute(
        sa.text(
            "SELECT quote_ident(indexname) AS name, indexdef FROM pg_indexes"
            " WHERE schemaname = current_schema() AND tablename = 'wonde_schools'"
            " AND indexname NOT IN (SELECT conname FROM pg_constraint"
            "  WHERE conrelid = 'wonde_schools'::regclass)"  # the primary key stays
        )
    ).all()
    conn.execute(sa.text("TRUNCATE wonde_schools"))
    for index in indexes:
        conn.execute(sa.text(f"DROP INDEX {index.name}"))
    conn.execute(fresh)
    for index in indexes:
        conn.execute(sa.text(index.indexdef))


def refresh_schools(engine: Engine, school_objects: Iterable[dict]) -> int:
    """Update catalog rows from fresh Wonde school objects; return how many changed.

    Used between full syncs for the schools that sites are connected to (adding those not in
    the catalog yet), holding the ``catalog`` lock so that no publish swaps meanwhile.
    """
    fresh = {
        row[0]: dict(zip(CATALOG_COLUMNS, row, strict=True))
        for row in map(school_row, school_objects)
        if not rejection(row)
    }
    if not fresh:
        return 0
    schools = table("wonde_schools")
    with run_locks.held(engine, CATALOG_LOCK, holder="schools refresh"), engine.begin() as conn:
        current = {
            row["id"]: {c: row[c] for c in CATALOG_COLUMNS}
            for row in conn.execute(
                sa.select(schools).where(schools.c.id.in_(list(fresh)))
            ).mappings()
        }
        changed = [row for sid, row in fresh.items() if current.get(sid) != row]
        for row in changed:
            if row["id"] in current:
                conn.execute(sa.update(schools).where(schools.c.id == row["id"]).values(**row))
            else:
                conn.execute(sa.insert(schools).values(**row))
    return len(changed)
