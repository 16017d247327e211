"""Pandas transforms for Wonde staff (employees) and pupils (students).

Pure functions on DataFrames: flatten Wonde objects, normalise names, emails and dates,
then decide per record whether it is imported, filtered out (and why) or rejected.

The rules that filter people out are one declarative table, ``FILTER_RULES``; the first
rule that matches a record gives its reason code. Wonde has no status field on a person:
``suspended``/``archived`` are read from ``employment_details.data.status`` (staff) and
``education_details.data.status`` (pupils), an assumption this integration makes and its
emulator follows; leavers are read from ``employment_details.data.current`` /
``employment_end_date`` and ``education_details.data.leaving_date``.

Leaving and end dates are calendar dates (Wonde sends them as midnight ``Europe/London``), so
they are compared with the school's "today" as calendar dates in the school's time zone
(``today_in``): someone whose last day is today has not left yet, whatever UTC says.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from wonde_sync.core.vocabulary import EMPLOYEE, STUDENT
from wonde_sync.wonde.objects import WONDE_TIMEZONE, dig, storable_text, wonde_date

#: Columns of a transformed frame, in staging order.
PEOPLE_COLUMNS = ["external_id", "mis_id", "forename", "surname", "email", "year_group"]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

#: The time zone of a school whose Wonde record names none (every UK school).
DEFAULT_TIMEZONE = WONDE_TIMEZONE

log = logging.getLogger(__name__)


def today_in(timezone: str | None = None, now: datetime | None = None) -> pd.Timestamp:
    """Midnight of the calendar day ``now`` (default: this instant) falls on in ``timezone``.

    ``timezone`` is an IANA name such as the school's (``None``, or a name this machine does
    not know, means DEFAULT_TIMEZONE). The answer is zone-aware, so that ``filter_reasons``
    compares dates in that zone.
    """
    zone = timezone or DEFAULT_TIMEZONE
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("Unknown time zone %r; using %s for today's date", zone, DEFAULT_TIMEZONE)
        zone = DEFAULT_TIMEZONE
    moment = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    if moment.tzinfo is None:
        moment = moment.tz_localize("UTC")
    return moment.tz_convert(zone).normalize()


def before_day(stamps: pd.Series, today: pd.Timestamp) -> pd.Series:
    """Whether each timestamp falls on a calendar day before ``today``'s, in ``today``'s zone.

    A zone-naive ``today`` is read as UTC. Missing timestamps are not before.
    """
    today = pd.Timestamp(today)
    if today.tzinfo is None:
        today = today.tz_localize("UTC")
    stamps = pd.to_datetime(stamps, utc=True)
    days = stamps.dt.tz_convert(today.tzinfo).dt.normalize()
    return (days < today.normalize()).fillna(False).astype(bool)


@dataclass(frozen=True)
class FilterRule:
    """A reason to leave a person out of CalmCompliance, with the Wonde fields it reads."""

    reason: str
    record_types: tuple[str, ...]
    wonde_fields: str
    matches: Callable[[pd.DataFrame, pd.Timestamp], pd.Series]


FILTER_RULES: tuple[FilterRule, ...] = (
    FilterRule(
        "deleted_in_mis",
        (EMPLOYEE, STUDENT),
        "listed in GET /schools/{id}/deletions with restored_at null",
        lambda f, today: f["deleted"].astype(bool),
    ),
    FilterRule(
        "suspended",
        (EMPLOYEE, STUDENT),
        "employment_details.data.status / education_details.data.status == 'suspended'",
        lambda f, today: f["mis_status"].eq("suspended"),
    ),
    FilterRule(
        "archived",
        (EMPLOYEE, STUDENT),
        "employment_details.data.status / education_details.data.status == 'archived'",
        lambda f, today: f["mis_status"].eq("archived"),
    ),
    FilterRule(
        "left",
        (EMPLOYEE, STUDENT),
        "employment_details.data.current is false, or employment_end_date / "
        "education_details.data.leaving_date before today (calendar dates, school's zone)",
        lambda f, today: f["current"].eq(False) | before_day(f["end_date"], today),
    ),
)


def _email(emails: dict | None) -> str | None:
    """Work address first, then primary, then any other; blanks are skipped."""
    if not isinstance(emails, dict):
        return None
    given = [emails.get(key) for key in ("work", "primary", "email", "home")]
    return next((v for v in (*given, *emails.values()) if isinstance(v, str) and v.strip()), None)


def _flatten(record: dict, record_type: str) -> dict:
    details = "employment_details" if record_type == EMPLOYEE else "education_details"
    data = dig(record, details, "data") or {}
    end = data.get("employment_end_date") if record_type == EMPLOYEE else data.get("leaving_date")
    return {
        "external_id": record.get("id"),
        "mis_id": record.get("mis_id"),
        "forename": record.get("forename"),
        "surname": record.get("surname"),
        "email": _email(dig(record, "contact_details", "data", "emails")),
        "year_group": data.get("current_nc_year") if record_type == STUDENT else None,
        "mis_status": (data.get("status") or "").lower() or None,
        "current": data.get("current") if record_type == EMPLOYEE else None,
        "end_date": wonde_date(end),
        "updated_at": wonde_date(record.get("updated_at")),
        "deleted": False,
    }


def _clean_name(value) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = " ".join(unicodedata.normalize("NFC", storable_text(str(value))).split())
    return text or None


def _clean_email(value) -> str | None:
    if not isinstance(value, str):
        return None
    return storable_text(value).strip().lower() or None


def _text(series: pd.Series) -> pd.Series:
    """Text with None for missing, whatever dtype pandas inferred."""
    return series.astype(object).where(series.notna(), None)


def people_frame(records: list[dict], record_type: str) -> pd.DataFrame:
    """Flatten and normalise Wonde employees or students."""
    frame = pd.DataFrame([_flatten(r, record_type) for r in records])
    if frame.empty:
        frame = pd.DataFrame(
            columns=[*PEOPLE_COLUMNS, "mis_status", "current", "end_date", "updated_at", "deleted"]
        )
    for column in ("external_id", "mis_id", "forename", "surname", "year_group"):
        frame[column] = _text(frame[column].map(_clean_name))
    frame["email"] = _text(frame["email"].map(_clean_email))
    frame["end_date"] = pd.to_datetime(frame["end_date"], utc=True)
    frame["current"] = frame["current"].astype(object)
    return frame


def deletions_frame(records: list[dict], record_type: str) -> pd.DataFrame:
    """People Wonde reports deleted and not restored (``restored_at`` null)."""
    kept = [
        r
        for r in records
        if r.get("id")
        and not r.get("restored_at")
        # The feed is read per type, so an entry that names none is of the type asked for.
        and (r.get("type") or record_type) == record_type
    ]
    frame = pd.DataFrame(
        {
            "external_id": [r["id"] for r in kept],
            "mis_id": [r.get("mis_id") for r in kept],
        },
        dtype=object,
    )
    for column in ("forename", "surname", "email", "year_group", "mis_status", "current"):
        frame[column] = None
    frame["end_date"] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
    frame["updated_at"] = None
    frame["deleted"] = True
    return frame


def filter_reasons(frame: pd.DataFrame, record_type: str, today: pd.Timestamp) -> pd.Series:
    """Per record, the reason code of the first matching rule, or "" when it is imported.

    ``today`` is the school's day, best from ``today_in(school_timezone)``.
    """
    rules = [r for r in FILTER_RULES if record_type in r.record_types]
    if frame.empty:
        return pd.Series([], dtype=object)
    conditions = [rule.matches(frame, today).to_numpy(dtype=bool) for rule in rules]
    return pd.Series(
        np.select(conditions, [r.reason for r in rules], default=""), index=frame.index
    )


def rejection_reasons(frame: pd.DataFrame, seen_ids: set[str]) -> pd.Series:
    """Per record, why it cannot be imported at all ("" when it can).

    ``seen_ids`` carries the ids met earlier in the same run, so that a person listed twice
    (e.g. when pages shift while being read) is imported once.
    """
    reasons = []
    for ext_id, forename, surname, deleted in zip(
        frame["external_id"], frame["forename"], frame["surname"], frame["deleted"], strict=True
    ):
        if not ext_id:
            reasons.append("missing_id")
        elif ext_id in seen_ids:
            reasons.append("duplicate_id")
        elif not deleted and not forename and not surname:
            reasons.append("missing_name")
        else:
            reasons.append("")
        if ext_id:
            seen_ids.add(ext_id)
    return pd.Series(reasons, index=frame.index, dtype=object)


def invalid_emails(frame: pd.DataFrame) -> pd.Series:
    """Emails that are present but not an address (the person is imported without one)."""
    return frame["email"].map(lambda e: isinstance(e, str) and not _EMAIL.match(e)).astype(bool)


def content_hash(frame: pd.DataFrame) -> pd.Series:
    """A fingerprint of the imported fields, so unchanged people are not rewritten."""

    def digest(row) -> str:
        text = "\x1f".join("" if v is None else str(v) for v in row)
        return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()

    return pd.Series(
        [digest(row) for row in frame[PEOPLE_COLUMNS[1:]].itertuples(index=False, name=None)],
        index=frame.index,
        dtype=object,
    )
