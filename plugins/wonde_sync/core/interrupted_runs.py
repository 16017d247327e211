"""Closing the Sync History rows of tasks that stopped without saying so.

A worker killed, or a task past its timeout, leaves its run ``Processing`` and its staging
rows behind. At the start of each run or attempt, :func:`close_interrupted` closes as
``Failed`` every ``Processing`` row of the same work (the catalog; or one site's imports,
full and incremental alike) that no live attempt can own:

* a row of the same DAG: its DAGs run one at a time (``max_active_runs=1``) and Airflow
  runs one try of a task at a time, so an earlier row of that DAG is from a gone attempt;
* any row started more than :data:`STALE_AFTER` ago, whoever opened it (another DAG, the
  CLI): no task of this product runs that long;
* with ``work_locked``, every row: the caller holds the work's run lock
  (:mod:`wonde_sync.core.run_locks`), which every attempt at that work holds while it runs
  and loses when its process dies, so no live attempt can own a ``Processing`` row.

It then deletes the staging rows of that work (schools for the catalog, people for a site)
whose run is no longer ``Processing``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from wonde_sync.core.database import table, transaction, utcnow
from wonde_sync.core.sync_history import (
    CATALOG,
    FAILED,
    PROCESSING,
    SITE_RUN_KINDS,
)

log = logging.getLogger(__name__)

INTERRUPTED = (
    "Interrupted: the task stopped before finishing (worker killed or timed out); "
    "the next run starts again."
)
#: Longer than any task may run (its execution timeout), so an older row has no owner.
STALE_AFTER = timedelta(hours=12)
#: Kinds that do the same work, and so are swept together.
_SAME_WORK = {
    CATALOG: (CATALOG,),
    **{kind: SITE_RUN_KINDS for kind in SITE_RUN_KINDS},
}
#: The staging table of each work's rows.
_STAGING = {CATALOG: "wonde_schools_staging", **{k: "wonde_people_staging" for k in SITE_RUN_KINDS}}


def close_interrupted(
    bind: Engine | Connection,
    kind: str,
    *,
    site_id: str | None = None,
    dag_id: str | None = None,
    now: datetime | None = None,
    work_locked: bool = False,
) -> list[int]:
    """Close the interrupted runs of ``kind``'s work for ``site_id``; return their ids.

    Call it before opening the new attempt's row; ``work_locked`` only while holding the
    work's run lock (then every ``Processing`` row of the work is closed, whatever its age).
    In the caller's transaction when ``bind`` is a connection.
    """
    runs = table("wonde_sync_runs")
    kinds: Sequence[str] = _SAME_WORK.get(kind, (kind,))
    now = now or utcnow()
    unowned = sa.true() if work_locked else runs.c.started_at < now - STALE_AFTER
    if dag_id is not None and not work_locked:
        unowned = sa.or_(unowned, runs.c.dag_id == dag_id)
    with transaction(bind) as conn:
        closed = sorted(
            conn.execute(
                sa.update(runs)
                .where(
                    runs.c.status == PROCESSING,
                    runs.c.kind.in_(kinds),
                    runs.c.site_id.is_(None) if site_id is None else runs.c.site_id == site_id,
                    unowned,
                )
                .values(status=FAILED, message=INTERRUPTED, finished_at=now)
                .returning(runs.c.id)
            ).scalars()
        )
        # Per staging row, a look-up of its run by key: Sync History grows by a row per site
        # and day, staging stays small, so the history is never scanned.
        if kind in _STAGING:
            staging = table(_STAGING[kind])
            live = sa.exists().where(
                runs.c.id == staging.c.sync_run_id, runs.c.status == PROCESSING
            )
            conn.execute(sa.delete(staging).where(~live))
    if closed:
        log.warning("Closed interrupted Sync History runs %s (%s)", closed, kind)
    return closed
