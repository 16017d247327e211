"""The integration at a glance: the school directory, and each site's imports and health.

What data engineers and support staff read to answer "why did fewer users arrive than
expected?" and "was the school directory ever synced?"; the health rules are
:mod:`wonde_sync.monitoring.health`.

Visibility: ``site_ids=None`` means every site (an Airflow user); a list restricts sites,
imports and their runs to those sites (a service-token caller sees the sites it
administers). Catalog runs concern no site and are visible to every authenticated caller,
like the catalog search.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from wonde_sync.catalog import queries as catalog
from wonde_sync.core import sync_history
from wonde_sync.core.database import table, utcnow
from wonde_sync.core.vocabulary import EMPLOYEE, STUDENT, WONDE_SOURCE
from wonde_sync.monitoring import health
from wonde_sync.monitoring.history import reason_counts
from wonde_sync.monitoring.views import CatalogOverview, Overview, ReasonCount, SiteOverview
from wonde_sync.school_access.status import read_statuses


def _runs_by_id(conn, runs: sa.Table, ids: Iterable[int | None]) -> dict[int, sync_history.SyncRun]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = conn.execute(sa.select(runs).where(runs.c.id.in_(wanted))).mappings()
    return {row["id"]: sync_history.run_from_row(row) for row in rows}


def _of_sites(column: sa.Column, site_ids: list[str] | None):
    # Every site needs no IN list, which would grow with the number of customers.
    return column.is_not(None) if site_ids is None else column.in_(site_ids)


def _people_counts(conn, site_ids: list[str] | None):
    """Per site: active Wonde people by type, and archived Wonde people by type and reason."""
    active: dict[tuple[str, str], int] = {}
    archived: dict[str, list[ReasonCount]] = defaultdict(list)
    if site_ids == []:
        return active, archived
    for record_type, name in ((EMPLOYEE, "personnel"), (STUDENT, "pupils")):
        people = table(name)
        mine = sa.and_(_of_sites(people.c.site_id, site_ids), people.c.source == WONDE_SOURCE)
        for site_id, n in conn.execute(
            sa.select(people.c.site_id, sa.func.count())
            .where(mine, people.c.status == "active")
            .group_by(people.c.site_id)
        ):
            active[(site_id, record_type)] = n
        for site_id, reason, n in conn.execute(
            sa.select(people.c.site_id, people.c.archived_reason, sa.func.count())
            .where(mine, people.c.status == "archived")
            .group_by(people.c.site_id, people.c.archived_reason)
            .order_by(people.c.site_id, people.c.archived_reason)
        ):
            archived[site_id].append(ReasonCount(record_type, reason or "unknown", n))
    return active, archived


def overview(
    engine: Engine,
    *,
    site_ids: Iterable[str] | None = None,
    now: datetime | None = None,
    stale_after: timedelta | None = None,
    catalog_stale_after: timedelta | None = None,
) -> Overview:
    """The catalog and every visible site with its imports and health.

    ``site_ids`` None: every site; otherwise only those. ``now`` and the thresholds default
    to the clock and the environment (``WONDE_STALE_AFTER_HOURS``,
    ``WONDE_CATALOG_STALE_AFTER_HOURS``).
    """
    now = now or utcnow()
    stale_after = stale_after or health.stale_after_from_env()
    catalog_stale_after = catalog_stale_after or health.catalog_stale_after_from_env()
    connections = read_statuses(engine, site_ids)
    visible = None if site_ids is None else [c.site_id for c in connections]
    runs = table("wonde_sync_runs")
    finished = runs.c.status != sync_history.PROCESSING
    with engine.connect() as conn:
        newest = (
            conn.execute(
                sa.select(
                    runs.c.site_id,
                    sa.func.max(runs.c.id).label("last_id"),
                    sa.func.max(sa.case((finished, runs.c.id))).label("finished_id"),
                    sa.func.max(
                        sa.case((runs.c.status == sync_history.COMPLETED, runs.c.id))
                    ).label("success_id"),
                )
                .where(
                    _of_sites(runs.c.site_id, visible), runs.c.kind.in_(sync_history.IMPORT_KINDS)
                )
                .group_by(runs.c.site_id)
            ).all()
            if visible != []
            else []
        )
        catalog_finished_id = conn.execute(
            sa.select(sa.func.max(runs.c.id)).where(runs.c.kind == sync_history.CATALOG, finished)
        ).scalar()
        catalog_last_id = conn.execute(
            sa.select(sa.func.max(runs.c.id)).where(runs.c.kind == sync_history.CATALOG)
        ).scalar()
        by_id = _runs_by_id(
            conn,
            runs,
            [catalog_finished_id, catalog_last_id]
            + [i for row in newest for i in (row.last_id, row.finished_id, row.success_id)],
        )
        latest = {row.site_id: row for row in newest}
        filtered = reason_counts(conn, [r.success_id for r in newest if r.success_id])
        active, archived = _people_counts(conn, visible)
    full = catalog.latest_full_sync(engine)
    catalog_view = CatalogOverview(
        last_full_sync=full,
        school_count=catalog.catalog_count(engine),
        age=None if full is None else now - full.finished_at,
        last_run=by_id.get(catalog_last_id),
        health=health.catalog_health(
            full, by_id.get(catalog_finished_id), now=now, stale_after=catalog_stale_after
        ),
    )
    sites = []
    for connection in connections:
        row = latest.get(connection.site_id)
        last_import = by_id.get(row.last_id) if row else None
        last_finished = by_id.get(row.finished_id) if row else None
        last_success = by_id.get(row.success_id) if row else None
        sites.append(
            SiteOverview(
                connection=connection,
                last_import=last_import,
                last_success=last_success,
                active_staff=active.get((connection.site_id, EMPLOYEE), 0),
                active_pupils=active.get((connection.site_id, STUDENT), 0),
                filtered=tuple(filtered.get(row.success_id, ())) if row else (),
                archived=tuple(archived.get(connection.site_id, ())),
                health=health.site_health(
                    connection,
                    last_import,
                    last_finished,
                    last_success,
                    directory_synced=full is not None,
                    now=now,
                    stale_after=stale_after,
                ),
            )
        )
    return Overview(now, stale_after, catalog_view, tuple(sites))
