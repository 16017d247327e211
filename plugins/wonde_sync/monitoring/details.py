"""Wonde integration details: the catalog, each site's imports and health, Sync History.

What data engineers and support staff read to answer "why did fewer users arrive than
expected?", "why did this sync fail?" and "was the school directory ever synced?". The
Airflow UI page and its JSON endpoints (:mod:`wonde_sync.web.ui`) only present what this
module computes.

Health of a site (:func:`site_health`, first rule that applies):

1. **Not importing**: the connection is not enabled + approved + holding a school token
   (not connected, pending, declined, revoked, School Already Approved, disabled); the next
   step comes from the connection's state.
2. **Failing**: the newest finished import of the site ended ``Failed``.
3. **Stale**: no import completed within ``WONDE_STALE_AFTER_HOURS`` (default 36: the daily
   sync at 03:00 UTC plus a working day of slack), or none ever did.
4. **OK** otherwise.

The catalog (school directory) is *never synced*, *failing* (its newest finished run
failed), *stale* (older than ``WONDE_CATALOG_STALE_AFTER_HOURS``, default 192: the weekly
full sync plus a day) or *OK*.

Visibility: ``site_ids=None`` means every site (an Airflow user); a list restricts sites,
imports and their runs to those sites (a service-token caller sees the sites it
administers). Catalog runs concern no site and are visible to every authenticated caller,
like the catalog search.
"""

from __future__ import annotations

import csv
import io
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from wonde_sync.catalog import queries
from wonde_sync.core import sync_history
from wonde_sync.core.database import as_utc, table, utcnow
from wonde_sync.core.vocabulary import (
    DIRECTORY_NOT_SYNCED,
    EMPLOYEE,
    RECORD_TYPE_LABELS,
    STUDENT,
    WONDE_SOURCE,
    describe_age,
    reason_label,
)
from wonde_sync.school_access.status import (
    ALREADY_APPROVED,
    APPROVED,
    DECLINED,
    NOT_CONNECTED,
    PENDING,
    REVOKED,
    AccessStatus,
    read_statuses,
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

IMPORT_KINDS = (sync_history.FULL_IMPORT, sync_history.INCREMENTAL_IMPORT)
STATUSES = (sync_history.COMPLETED, sync_history.PROCESSING, sync_history.FAILED)
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
#: Record issues shown inline with a run; the CSV download has all of them.
DEFAULT_ISSUE_LIMIT = 200
CSV_COLUMNS = ("run_id", "site_id", "record_type", "external_id", "reason", "detail", "created_at")
# Spreadsheet programs run cells that start with these as formulas; MIS data is not trusted.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class DetailsQueryError(ValueError):
    """A Sync History filter or page that cannot be used (the message says which)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


# --------------------------------------------------------------------------- settings


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


# --------------------------------------------------------------------------- results


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


@dataclass(frozen=True)
class ReasonCount:
    """How many records of one type one reason accounts for."""

    record_type: str
    reason: str
    count: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, with the product's words for type and reason."""
        return {
            "record_type": self.record_type,
            "record_type_label": RECORD_TYPE_LABELS.get(self.record_type, self.record_type),
            "reason": self.reason,
            "reason_label": reason_label(self.reason),
            "count": self.count,
        }


@dataclass(frozen=True)
class CatalogOverview:
    """The school directory: newest completed full sync, size, age, newest run, health."""

    last_full_sync: queries.FullSyncMetadata | None
    school_count: int
    age: timedelta | None
    last_run: sync_history.SyncRun | None
    health: Health

    @property
    def warning(self) -> str | None:
        """The warning shown when the directory was never synced."""
        return DIRECTORY_NOT_SYNCED if self.last_full_sync is None else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        full = self.last_full_sync
        return {
            "synced": full is not None,
            "warning": self.warning,
            "last_full_sync": None
            if full is None
            else {
                "run_id": full.sync_run_id,
                "started_at": _iso(full.started_at),
                "finished_at": _iso(full.finished_at),
                "school_count": full.school_count,
                "dag_run_id": full.dag_run_id,
            },
            "school_count": self.school_count,
            "age_seconds": None if self.age is None else int(self.age.total_seconds()),
            "last_run": run_as_dict(self.last_run),
            "health": self.health.as_dict(),
        }


@dataclass(frozen=True)
class SiteOverview:
    """One site: its connection, latest imports, people, filtered counts, health."""

    connection: AccessStatus
    last_import: sync_history.SyncRun | None
    last_success: sync_history.SyncRun | None
    active_staff: int
    active_pupils: int
    #: Filtered out by the newest completed import (``last_success``), by reason.
    filtered: tuple[ReasonCount, ...]
    #: Wonde people archived in CalmCompliance now, by the reason they were archived.
    archived: tuple[ReasonCount, ...]
    health: Health

    @property
    def site_id(self) -> str:
        """The site's id."""
        return self.connection.site_id

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        c = self.connection
        return {
            "site_id": c.site_id,
            "site_name": c.site_name,
            "school_id": c.school_id,
            "school_name": c.school_name,
            "connection": {
                "state": c.state,
                "label": c.label,
                "detail": c.detail,
                "actions": list(c.actions),
            },
            "enabled": c.enabled,
            "last_import": run_as_dict(self.last_import),
            "last_success": run_as_dict(self.last_success),
            "active_staff": self.active_staff,
            "active_pupils": self.active_pupils,
            "filtered": [r.as_dict() for r in self.filtered],
            "archived": [r.as_dict() for r in self.archived],
            "health": self.health.as_dict(),
        }


@dataclass(frozen=True)
class Overview:
    """The whole integration as one caller may see it."""

    generated_at: datetime
    stale_after: timedelta
    catalog: CatalogOverview
    sites: tuple[SiteOverview, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "generated_at": _iso(self.generated_at),
            "stale_after_hours": self.stale_after.total_seconds() / 3600,
            "catalog": self.catalog.as_dict(),
            "sites": [s.as_dict() for s in self.sites],
        }


@dataclass(frozen=True)
class RunFilters:
    """A Sync History query: optional site, status and kind, one page."""

    site: str | None = None
    status: str | None = None
    kind: str | None = None
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class RunPage:
    """One page of Sync History, newest first, with the total for the filters."""

    runs: tuple[sync_history.SyncRun, ...]
    filters: RunFilters
    total: int
    site_names: dict[str, str] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        """How many pages the filters give (at least 1)."""
        return max(1, -(-self.total // self.filters.page_size))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "data": [
                {**run_as_dict(r), "site_name": self.site_names.get(r.site_id or "")}
                for r in self.runs
            ],
            "filters": self.filters.as_dict(),
            "total": self.total,
            "pages": self.pages,
        }


@dataclass(frozen=True)
class RecordIssue:
    """A record a run rejected, or imported with a correction (``wonde_sync_issues``)."""

    run_id: int
    site_id: str | None
    record_type: str
    external_id: str | None
    reason: str
    detail: str | None
    created_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "run_id": self.run_id,
            "site_id": self.site_id,
            "record_type": self.record_type,
            "external_id": self.external_id,
            "reason": self.reason,
            "reason_label": reason_label(self.reason),
            "detail": self.detail,
            "created_at": _iso(self.created_at),
        }


@dataclass(frozen=True)
class RunDetail:
    """One run with its filtered counts by reason and its record issues."""

    run: sync_history.SyncRun
    site_name: str | None
    filtered: tuple[ReasonCount, ...]
    issues: tuple[RecordIssue, ...]
    issues_total: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (``issues`` holds the first ones; the CSV has them all)."""
        return {
            **run_as_dict(self.run),
            "site_name": self.site_name,
            "filtered": [r.as_dict() for r in self.filtered],
            "issues": [r.as_dict() for r in self.issues],
            "issues_total": self.issues_total,
        }


def by_record_type(counts: Iterable[ReasonCount]) -> list[tuple[str, int, list[ReasonCount]]]:
    """Reason counts grouped by record type (staff first): (type, total, counts)."""
    groups: dict[str, list[ReasonCount]] = defaultdict(list)
    for c in counts:
        groups[c.record_type].append(c)
    order = list(RECORD_TYPE_LABELS) + sorted(set(groups) - set(RECORD_TYPE_LABELS))
    return [(t, sum(c.count for c in groups[t]), groups[t]) for t in order if t in groups]


def kind_label(kind: str) -> str:
    """A Sync History kind in the product's words."""
    return sync_history.KIND_LABELS.get(kind, kind.replace("_", " "))


def run_as_dict(run: sync_history.SyncRun | None) -> dict[str, Any] | None:
    """A Sync History row in JSON-ready form (None stays None)."""
    if run is None:
        return None
    return {
        "id": run.id,
        "site_id": run.site_id,
        "kind": run.kind,
        "kind_label": kind_label(run.kind),
        "status": run.status,
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "counts": {name.removesuffix("_count"): n for name, n in run.counts.items()},
        "message": run.message,
        "dag_id": run.dag_id,
        "dag_run_id": run.dag_run_id,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# --------------------------------------------------------------------------- health rules


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
    last_full_sync: queries.FullSyncMetadata | None,
    last_finished: sync_history.SyncRun | None,
    *,
    now: datetime,
    stale_after: timedelta,
) -> Health:
    """The health of the school directory (see the module docstring for the rules)."""
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


# --------------------------------------------------------------------------- queries


def _runs_by_id(conn, runs: sa.Table, ids: Iterable[int | None]) -> dict[int, sync_history.SyncRun]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = conn.execute(sa.select(runs).where(runs.c.id.in_(wanted))).mappings()
    return {row["id"]: sync_history.run_from_row(row) for row in rows}


def _reason_counts(conn, engine: Engine, run_ids: Sequence[int]) -> dict[int, list[ReasonCount]]:
    found: dict[int, list[ReasonCount]] = defaultdict(list)
    if not run_ids:
        return found
    reasons = table(engine, "wonde_sync_run_reasons")
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


def _of_sites(column: sa.Column, site_ids: list[str] | None):
    # Every site needs no IN list, which would grow with the number of customers.
    return column.is_not(None) if site_ids is None else column.in_(site_ids)


def _people_counts(conn, engine: Engine, site_ids: list[str] | None):
    """Per site: active Wonde people by type, and archived Wonde people by type and reason."""
    active: dict[tuple[str, str], int] = {}
    archived: dict[str, list[ReasonCount]] = defaultdict(list)
    if site_ids == []:
        return active, archived
    for record_type, name in ((EMPLOYEE, "personnel"), (STUDENT, "pupils")):
        people = table(engine, name)
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
    stale_after = stale_after or stale_after_from_env()
    catalog_stale_after = catalog_stale_after or catalog_stale_after_from_env()
    connections = read_statuses(engine, site_ids)
    visible = None if site_ids is None else [c.site_id for c in connections]
    runs = table(engine, "wonde_sync_runs")
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
                .where(_of_sites(runs.c.site_id, visible), runs.c.kind.in_(IMPORT_KINDS))
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
        filtered = _reason_counts(conn, engine, [r.success_id for r in newest if r.success_id])
        active, archived = _people_counts(conn, engine, visible)
    full = queries.latest_full_sync(engine)
    catalog_view = CatalogOverview(
        last_full_sync=full,
        school_count=queries.catalog_count(engine),
        age=None if full is None else now - full.finished_at,
        last_run=by_id.get(catalog_last_id),
        health=catalog_health(
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
                health=site_health(
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


def _visible_runs(runs: sa.Table, site_ids: Iterable[str] | None):
    """Which runs a caller may read: all, or those of its sites plus catalog runs."""
    if site_ids is None:
        return sa.true()
    return sa.or_(runs.c.site_id.in_(list(site_ids)), runs.c.site_id.is_(None))


def check_filters(
    *,
    site: str | None = None,
    status: str | None = None,
    kind: str | None = None,
    page: int | str | None = None,
    page_size: int | str | None = None,
) -> RunFilters:
    """Validate Sync History filters (blank means "any"); :class:`DetailsQueryError` if bad."""
    site = (site or "").strip() or None
    status = (status or "").strip() or None
    kind = (kind or "").strip() or None
    if status is not None:
        match = {s.lower(): s for s in STATUSES}.get(status.lower())
        if match is None:
            raise DetailsQueryError("status", f"Choose a status among {', '.join(STATUSES)}.")
        status = match
    if kind is not None and kind not in sync_history.KIND_LABELS:
        raise DetailsQueryError(
            "kind", f"Choose a kind among {', '.join(sync_history.KIND_LABELS)}."
        )
    return RunFilters(
        site=site,
        status=status,
        kind=kind,
        page=_positive("page", page, 1, None),
        page_size=_positive("page_size", page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE),
    )


def _positive(name: str, value: int | str | None, default: int, most: int | None) -> int:
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise DetailsQueryError(name, f"{name} must be a whole number.") from None
    if number < 1 or (most is not None and number > most):
        limit = f"between 1 and {most}" if most else "1 or more"
        raise DetailsQueryError(name, f"{name} must be {limit}.")
    return number


def list_runs(
    engine: Engine, filters: RunFilters, *, site_ids: Iterable[str] | None = None
) -> RunPage:
    """One page of Sync History, newest first, for the filters and the caller's sites."""
    site_ids = None if site_ids is None else list(site_ids)
    runs = table(engine, "wonde_sync_runs")
    conditions = [_visible_runs(runs, site_ids)]
    if filters.site is not None:
        conditions.append(runs.c.site_id == filters.site)
    if filters.status is not None:
        conditions.append(runs.c.status == filters.status)
    if filters.kind is not None:
        conditions.append(runs.c.kind == filters.kind)
    sites = table(engine, "sites")
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
    runs = table(engine, "wonde_sync_runs")
    issues = table(engine, "wonde_sync_issues")
    sites = table(engine, "sites")
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
        filtered = _reason_counts(conn, engine, [run_id]).get(run_id, [])
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
    issues = table(engine, "wonde_sync_issues")
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


def _csv_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_STARTS):
        # A leading apostrophe makes spreadsheets show the text instead of evaluating it.
        return "'" + text
    return text


def issues_csv(records: Iterable[RecordIssue]) -> Iterator[str]:
    """Record issues as CSV text, header first, one chunk per line."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values: Iterable[Any]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_csv_cell(v) for v in values])
        return buffer.getvalue()

    yield line(CSV_COLUMNS)
    for r in records:
        yield line(
            (
                r.run_id,
                r.site_id,
                r.record_type,
                r.external_id,
                r.reason,
                r.detail,
                _iso(r.created_at),
            )
        )
