"""Health of each site's imports and of the school directory, with the next step to take.

Health of a site (:func:`site_health`, first rule that applies):

1. **Not importing**: the connection is not enabled + approved + holding a school token
   (not connected, pending, declined, revoked, School Already Approved, disabled); the next
   step comes from the connection's state.
2. **Failing**: the newest finished import of the site ended ``Failed``.
3. **Stale**: no import completed within ``WONDE_STALE_AFTER_HOURS`` (default 36: the daily
   sync at 03:00 UTC plus a working day of slack), or none ever did.
4. **OK** otherwise.

The catalog (school directory, :func:`catalog_health`) is *never synced*, *failing* (its
newest finished run failed), *stale* (older than ``WONDE_CATALOG_STALE_AFTER_HOURS``,
default 192: the weekly full sync plus a day) or *OK*.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from wonde_sync.catalog.queries import FullSyncMetadata
from wonde_sync.core import sync_history
from wonde_sync.core.vocabulary import DIRECTORY_NOT_SYNCED, describe_age
from wonde_sync.school_access.status import (
    ALREADY_APPROVED,
    APPROVED,
    DECLINED,
    NOT_CONNECTED,
    PENDING,
    REVOKED,
    AccessStatus,
)

STALE_AFTER_ENV = "WONDE_STALE_AFTER_HOURS"
DEFAULT_STALE_AFTER = timedelta(hours=36)
CATALOG_STALE_AFTER_ENV = "WONDE_CATALOG_STALE_AFTER_HOURS"
DEFAULT_CATALOG_STALE_AFTER = timedelta(hours=192)

OK = "ok"
STALE = "stale"
FAILING = "failing"
NOT_IMPORTING = "not_importing"
NEVER_SYNCED = "never_synced"
HEALTH_LABELS = {
    OK: "OK",
    STALE: "Stale",
    FAILING: "Failing",
    NOT_IMPORTING: "Not importing",
    NEVER_SYNCED: "Never synced",
}


def _hours_from_env(name: str, default: timedelta) -> timedelta:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        hours = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of hours, not {raw!r}") from None
    if hours <= 0:
        raise ValueError(f"{name} must be more than 0 hours, not {raw!r}")
    return timedelta(hours=hours)


def stale_after_from_env() -> timedelta:
    """How long a site may go without a completed import (``WONDE_STALE_AFTER_HOURS``)."""
    return _hours_from_env(STALE_AFTER_ENV, DEFAULT_STALE_AFTER)


def catalog_stale_after_from_env() -> timedelta:
    """How old the catalog may get (``WONDE_CATALOG_STALE_AFTER_HOURS``)."""
    return _hours_from_env(CATALOG_STALE_AFTER_ENV, DEFAULT_CATALOG_STALE_AFTER)


@dataclass(frozen=True)
class Health:
    """A health verdict: state (``ok``, ``stale``, ...), why, and what to do next."""

    state: str
    reason: str
    next_step: str | None = None

    @property
    def label(self) -> str:
        """The state in the page's words."""
        return HEALTH_LABELS[self.state]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "state": self.state,
            "label": self.label,
            "reason": self.reason,
            "next_step": self.next_step,
        }


def _stale_hours(stale_after: timedelta) -> str:
    return f"{stale_after.total_seconds() / 3600:g} hours"


def site_health(
    connection: AccessStatus,
    last_import: sync_history.SyncRun | None,
    last_finished: sync_history.SyncRun | None,
    last_success: sync_history.SyncRun | None,
    *,
    directory_synced: bool,
    now: datetime,
    stale_after: timedelta,
) -> Health:
    """The health of one site from its connection and its newest import runs.

    ``last_import`` is the newest import of any status, ``last_finished`` the newest that
    ended (Completed or Failed), ``last_success`` the newest Completed one.
    """
    site = connection.site_id
    if not _imports_expected(connection):
        return Health(NOT_IMPORTING, connection.detail, _connection_next_step(connection))
    if last_finished is not None and last_finished.status == sync_history.FAILED:
        when = describe_age(now - (last_finished.finished_at or last_finished.started_at))
        reason = f"The last import (run #{last_finished.id}, {when} ago) failed"
        reason += f": {last_finished.message}" if last_finished.message else "."
        return Health(
            FAILING,
            reason,
            "Read the run's message and its Airflow task log, fix the cause, then trigger "
            f"wonde_incremental_sync with the Param sites=['{site}'] (or wait for the daily "
            "run at 03:00 UTC).",
        )
    if last_success is None:
        if not directory_synced:
            step = (
                "Run the DAG wonde_schools_full_sync first: imports wait until the school "
                "directory has been synced."
            )
        else:
            step = (
                f"Trigger wonde_incremental_sync with the Param sites=['{site}'] (a site's first "
                "import is a full one), or wait for the daily run at 03:00 UTC."
            )
        return Health(STALE, "No import of this site has completed yet.", _stuck(last_import, step))
    done_at = last_success.finished_at or last_success.started_at
    age = now - done_at
    if age > stale_after:
        return Health(
            STALE,
            f"The last completed import (run #{last_success.id}) finished {describe_age(age)} "
            f"ago, more than the {_stale_hours(stale_after)} allowed.",
            _stuck(
                last_import,
                "Check in Airflow that wonde_incremental_sync is unpaused and its daily runs "
                f"succeed; trigger it with the Param sites=['{site}'] to catch up.",
            ),
        )
    return Health(
        OK, f"Last import completed {describe_age(age)} ago (run #{last_success.id}).", None
    )


def _stuck(last_import: sync_history.SyncRun | None, otherwise: str) -> str:
    """The next step, pointing at a run still processing when there is one."""
    if last_import is not None and last_import.status == sync_history.PROCESSING:
        return (
            f"Run #{last_import.id} has been processing since "
            f"{last_import.started_at:%Y-%m-%d %H:%M} UTC: check its task in Airflow; "
            f"if it is not running any more, clear it. Otherwise: {otherwise}"
        )
    return otherwise


def _imports_expected(connection: AccessStatus) -> bool:
    """Imports run only for connections that are enabled, approved and hold a school token."""
    return connection.state == APPROVED and bool(connection.enabled) and connection.has_school_token


def _connection_next_step(connection: AccessStatus) -> str:
    """What an admin does about a connection that gets no imports (where, and the CLI)."""
    state, site = connection.state, connection.site_id
    if state == NOT_CONNECTED:
        return (
            "Search for the school and request access on the site's configuration page "
            f"(or: python -m wonde_sync request-access {site} SCHOOL_ID ...)."
        )
    if state == PENDING:
        return (
            "Nothing to do here: the approval arrives by Wonde's webhook, or within the hour "
            "through wonde_connections_reconcile. Remind the school if it takes days."
        )
    if state == ALREADY_APPROVED:
        return (
            "Revoke & Re-request on the site's configuration page "
            f"(or: python -m wonde_sync revoke-and-rerequest {site}); the school then approves "
            "again and Wonde sends a new school token."
        )
    if state in (DECLINED, REVOKED):
        return (
            "Ask the school why, then request access again on the site's configuration page "
            f"(or: python -m wonde_sync request-access {site} SCHOOL_ID ...)."
        )
    # Approved with a token, so imports are off for this site.
    return f"Enable imports if this site should sync (or: python -m wonde_sync enable {site})."


def catalog_health(
    last_full_sync: FullSyncMetadata | None,
    last_finished: sync_history.SyncRun | None,
    *,
    now: datetime,
    stale_after: timedelta,
) -> Health:
    """The health of the school directory (rules in the module docstring)."""
    trigger = "Trigger the DAG wonde_schools_full_sync (it also runs weekly, Sunday 01:00 UTC)."
    if last_full_sync is None:
        reason = DIRECTORY_NOT_SYNCED + "."
        if last_finished is not None and last_finished.status == sync_history.FAILED:
            reason += f" The last attempt (run #{last_finished.id}) failed: {last_finished.message}"
        return Health(NEVER_SYNCED, reason, trigger)
    if (
        last_finished is not None
        and last_finished.status == sync_history.FAILED
        and last_finished.id != last_full_sync.sync_run_id
        and last_finished.started_at >= last_full_sync.started_at
    ):
        return Health(
            FAILING,
            f"The last catalog sync (run #{last_finished.id}) failed: {last_finished.message} "
            f"The catalog of {last_full_sync.finished_at:%Y-%m-%d %H:%M} UTC is still in use.",
            "Fix what the message says, then " + trigger[0].lower() + trigger[1:],
        )
    age = now - last_full_sync.finished_at
    if age > stale_after:
        return Health(
            STALE,
            f"The catalog is {describe_age(age)} old, more than the "
            f"{_stale_hours(stale_after)} allowed.",
            "Check in Airflow that wonde_schools_full_sync is unpaused and succeeding. " + trigger,
        )
    return Health(OK, f"Synced {describe_age(age)} ago.", None)
