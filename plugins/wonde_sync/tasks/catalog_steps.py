"""The steps of a full catalog rebuild, each recorded in Sync History.

The DAG calls these one per task; they take and return small values (ids, counts) so
that nothing large passes through XCom.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Generator
from datetime import datetime

from sqlalchemy.engine import Engine

from wonde_sync.catalog import rebuild
from wonde_sync.core import interrupted_runs, sync_history
from wonde_sync.core.database import engine_for
from wonde_sync.tasks.outcomes import no_retry_when_permanent

log = logging.getLogger(__name__)

DIRECTORY_PATH = "schools/all"


@contextlib.contextmanager
def recorded_step(engine: Engine, run_id: int, what: str) -> Generator[None, None, None]:
    """Mark the run Processing with ``what``; on an exception, mark it Failed and say why.

    A retried task passes here again, so a run that failed once and then succeeded ends
    ``Completed``.
    """
    sync_history.update_run(engine, run_id, message=what)
    try:
        yield
    except Exception as exc:
        sync_history.fail_run(engine, run_id, f"{what} failed: {exc}")
        raise


def begin(dag_id: str | None, dag_run_id: str | None, run_type: str | None = None) -> dict:
    """Open a Sync History row for a rebuild; return its id and start time."""
    engine = engine_for()
    interrupted_runs.close_interrupted(engine, sync_history.CATALOG, dag_id=dag_id)
    run_id = sync_history.start_run(
        engine,
        sync_history.CATALOG,
        dag_id=dag_id,
        dag_run_id=dag_run_id,
        message="Starting the school directory sync",
        run_type=run_type,
    )
    started_at = sync_history.get_run(engine, run_id).started_at
    return {"run_id": run_id, "started_at": started_at.isoformat()}


def stage_directory(run_id: int, conn_id: str = "wonde_default") -> dict:
    """Stream Wonde's school directory into staging; return the counts."""
    from wonde_sync.wonde import pacing
    from wonde_sync.wonde.client import WondeClient

    engine = engine_for()
    client = WondeClient(conn_id=conn_id)
    reading = "Reading the school directory from Wonde"
    with no_retry_when_permanent(), recorded_step(engine, run_id, reading):
        # Pages are requested ahead while the ones read are staged.
        directory = client.iter_pages(DIRECTORY_PATH, ahead=pacing.concurrency())
        pages = (page.records for page in directory)
        result = rebuild.stage(engine, run_id, pages)
    sync_history.update_run(
        engine,
        run_id,
        message=f"Read {result.fetched} schools from Wonde ({client.request_count} requests)",
        fetched_count=result.fetched,
        rejected_count=result.rejected,
    )
    if result.rejected:
        examples = "; ".join(result.rejected_examples)
        log.warning("Rejected %d directory records, e.g. %s", result.rejected, examples)
    return {
        "fetched": result.fetched,
        "staged": result.staged,
        "rejected": result.rejected,
        "rejected_examples": list(result.rejected_examples),
    }


def validate(run_id: int, *, max_drop_pct: float, allow_large_drop: bool) -> int:
    """Check the staged directory; a failed check keeps the previous catalog."""
    engine = engine_for()
    with no_retry_when_permanent(), recorded_step(engine, run_id, "Checking the new directory"):
        return rebuild.validate_staged(
            engine, run_id, max_drop_pct=max_drop_pct, allow_large_drop=allow_large_drop
        )


def publish(run_id: int, started_at: str, dag_run_id: str | None, staged: dict) -> int:
    """Swap the staged directory in, record the full-sync metadata, complete the run.

    Safe to retry: after the swap committed, it completes the run (if that was not done)
    and returns the same count, the catalog untouched. A run overtaken by another rebuild's
    publish fails at once, with a message saying which run's catalog was kept.
    """
    engine = engine_for()
    kwargs = {"started_at": datetime.fromisoformat(started_at), "dag_run_id": dag_run_id}
    if sync_history.get_run(engine, run_id).status == sync_history.COMPLETED:
        count = rebuild.publish(engine, run_id, **kwargs)  # already published: writes nothing
        log.info("Run %s had already published the catalog (%d schools)", run_id, count)
        return count
    with no_retry_when_permanent(), recorded_step(engine, run_id, "Publishing the new catalog"):
        count = rebuild.publish(engine, run_id, expected=staged.get("staged"), **kwargs)
    message = f"School directory synced: {count} schools in the catalog."
    if staged.get("rejected"):
        message += (
            f" {staged['rejected']} directory records were rejected "
            f"(e.g. {'; '.join(staged.get('rejected_examples', [])[:3])})."
        )
    sync_history.complete_run(engine, run_id, message, fetched_count=staged.get("fetched", count))
    return count
