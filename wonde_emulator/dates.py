"""Wonde date objects and the parsing of date query parameters.

Wonde serialises every timestamp as a PHP ``DateTime``::

    {"date": "2023-11-10 14:08:47.000000", "timezone_type": 3, "timezone": "UTC"}

``created_at``/``updated_at`` are UTC, dates of birth and other calendar dates are midnight in
``Europe/London``, and ``extended.audit_approved_at`` carries no microseconds.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

LONDON = "Europe/London"

# The synthetic world is generated relative to this fixed instant, so the same seed always
# yields the same timestamps, and all of them lie before any real start-up.
ANCHOR = datetime(2025, 9, 1, 6, 0, 0, tzinfo=UTC)

# An unencoded "+01:00" in a query string arrives as " 01:00" after form decoding.
_LOST_PLUS = re.compile(r"^(.*\d)\s(\d{2}(?::?\d{2})?)$")


def utc_now() -> datetime:
    """The current instant in UTC, truncated to whole seconds like Wonde's timestamps."""
    return datetime.now(UTC).replace(microsecond=0)


def from_epoch(seconds: int) -> datetime:
    """A UTC datetime from integer epoch seconds."""
    return datetime.fromtimestamp(seconds, UTC)


def timestamp(moment: datetime | None) -> dict | None:
    """A UTC timestamp as a Wonde date object with microseconds, or None."""
    if moment is None:
        return None
    moment = moment.astimezone(UTC)
    return {
        "date": moment.strftime("%Y-%m-%d %H:%M:%S.%f"),
        "timezone_type": 3,
        "timezone": "UTC",
    }


def timestamp_seconds(moment: datetime | None) -> dict | None:
    """A UTC timestamp as a Wonde date object without microseconds (audit_approved_at style)."""
    if moment is None:
        return None
    moment = moment.astimezone(UTC)
    return {"date": moment.strftime("%Y-%m-%d %H:%M:%S"), "timezone_type": 3, "timezone": "UTC"}


def calendar_date(day: date | None) -> dict | None:
    """A calendar date as a Wonde date object: midnight Europe/London, or None."""
    if day is None:
        return None
    return {
        "date": day.strftime("%Y-%m-%d") + " 00:00:00.000000",
        "timezone_type": 3,
        "timezone": LONDON,
    }


def parse_query_datetime(text: str) -> datetime:
    """Parse an ``updated_after``/``updated_before`` value into an aware UTC datetime.

    Accepts ``Y-m-d H:i:s`` (the official clients' format), ``Y-m-d`` and ISO-8601 with or
    without ``Z``/offset and fractional seconds. Values without a zone are taken as UTC.
    Raises ValueError for anything else.
    """
    value = text.strip()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        repaired = _LOST_PLUS.match(value)
        if not repaired:
            raise
        parsed = datetime.fromisoformat(f"{repaired.group(1)}+{repaired.group(2)}")
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def days_before(moment: datetime, days: int) -> date:
    """The calendar date ``days`` days before ``moment``."""
    return (moment - timedelta(days=days)).date()
