"""Reading Wonde's JSON objects: nested fields, text a database can hold, and date objects."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

#: Wonde's own zone: where a date object's zone cannot be read, its wall time is read here.
WONDE_TIMEZONE = "Europe/London"

#: PHP's abbreviated zones (``timezone_type`` 2) that no IANA name spells, as UTC offsets.
_ABBREVIATIONS = {"BST": "+01:00", "CEST": "+02:00", "EEST": "+03:00", "Z": "UTC"}

#: NUL and lone surrogates: valid JSON escapes that PostgreSQL (and UTF-8) cannot store.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def dig(record: Any, *path: str) -> Any:
    """The value at ``path`` in nested dicts, or None where any level is missing."""
    value = record
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def storable_text(value: str) -> str:
    """``value`` without NUL (dropped) and lone surrogates (each becomes U+FFFD)."""
    return _UNSTORABLE.sub(lambda m: "" if m.group() == "\x00" else "\ufffd", value)


def wonde_date(value: Any) -> pd.Timestamp | None:
    """A Wonde date object (``{"date", "timezone_type", "timezone"}``) as a UTC timestamp.

    A wall time that happens twice (clocks going back) is read as the first; one that never
    happens (clocks going forward) as the first instant after the gap. A zone this machine
    does not know is read as ``WONDE_TIMEZONE``, so that a calendar date keeps its day.
    """
    if not isinstance(value, dict) or not value.get("date"):
        return None
    zone = value.get("timezone") or "UTC"
    try:
        stamp = pd.Timestamp(value["date"])
    except (ValueError, TypeError):
        return None
    if stamp.tzinfo is not None:
        return stamp.tz_convert("UTC")
    zone = _ABBREVIATIONS.get(zone, zone) if isinstance(zone, str) else "UTC"
    for candidate in (zone, WONDE_TIMEZONE):
        try:
            local = stamp.tz_localize(candidate, ambiguous=True, nonexistent="shift_forward")
        except (KeyError, ValueError, TypeError):  # ZoneInfoNotFoundError is a KeyError
            continue
        return local.tz_convert("UTC")
    return None
