"""Applying an import to ``personnel`` (staff) and ``pupils``: set-based, in one transaction.

Transformed people are first staged in ``wonde_people_staging`` (COPY on PostgreSQL);
then, for one site, a few statements apply them: link matching hand-made records, upsert
keyed by (site_id, source='wonde', external_id), archive the filtered and, after a
complete fetch, the absent. Only rows with source 'wonde' are written (plus the one-time
link of a hand-made record). Nobody is deleted: people leave by being archived, with when
and why, and come back as active.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from wonde_sync.core.database import bulk_insert, table, transaction, utcnow
from wonde_sync.core.vocabulary import EMPLOYEE, STUDENT, WONDE_SOURCE
from wonde_sync.people import change_log, linking, not_imported
from wonde_sync.people.archiving import (
    DEFAULT_MAX_ARCHIVE_PCT,
    MassArchiveBlocked,
    archive_plan,
    blocked,
)
from wonde_sync.people.transforms import PEOPLE_COLUMNS

TARGET_TABLES = {EMPLOYEE: "personnel", STUDENT: "pupils"}
#: Imported columns per record type (staff have no year group).
TARGET_COLUMNS = {
    EMPLOYEE: [c for c in PEOPLE_COLUMNS if c != "year_group"],
    STUDENT: PEOPLE_COLUMNS,
}
STAGING = "wonde_people_staging"
STAGING_COLUMNS = [
    "sync_run_id",
    "record_type",
    *PEOPLE_COLUMNS,
    "desired_status",
    "reason",
    "content_hash",
]
ABSENT_REASON = "not_in_mis"


@dataclass
class ApplyResult:
    """What applying one record type did."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    archived: int = 0
    linked: int = 0
    #: A preview only: the mass-archive guard would hold the run.
    held: bool = False


def stage(engine: Engine, run_id: int, record_type: str, rows: list[dict]) -> None:
    """Stage transformed people (rows with PEOPLE_COLUMNS, desired_status, reason and
    content_hash)."""
    if rows:
        columns = STAGING_COLUMNS[2:]
        values = ((run_id, record_type, *(row[c] for c in columns)) for row in rows)
        bulk_insert(engine, STAGING, STAGING_COLUMNS, values)


def discard(bind: Engine | Connection, run_id: int) -> None:
    """Remove a run's staged people (in the caller's transaction, given a connection)."""
    staging = table(STAGING)
    with transaction(bind) as conn:
        conn.execute(sa.delete(staging).where(staging.c.sync_run_id == run_id))


def unstage(engine: Engine, run_id: int, record_type: str, external_ids: Iterable[str]) -> list:
    """Remove staged people of a run (listed, then deleted while the run was reading them);
    return the filter reasons they had been staged with (None for the imported)."""
    ids = list(external_ids)
    staging = table(STAGING)
    theirs = sa.and_(
        staging.c.sync_run_id == run_id,
        staging.c.record_type == record_type,
        staging.c.external_id.in_(ids),
    )
    with engine.begin() as conn:
        reasons = list(conn.execute(sa.select(staging.c.reason).where(theirs)).scalars())
        conn.execute(sa.delete(staging).where(theirs))
    return reasons


def absent_people(
    engine: Engine,
    run_id: int,
    site_id: str,
    record_type: str,
    *,
    max_archive_pct: float = DEFAULT_MAX_ARCHIVE_PCT,
    approve_mass_archive: bool = False,
) -> list[str] | None:
    """The Wonde ids a complete fetch would archive as absent (``not_in_mis``).

    None when the mass-archive guard will refuse the run anyway, so that nobody spends
    requests confirming an archive that will not happen.
    """
    target = table(TARGET_TABLES[record_type])
    staging = table(STAGING)
    with engine.connect() as conn:
        plan = archive_plan(conn, target, staging, run_id, site_id, record_type, True)
        if blocked(plan.active, plan.filtered + plan.absent, max_archive_pct, approve_mass_archive):
            return None
        return list(conn.execute(sa.select(target.c.external_id).where(plan.absent_rows)).scalars())


def apply(
    conn: Connection,
    run_id: int,
    site_id: str,
    record_type: str,
    *,
    complete: bool,
    max_archive_pct: float = DEFAULT_MAX_ARCHIVE_PCT,
    approve_mass_archive: bool = False,
    log_changes: bool = True,
    planned: bool = False,
    any_filtered: bool = True,
) -> ApplyResult:
    """Apply one record type's staged people for a site, inside the caller's transaction,
    and log each person's change (``change_log``) and who it left out from their first sight
    (``not_imported``); ``log_changes=False`` writes neither, only to measure them.

    ``complete`` says the staged set is everyone Wonde lists (a full fetch), so people
    missing from it are archived. Raises MassArchiveBlocked before writing anything when
    the archive count is over ``max_archive_pct`` of the site's active Wonde people.
    ``planned`` logs the changes as a plan and applies none of them (a preview).
    ``any_filtered=False`` says no staged person was filtered out, which saves looking for
    whom to keep as not imported.
    """
    target = table(TARGET_TABLES[record_type])
    staging = table(STAGING)
    mine = sa.and_(staging.c.sync_run_id == run_id, staging.c.record_type == record_type)
    wonde_rows = sa.and_(target.c.site_id == site_id, target.c.source == WONDE_SOURCE)
    same_person = target.c.external_id == staging.c.external_id
    now = utcnow()

    plan = archive_plan(conn, target, staging, run_id, site_id, record_type, complete)
    to_archive, absent = plan.filtered_rows, plan.absent_rows
    would_archive = plan.filtered + plan.absent
    held = blocked(plan.active, would_archive, max_archive_pct, approve_mass_archive)
    if held and not planned:
        raise MassArchiveBlocked(site_id, would_archive, plan.active, max_archive_pct)

    scope = change_log.RunScope(run_id, site_id, record_type, planned)
    result = ApplyResult(held=held)
    links = linking.find_links(conn, target, staging, mine, site_id)
    result.linked = len(links)
    if log_changes:
        change_log.log_links(conn, scope, target, links)
    if not planned:
        linking.link(conn, target, links)

    active_staged = sa.and_(mine, staging.c.desired_status == "active")
    # One row of the site's Wonde people at most per staged person (the upsert's key).
    on_person = sa.and_(wonde_rows, same_person)
    known = target.c.id.is_not(None)
    changed = sa.or_(
        target.c.content_hash.is_distinct_from(staging.c.content_hash),
        target.c.status != "active",
    )
    staged, result.created, result.updated = conn.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(sa.case((~known, 1), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((sa.and_(known, changed), 1), else_=0)), 0),
        )
        .select_from(staging.outerjoin(target, on_person))
        .where(active_staged)
    ).one()
    result.unchanged = staged - result.created - result.updated

    # Applied, the created are logged after their insert, with their row ids; planned, here.
    logged_now = ~known | changed if planned else sa.and_(known, changed)
    if log_changes and (result.updated or (planned and result.created)):
        change_log.log_upserts(
            conn, scope, target, staging, sa.and_(active_staged, logged_now), on_person
        )
    if log_changes and plan.filtered:
        change_log.log_archives(conn, scope, target, to_archive, plan.filter_reason)
    if log_changes and plan.absent:
        change_log.log_archives(conn, scope, target, absent, sa.literal(ABSENT_REASON))
    if planned:
        result.archived = would_archive
        return result

    _upsert(conn, target, staging, active_staged, record_type, site_id, run_id, now)
    if log_changes and result.created:
        # Read back by what the insert wrote: no join to staging (see archiving.py).
        created = sa.and_(
            wonde_rows, target.c.created_at == now, target.c.last_sync_run_id == run_id
        )
        change_log.log_created(conn, scope, target, created)
    if log_changes and (result.created or result.linked):
        imported = sa.select(staging.c.external_id).where(active_staged)
        not_imported.forget_imported(conn, site_id, record_type, imported)
    if log_changes and any_filtered:
        # NOT IN a set hashed once, rather than a join to staging (see archiving.py).
        rows_of_site = sa.select(target.c.external_id).where(
            wonde_rows, target.c.external_id.is_not(None)
        )
        never_imported = staging.c.external_id.not_in(rows_of_site)
        filtered_out = sa.and_(mine, staging.c.desired_status == "archived", never_imported)
        not_imported.record(conn, run_id, site_id, record_type, filtered_out, now=now)
    archived_values = {
        "status": "archived",
        "archived_at": now,
        "updated_at": now,
        "last_sync_run_id": run_id,
    }
    result.archived = conn.execute(
        sa.update(target)
        .where(to_archive)
        .values(archived_reason=plan.filter_reason, **archived_values)
    ).rowcount
    if complete:
        result.archived += conn.execute(
            sa.update(target).where(absent).values(archived_reason=ABSENT_REASON, **archived_values)
        ).rowcount
    return result


def _upsert(conn, target, staging, active_staged, record_type, site_id, run_id, now) -> None:
    """Insert the new, and rewrite only the changed or returning, of the staged people."""
    columns = TARGET_COLUMNS[record_type]
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(target)
    upsert = insert.from_select(
        [
            *columns,
            "site_id",
            "source",
            "status",
            "content_hash",
            "created_at",
            "updated_at",
            "last_sync_run_id",
        ],
        sa.select(
            *[staging.c[c] for c in columns],
            sa.literal(site_id),
            sa.literal(WONDE_SOURCE),
            sa.literal("active"),
            staging.c.content_hash,
            sa.literal(now),
            sa.literal(now),
            sa.literal(run_id),
        ).where(active_staged),
    )
    upsert = upsert.on_conflict_do_update(
        index_elements=["site_id", "source", "external_id"],
        set_={
            **{c: upsert.excluded[c] for c in columns[1:]},
            "content_hash": upsert.excluded.content_hash,
            "status": "active",
            "archived_at": None,
            "archived_reason": None,
            "updated_at": now,
            "last_sync_run_id": run_id,
        },
        where=sa.or_(
            target.c.content_hash.is_distinct_from(upsert.excluded.content_hash),
            target.c.status != "active",
        ),
    )
    conn.execute(upsert)


def record_reasons(conn: Connection, run_id: int, counts: Iterable[tuple]) -> None:
    """Store per-run filter counts as (record_type, reason, count)."""
    rows = [
        {"sync_run_id": run_id, "record_type": t, "reason": r, "count": n}
        for t, r, n in counts
        if n
    ]
    if rows:
        conn.execute(sa.insert(table("wonde_sync_run_reasons")), rows)
