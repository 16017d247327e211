"""Sites in batches: the sync DAGs map their imports over batches of sites, not one task each.

Airflow pays its cost per task (seconds of scheduling and start-up on a real executor) once
per batch, and a mapped task expands to at most ``[core] max_map_length`` instances, so a
batch grows beyond the Param ``batch_size`` when the sites would need more. Inside a batch,
a thread pool imports ``WONDE_CONCURRENCY`` sites at a time (default 4; that setting also
bounds the process's requests to Wonde; one at a time on SQLite, which has one writer).
Each site keeps its own Sync History row and run lock, and its own failure: a failing site
never stops its batch's other sites. The batch then fails naming every failed site; a retry
imports only the sites this DAG run has not imported yet (a finished run cleared to run
again imports them all).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from wonde_sync.core import sync_history
from wonde_sync.core.database import as_utc, table

log = logging.getLogger(__name__)

#: Airflow's default ``[core] max_map_length``.
DEFAULT_MAX_MAP_LENGTH = 1024


def batches(site_ids: Iterable[str], size: int, *, max_batches: int | None = None) -> list[dict]:
    """``site_ids`` in batches of at most ``size``, each ``{"label", "site_ids"}``.

    When that would make more than ``max_batches`` (default: Airflow's ``max_map_length``),
    batches grow until it does not.
    """
    site_ids = list(site_ids)
    if max_batches is None:
        max_batches = max_map_length()
    size = max(1, size, math.ceil(len(site_ids) / max(1, max_batches)))
    groups = [site_ids[i : i + size] for i in range(0, len(site_ids), size)]
    return [{"label": _label(group), "site_ids": group} for group in groups]


def _label(site_ids: list[str]) -> str:
    if len(site_ids) == 1:
        return site_ids[0]
    return f"{site_ids[0]} … {site_ids[-1]} ({len(site_ids)} sites)"


def max_map_length() -> int:
    """Airflow's ``[core] max_map_length``: the most instances one mapped task expands to."""
    try:
        from airflow.configuration import conf

        return conf.getint("core", "max_map_length", fallback=DEFAULT_MAX_MAP_LENGTH)
    except Exception:  # no Airflow configuration (scripts, the CLI)
        return DEFAULT_MAX_MAP_LENGTH


def threads_for(engine: Engine) -> int:
    """How many sites of a batch are imported at once on ``engine``'s database."""
    from wonde_sync.wonde import pacing

    return 1 if engine.dialect.name == "sqlite" else pacing.concurrency()


@dataclass(frozen=True)
class SiteFailure:
    """One site of a batch that failed, and why."""

    site_id: str
    error: BaseException
    #: A retry cannot fix it (refused token, a check that refused the import, …).
    permanent: bool


class SitesFailed(Exception):
    """Sites of a batch failed; every other site of the batch was imported."""

    def __init__(self, failures: list[SiteFailure], imported: list[str]) -> None:
        self.failures = failures
        self.imported = imported
        lines = "; ".join(f"site {f.site_id}: {f.error}" for f in failures)
        super().__init__(
            f"{len(failures)} of {len(failures) + len(imported)} sites failed "
            f"({len(imported)} imported): {lines}"
        )

    @property
    def permanent(self) -> bool:
        """True when no failure is one a retry could fix."""
        return all(f.permanent for f in self.failures)


def imported_in_run(
    engine: Engine, dag_id: str | None, dag_run_id: str | None, started_at: datetime | None
) -> set[str]:
    """The sites a DAG run has imported since it (last) started: a Completed import in Sync
    History.

    ``started_at`` is the DAG run's start, which Airflow resets when a finished run is
    cleared to run again: such a rerun imports every site again, a retry does not.
    """
    if not dag_id or not dag_run_id or started_at is None:
        return set()
    runs = table("wonde_sync_runs")
    query = sa.select(runs.c.site_id).where(
        runs.c.dag_id == dag_id,
        runs.c.dag_run_id == dag_run_id,
        runs.c.status == sync_history.COMPLETED,
        runs.c.kind.in_(sync_history.SITE_RUN_KINDS),
        runs.c.started_at >= as_utc(started_at),
    )
    with engine.connect() as conn:
        return set(conn.execute(query).scalars())


def import_batch(
    site_ids: list[str],
    import_site: Callable[[str], dict],
    *,
    threads: int,
    done: set[str] = frozenset(),
    is_permanent: Callable[[BaseException], bool] = lambda exc: False,
) -> dict[str, dict]:
    """Import each site of ``site_ids`` not in ``done`` with ``import_site``, ``threads`` at
    a time; return each imported site's summary, by site id.

    Raises :class:`SitesFailed` after every site has had its turn, when any failed.
    """
    todo = [s for s in site_ids if s not in done]
    if len(todo) < len(site_ids):
        log.info(
            "Imported earlier in this run, skipped now: %s",
            ", ".join(s for s in site_ids if s in done),
        )

    def attempt(site_id: str) -> tuple[str, dict | None, BaseException | None]:
        try:
            return site_id, import_site(site_id), None
        except Exception as exc:
            log.error("Site %s: import failed: %s", site_id, exc)
            return site_id, None, exc

    summaries: dict[str, dict] = {}
    failures: list[SiteFailure] = []
    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(todo)))) as pool:
        for site_id, summary, error in pool.map(attempt, todo):
            if error is None:
                summaries[site_id] = summary
            else:
                failures.append(SiteFailure(site_id, error, is_permanent(error)))
    if failures:
        raise SitesFailed(failures, sorted(summaries))
    return summaries
