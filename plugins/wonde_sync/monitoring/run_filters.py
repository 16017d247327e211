"""Sync History filters: site, status, kind and one page, checked before any query."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wonde_sync.core import sync_history, text_input

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
#: Far past any real history, and small enough that the row offset fits a BIGINT.
MAX_PAGE = 1_000_000


class DetailsQueryError(ValueError):
    """A Sync History filter or page that cannot be used (the message says which)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


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


def check_filters(
    *,
    site: str | None = None,
    status: str | None = None,
    kind: str | None = None,
    page: int | str | None = None,
    page_size: int | str | None = None,
) -> RunFilters:
    """Validate Sync History filters (blank means "any"); :class:`DetailsQueryError` if bad."""
    for name, value in (("site", site), ("status", status), ("kind", kind)):
        if value and text_input.has_control_characters(value):
            raise DetailsQueryError(name, text_input.CONTROL_MESSAGE)
    site = (site or "").strip() or None
    status = (status or "").strip() or None
    kind = (kind or "").strip() or None
    if status is not None:
        match = {s.lower(): s for s in sync_history.STATUSES}.get(status.lower())
        if match is None:
            choices = ", ".join(sync_history.STATUSES)
            raise DetailsQueryError("status", f"Choose a status among {choices}.")
        status = match
    if kind is not None and kind not in sync_history.KIND_LABELS:
        raise DetailsQueryError(
            "kind", f"Choose a kind among {', '.join(sync_history.KIND_LABELS)}."
        )
    return RunFilters(
        site=site,
        status=status,
        kind=kind,
        page=_positive("page", page, 1, MAX_PAGE),
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
