"""What the integration details show, as values: overview, Sync History pages, runs, issues.

Each has ``as_dict()``, the JSON form; the page renders the same objects. Codes keep the
product's words next to them (labels from :mod:`wonde_sync.core.vocabulary` and
:mod:`wonde_sync.core.sync_history`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from wonde_sync.catalog.queries import FullSyncMetadata
from wonde_sync.core import sync_history
from wonde_sync.core.vocabulary import (
    DIRECTORY_NOT_SYNCED,
    RECORD_TYPE_LABELS,
    reason_label,
    record_type_label,
)
from wonde_sync.monitoring.health import Health
from wonde_sync.monitoring.run_filters import RunFilters
from wonde_sync.school_access.status import AccessStatus


def iso(value: datetime | None) -> str | None:
    """A timestamp as ISO 8601 (None stays None)."""
    return value.isoformat() if value else None


def run_as_dict(run: sync_history.SyncRun | None) -> dict[str, Any] | None:
    """A Sync History row in JSON-ready form (None stays None)."""
    if run is None:
        return None
    return {
        "id": run.id,
        "site_id": run.site_id,
        "kind": run.kind,
        "kind_label": sync_history.kind_label(run.kind),
        "status": run.status,
        "run_type": run.run_type,
        "run_type_label": sync_history.run_type_label(run.run_type),
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "duration_seconds": None if run.duration is None else run.duration.total_seconds(),
        "duration_label": sync_history.duration_label(run),
        "window_start": iso(run.window_start),
        "window_end": iso(run.window_end),
        "window_label": sync_history.window_label(run),
        "counts": {name.removesuffix("_count"): n for name, n in run.counts.items()},
        "message": run.message,
        "dag_id": run.dag_id,
        "dag_run_id": run.dag_run_id,
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
            "record_type_label": record_type_label(self.record_type),
            "reason": self.reason,
            "reason_label": reason_label(self.reason),
            "count": self.count,
        }


def by_record_type(counts: Iterable[ReasonCount]) -> list[tuple[str, int, list[ReasonCount]]]:
    """Reason counts grouped by record type (staff first): (type, total, counts)."""
    groups: dict[str, list[ReasonCount]] = defaultdict(list)
    for c in counts:
        groups[c.record_type].append(c)
    order = list(RECORD_TYPE_LABELS) + sorted(set(groups) - set(RECORD_TYPE_LABELS))
    return [(t, sum(c.count for c in groups[t]), groups[t]) for t in order if t in groups]


@dataclass(frozen=True)
class CatalogOverview:
    """The school directory: newest completed full sync, size, age, newest run, health."""

    last_full_sync: FullSyncMetadata | None
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
                "started_at": iso(full.started_at),
                "finished_at": iso(full.finished_at),
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
            "generated_at": iso(self.generated_at),
            "stale_after_hours": self.stale_after.total_seconds() / 3600,
            "catalog": self.catalog.as_dict(),
            "sites": [s.as_dict() for s in self.sites],
        }


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
            "created_at": iso(self.created_at),
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
