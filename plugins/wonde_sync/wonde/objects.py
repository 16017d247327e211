"""Reading Wonde's JSON objects: nested fields and Wonde's date objects."""

from __future__ import annotations

from typing import Any

import pandas as pd


def dig(record: Any, *path: str) -> Any:
    """The value at ``path`` in nested dicts, or None where any level is missing."""
    value = record
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def wonde_date(value: Any) -> pd.Timestamp | None:
    """A Wonde date object (``{"date", "timezone_type", "timezone"}``) as a UTC timestamp."""
    if not isinstance(value, dict) or not value.get("date"):
        return None
    try:
        stamp = pd.Timestamp(value["date"])
        return stamp.tz_localize(value.get("timezone") or "UTC").tz_convert("UTC")
    except (ValueError, TypeError):
        return None
