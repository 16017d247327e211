"""Sync History as the integration details read it: pages of runs, one run, its issues.

Visibility: ``site_ids=None`` means every site (an Airflow user); a list restricts sites,
imports and their runs to those sites (a service-token caller sees the sites it
administers). Catalog runs concern no site and are visible to every authenticated caller,
like the catalog search.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from wonde_sync.core import sync_history
from wonde_sync.core.database import as_utc, table
from wonde_sync.monitoring.run_filters import RunFilters
from wonde_sync.monitoring.views import ReasonCount, RecordIssue, RunDetail, RunPage

#: Record issues shown inline with a run; the CSV download has all of them.
DEFAULT_ISSUE_LIMIT = 200


def reason_counts(conn, run_ids: Sequence[int]) -> dict[int, list[ReasonCount]]:
    """Per run: its filtered counts by record type and reason (read on ``conn``)."""
    found: dict[int, list[ReasonCount]] = defaultdict(list)
    if not run_ids:
        return found
    reasons = table("wonde_sync_run_reasons")
    rows = conn.execute(
        sa.select(reasons)
        .where(reasons.c.sync_run_id.in_(sorted(set(run_ids))))
        .order_by(reasons.c.sync_run_id, reasons.c.record_type, reasons.c.reason)
    ).mappings()
    for row in rows:
        found[row["sync_run_id"]].append(
            ReasonCount(row["record_type"], row["reason"], row["count"])
        )
    return found


def _visible_runs(runs: sa.Table, site_ids: Iterable[str] | None):
    """Which runs a caller may read: all, or those of its sites plus catalog runs."""
    if site_ids is None:
        return sa.true()
    return sa.or_(runs.c.site_id.in_(list(site_ids)), runs.c.site_id.is_(None))


def list_runs(
    engine: Engine, filters: RunFilters, *, site_ids: Iterable[str] | None = None
) -> RunPage:
    """One page of Sync History, newest first, for the filters and the caller's sites."""
    site_ids = None if site_ids is None else list(site_ids)
    runs = table("wonde_sync_runs")
    conditions = [_visible_runs(runs, site_ids)]
    if filters.site is not None:
        conditions.append(runs.c.site_id == filters.site)
    if filters.status is not None:
        conditions.append(runs.c.status == filters.status)
    if filters.kind is not None:
        conditions.append(runs.c.kind == filters.kind)
    sites = table("sites")
    with engine.connect() as conn:
        total = conn.execute(
            sa.select(sa.func.count()).select_from(runs).where(*conditions)
        ).scalar_one()
        rows = conn.execute(
            sa.select(runs)
            .where(*conditions)
            .order_by(runs.c.id.desc())
            .limit(filters.page_size)
            .offset((filters.page - 1) * filters.page_size)
        ).mappings()
        page = tuple(sync_history.run_from_row(row) for row in rows)
        named = {r.site_id for r in page if r.site_id}
        names = (
            dict(
                conn.execute(
                    sa.select(sites.c.site_id, sites.c.name).where(sites.c.site_id.in_(named))
                ).all()
            )
            if named
            else {}
        )
    return RunPage(runs=page, filters=filters, total=total, site_names=names)


def get_run(
    engine: Engine,
    run_id: int,
    *,
    site_ids: Iterable[str] | None = None,
    issue_limit: int = DEFAULT_ISSUE_LIMIT,
) -> RunDetail:
    """One run with its filtered counts and its first record issues.

    Raises LookupError when there is no such run or the caller may not read it (the two
    are not told apart, so that run ids reveal nothing about other sites).
    """
    runs = table("wonde_sync_runs")
    issues = table("wonde_sync_issues")
    sites = table("sites")
    with engine.connect() as conn:
        row = (
            conn.execute(
                sa.select(runs, sites.c.name.label("site_name"))
                .select_from(runs.outerjoin(sites, sites.c.site_id == runs.c.site_id))
                .where(runs.c.id == run_id, _visible_runs(runs, site_ids))
            )
            .mappings()
            .first()
        )
        if row is None:
            raise LookupError(f"Sync History has no run {run_id}.")
        filtered = reason_counts(conn, [run_id]).get(run_id, [])
        total = conn.execute(
            sa.select(sa.func.count()).where(issues.c.sync_run_id == run_id)
        ).scalar_one()
        first = conn.execute(
            sa.select(issues)
            .where(issues.c.sync_run_id == run_id)
            .order_by(issues.c.id)
            .limit(issue_limit)
        ).mappings()
        found_issues = tuple(_issue_from_row(r) for r in first)
    return RunDetail(
        run=sync_history.run_from_row(row),
        site_name=row["site_name"],
        filtered=tuple(filtered),
        issues=found_issues,
        issues_total=total,
    )


def _issue_from_row(row) -> RecordIssue:
    return RecordIssue(
        run_id=row["sync_run_id"],
        site_id=row["site_id"],
        record_type=row["record_type"],
        external_id=row["external_id"],
        reason=row["reason"],
        detail=row["detail"],
        created_at=as_utc(row["created_at"]),
    )


def iter_issues(engine: Engine, run_id: int, *, batch: int = 1000) -> Iterator[RecordIssue]:
    """Every record issue of a run, in batches (keyset paging keeps memory flat)."""
    issues = table("wonde_sync_issues")
    after = None
    while True:
        query = (
            sa.select(issues)
            .where(issues.c.sync_run_id == run_id)
            .order_by(issues.c.id)
            .limit(batch)
        )
        if after is not None:
            query = query.where(issues.c.id > after)
        with engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        for row in rows:
            yield _issue_from_row(row)
        if len(rows) < batch:
            return
        after = rows[-1]["id"]
