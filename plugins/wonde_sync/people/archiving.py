"""Who an import would archive, and the guard that refuses archiving too many at once."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from wonde_sync.core.vocabulary import WONDE_SOURCE
from wonde_sync.wonde.errors import PermanentError

#: A run may archive at most this share of a site's active Wonde people unless approved.
DEFAULT_MAX_ARCHIVE_PCT = 10.0


class MassArchiveBlocked(PermanentError):
    """A run would archive more people than allowed; nothing was applied."""

    def __init__(self, site_id: str, would_archive: int, active: int, max_pct: float):
        self.would_archive, self.active, self.max_pct = would_archive, active, max_pct
        share = 100.0 * would_archive / active if active else 100.0
        self.finding = (
            f"This sync would archive {would_archive} of {active} active people of site "
            f"{site_id} ({share:.0f}%), more than the {max_pct:g}% allowed, so nothing was "
            "changed."
        )
        self.rerun = (
            f"trigger wonde_incremental_sync with Params sites=['{site_id}'], full_resync=true "
            "and approve_mass_archive=true"
        )
        super().__init__(
            f"{self.finding} If this is expected (e.g. the school really removed them), "
            f"{self.rerun}."
        )

    def with_plan(self, run_id: int) -> str:
        """The message of a held run that kept its plan: review and approve it first."""
        return (
            f"{self.finding} If this is expected (e.g. the school really removed them), review "
            f"this run's plan (its page on the Wonde page, or python -m wonde_sync changes "
            f"{run_id}) and apply exactly that (Apply this plan there, or python -m wonde_sync "
            f"approve-run {run_id}); or {self.rerun}, which applies what that new run finds."
        )


def count(conn: Connection, query) -> int:
    """How many rows ``query`` selects."""
    return conn.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()


@dataclass
class ArchivePlan:
    """Who applying a run's staged people would archive, with the conditions selecting them."""

    active: int
    filtered: int
    absent: int
    filtered_rows: sa.ColumnElement
    absent_rows: sa.ColumnElement
    #: Why each of the filtered is archived: their staged row's filter reason.
    filter_reason: sa.ColumnElement


def archive_plan(conn, target, staging, run_id, site_id, record_type, complete) -> ArchivePlan:
    """Who applying the staged people would archive: the filtered, and (if ``complete``) the
    absent. Only what the guard needs is counted: nobody absent unless complete, and the
    active people only when someone would be archived."""
    mine = sa.and_(staging.c.sync_run_id == run_id, staging.c.record_type == record_type)
    wonde_rows = sa.and_(target.c.site_id == site_id, target.c.source == WONDE_SOURCE)
    # No joins to staging: its statistics never know the new run (its id is newer than any
    # PostgreSQL sampled), and a join planned for one staged row rescanned the site's staged
    # rows once per person. The filtered are few: their ids are read first; the absent are
    # NOT IN the run's ids, a set hashed once (external_id is never null: NOT IN is NOT EXISTS).
    staged_ids = sa.select(staging.c.external_id).where(mine)
    archived = staged_ids.where(staging.c.desired_status == "archived")
    filtered_ids = list(conn.execute(archived).scalars())
    filtered_rows = sa.and_(
        wonde_rows, target.c.status == "active", target.c.external_id.in_(filtered_ids)
    )
    absent_rows = sa.and_(
        wonde_rows, target.c.status == "active", target.c.external_id.not_in(staged_ids)
    )
    filtered = count(conn, sa.select(target.c.id).where(filtered_rows)) if filtered_ids else 0
    absent = count(conn, sa.select(target.c.id).where(absent_rows)) if complete else 0
    active = (
        count(conn, sa.select(target.c.id).where(wonde_rows, target.c.status == "active"))
        if filtered + absent
        else 0
    )
    return ArchivePlan(
        active=active,
        filtered=filtered,
        absent=absent,
        filtered_rows=filtered_rows,
        absent_rows=absent_rows,
        filter_reason=staged_ids.with_only_columns(staging.c.reason)
        .where(staging.c.external_id == target.c.external_id)
        .scalar_subquery(),
    )


def blocked(active: int, would_archive: int, max_pct: float, approved: bool) -> bool:
    """Whether the mass-archive guard refuses archiving ``would_archive`` of ``active``."""
    return bool(would_archive) and not approved and would_archive > max_pct / 100.0 * active
