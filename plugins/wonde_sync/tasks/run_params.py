"""The Params of the sync DAGs, checked once by a run's first task, and how the run began.

Airflow's trigger form (and its REST API and CLI) already refuses what the Params' schemas
can say (a ``since`` that is not a date, a percentage outside 0..100). What only the run
can know (a site id that does not exist, a ``since`` in the future), and any conf that
reached a run without passing the schemas, is refused here: a ``Failed`` Sync History row
that names the Param and the fix, and a no-retry failure of the run at once, so that a
bad value never waits out retries in front of the next runs (``max_active_runs=1``).
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Generator, Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from wonde_sync.core import sync_history
from wonde_sync.core.database import engine_for, utcnow
from wonde_sync.tasks.assets import WONDE_CONNECTION_APPROVED
from wonde_sync.tasks.defaults import DEFAULT_BATCH_SIZE

log = logging.getLogger(__name__)

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

FROM_WATERMARK = "or leave it empty to import from each site's watermark"


class ParamError(ValueError):
    """A Param value the run cannot use; the message names the Param and the fix."""


def run_type(dag_run_type: Any, triggering_assets: Iterable[Any] = ()) -> str:
    """How Airflow started the run, in Sync History's terms.

    ``dag_run_type`` is the DAG run's ``run_type``; a run the approval Asset triggered is an
    ``approval`` run.
    """
    value = str(getattr(dag_run_type, "value", dag_run_type))
    if value == "asset_triggered" and any(
        getattr(asset, "name", None) == WONDE_CONNECTION_APPROVED.name
        for asset in triggering_assets
    ):
        return sync_history.APPROVAL
    return value


def run_of(ctx: Mapping[str, Any]) -> dict[str, str]:
    """What Sync History records of the run a task's Airflow context belongs to."""
    return {
        "run_type": run_type(ctx["dag_run"].run_type, ctx.get("triggering_asset_events") or ()),
        "dag_id": ctx["dag"].dag_id,
        "dag_run_id": ctx["run_id"],
    }


def since_date(value: Any, now: datetime | None = None) -> datetime | None:
    """The Param ``since`` (YYYY-MM-DD, UTC) as midnight UTC of that day; None when empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = value.strip() if isinstance(value, str) else value
    try:
        if not (isinstance(text, str) and _DATE.fullmatch(text)):
            raise ValueError(text)
        day = date.fromisoformat(text)
    except ValueError:
        raise ParamError(
            f"Param since={value!r} is not a date: use YYYY-MM-DD, {FROM_WATERMARK}."
        ) from None
    since = datetime(day.year, day.month, day.day, tzinfo=UTC)
    now = now or utcnow()
    if since > now:
        raise ParamError(
            f"Param since={value!r} lies in the future (it is {now:%Y-%m-%d %H:%M} UTC now): "
            f"use a past date, {FROM_WATERMARK}."
        )
    return since


def percentage(name: str, value: Any) -> float:
    """A percentage Param as a float; ParamError when it is not a number from 0 to 100."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParamError(f"Param {name}={value!r} is not a number: use a percentage from 0 to 100.")
    if not 0 <= value <= 100:
        raise ParamError(
            f"Param {name}={value!r} is outside 0..100: use a percentage from 0 to 100."
        )
    return float(value)


def batch_size(value: Any) -> int:
    """The Param ``batch_size`` as an int; ParamError when it is not a whole number ≥ 1."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ParamError(f"Param batch_size={value!r} is not a whole number: use 1 or more.")
    if value < 1:
        raise ParamError(f"Param batch_size={value!r} is less than 1: use 1 or more.")
    return int(value)


def site_ids(value: Any, known: Iterable[str]) -> list[str]:
    """The Param ``sites`` as a sorted list; ParamError for a non-list or unknown ids."""
    if value is None:
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ParamError(
            f"Param sites={value!r} is not a list of site ids: give one site id per line, "
            "or leave it empty to import every ready site."
        )
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise ParamError(
            f"Param sites names no known site: {', '.join(map(repr, unknown))}. Use the ids "
            "that `python -m wonde_sync status` lists, or leave it empty to import every "
            "ready site."
        )
    return sorted(set(value))


def check_incremental(
    params: Mapping[str, Any], *, run_type: str, dag_id: str | None, dag_run_id: str | None
) -> dict:
    """The incremental sync's Params, checked; a small dict for XCom (``since`` as ISO)."""
    from wonde_sync.school_access.status import read_statuses

    full = bool(params.get("full_resync"))
    kind = sync_history.FULL_IMPORT if full else sync_history.INCREMENTAL_IMPORT
    with _refused(kind, run_type=run_type, dag_id=dag_id, dag_run_id=dag_run_id):
        known = [s.site_id for s in read_statuses(engine_for())]
        since = since_date(params.get("since"))
        return {
            "sites": site_ids(params.get("sites"), known),
            "since": since.isoformat() if since else None,
            "full_resync": full,
            "approve_mass_archive": bool(params.get("approve_mass_archive")),
            "max_archive_pct": percentage("max_archive_pct", params.get("max_archive_pct")),
            "batch_size": batch_size(params.get("batch_size", DEFAULT_BATCH_SIZE)),
            "dry_run": bool(params.get("dry_run")),
            "run_type": run_type,
        }


def check_full(
    params: Mapping[str, Any], *, run_type: str, dag_id: str | None, dag_run_id: str | None
) -> dict:
    """The full sync's Params, checked; a small dict for XCom."""
    with _refused(sync_history.CATALOG, run_type=run_type, dag_id=dag_id, dag_run_id=dag_run_id):
        return {
            "max_drop_pct": percentage("max_drop_pct", params.get("max_drop_pct")),
            "allow_large_drop": bool(params.get("allow_large_drop")),
            "approve_mass_archive": bool(params.get("approve_mass_archive")),
            "max_archive_pct": percentage("max_archive_pct", params.get("max_archive_pct")),
            "batch_size": batch_size(params.get("batch_size", DEFAULT_BATCH_SIZE)),
            "dry_run": bool(params.get("dry_run")),
            "run_type": run_type,
        }


@contextlib.contextmanager
def _refused(kind: str, **start: str | None) -> Generator[None, None, None]:
    """Turn a ParamError into a Failed Sync History row and a no-retry failure."""
    try:
        yield
    except ParamError as exc:
        from airflow.sdk.exceptions import AirflowFailException

        message = f"Run refused: {exc}"
        log.error(message)
        sync_history.record_failure(engine_for(), kind, message, **start)
        raise AirflowFailException(message) from exc
