"""Who an import read from Wonde but never imported, and why (``wonde_people_not_imported``).

The change log records what imports did to ``personnel`` and ``pupils`` rows; a person the
filters leave out from their first sight has no row, so this keeps one per site and person:
the rule that filtered them out, the names Wonde gave, and the first and latest run that read
them. Written set-based in the import's transaction; the row goes when the person is
imported.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from wonde_sync.core.database import table

NOT_IMPORTED = "wonde_people_not_imported"
_NAMES = ("mis_id", "forename", "surname")


def record(
    conn: Connection,
    run_id: int,
    site_id: str,
    record_type: str,
    staged_filtered,
    *,
    now: datetime,
) -> None:
    """Keep the staged people that ``staged_filtered`` selects (filtered out, with no row):
    new ones with this run as their first, known ones with their latest reason and names."""
    staging = table("wonde_people_staging")
    kept = table(NOT_IMPORTED)
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(kept)
    upsert = insert.from_select(
        ["site_id", "record_type", "external_id", *_NAMES, "reason"]
        + ["first_sync_run_id", "last_sync_run_id", "first_seen_at", "last_seen_at"],
        sa.select(
            sa.literal(site_id),
            sa.literal(record_type),
            staging.c.external_id,
            *(staging.c[c] for c in _NAMES),
            staging.c.reason,
            sa.literal(run_id),
            sa.literal(run_id),
            sa.literal(now),
            sa.literal(now),
        ).where(staged_filtered),
    )
    conn.execute(
        upsert.on_conflict_do_update(
            index_elements=["site_id", "record_type", "external_id"],
            set_={
                **{c: upsert.excluded[c] for c in (*_NAMES, "reason")},
                "last_sync_run_id": run_id,
                "last_seen_at": now,
            },
        )
    )


def forget_imported(conn: Connection, site_id: str, record_type: str, imported) -> None:
    """Drop the people ``imported`` selects (Wonde ids now imported) from the kept list."""
    kept = table(NOT_IMPORTED)
    conn.execute(
        sa.delete(kept).where(
            kept.c.site_id == site_id,
            kept.c.record_type == record_type,
            kept.c.external_id.in_(imported),
        )
    )


def prune(conn: Connection, cutoff: datetime) -> int:
    """Delete people no import has read since ``cutoff``; return how many."""
    kept = table(NOT_IMPORTED)
    return conn.execute(sa.delete(kept).where(kept.c.last_seen_at < cutoff)).rowcount
