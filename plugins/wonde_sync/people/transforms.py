"""Transforms for Wonde staff (employees) and pupils (students), row by row.

Pure functions on plain rows (dicts): flatten Wonde objects, normalise names, emails and
dates, then decide per record whether it is imported, filtered out (and why) or rejected.
A page holds at most a few hundred people and an incremental import often one or two, so
plain Python is quicker here than building a frame for each page.

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
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from wonde_sync.core.vocabulary import EMPLOYEE, STUDENT
from wonde_sync.wonde.objects import WONDE_TIMEZONE, dig, storable_text, wonde_date

#: Columns of a transformed row that are staged and imported, in staging order.
PEOPLE_COLUMNS = ["external_id", "mis_id", "forename", "surname", "email", "year_group"]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

#: The time zone of a school whose Wonde record names none (every UK school).
DEFAULT_TIMEZONE = WONDE_TIMEZONE

log = logging.getLogger(__name__)


def today_in(timezone: str | None = None, now: datetime | None = None) -> datetime:
    """Midnight of the calendar day ``now`` (default: this instant) falls on in ``timezone``.

    ``timezone`` is an IANA name such as the school's (``None``, or a name this machine does
    not know, means DEFAULT_TIMEZONE). The answer is zone-aware, so that ``filter_reasons``
    compares dates in that zone.
    """
    zone = timezone or DEFAULT_TIMEZONE
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("Unknown time zone %r; using %s for today's date", zone, DEFAULT_TIMEZONE)
        tz = ZoneInfo(DEFAULT_TIMEZONE)
    moment = datetime.now(UTC) if now is None else now
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)


def before_day(stamp: datetime | None, today: datetime) -> bool:
    """Whether ``stamp`` falls on a calendar day before ``today``'s, in ``today``'s zone.

    A zone-naive ``today`` is read as UTC. A missing timestamp is not before.
    """
    if stamp is None:
        return False
    zone = today.tzinfo or UTC
    return stamp.astimezone(zone).date() < today.replace(tzinfo=zone).date()


@dataclass(frozen=True)
class FilterRule:
    """A reason to leave a person out of CalmCompliance, with the Wonde fields it reads."""

    reason: str
    record_types: tuple[str, ...]
    wonde_fields: str
    matches: Callable[[dict, datetime], bool]


FILTER_RULES: tuple[FilterRule, ...] = (
    FilterRule(
        "deleted_in_mis",
        (EMPLOYEE, STUDENT),
        "listed in GET /schools/{id}/deletions with restored_at null",
        lambda row, today: bool(row["deleted"]),
    ),
    FilterRule(
        "suspended",
        (EMPLOYEE, STUDENT),
        "employment_details.data.status / education_details.data.status == 'suspended'",
        lambda row, today: row["mis_status"] == "suspended",
    ),
    FilterRule(
        "archived",
        (EMPLOYEE, STUDENT),
        "employment_details.data.status / education_details.data.status == 'archived'",
        lambda row, today: row["mis_status"] == "archived",
    ),
    FilterRule(
        "left",
        (EMPLOYEE, STUDENT),
        "employment_details.data.current is false, or employment_end_date / "
        "education_details.data.leaving_date before today (calendar dates, school's zone)",
        # ``in (False,)``: False or 0, never None (not stated).
        lambda row, today: row["current"] in (False,) or before_day(row["end_date"], today),
    ),
)


def _email(emails: dict | None) -> str | None:
    """Work address first, then primary, then any other; blanks are skipped."""
    if not isinstance(emails, dict):
        return None
    given = [emails.get(key) for key in ("work", "primary", "email", "home")]
    return next((v for v in (*given, *emails.values()) if isinstance(v, str) and v.strip()), None)


def _clean_name(value) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = " ".join(unicodedata.normalize("NFC", storable_text(str(value))).split())
    return text or None


def _clean_email(value) -> str | None:
    if not isinstance(value, str):
        return None
    return storable_text(value).strip().lower() or None


def _person(record: dict, record_type: str) -> dict:
    details = "employment_details" if record_type == EMPLOYEE else "education_details"
    data = dig(record, details, "data") or {}
    end = data.get("employment_end_date") if record_type == EMPLOYEE else data.get("leaving_date")
    current = data.get("current") if record_type == EMPLOYEE else None
    return {
        "external_id": _clean_name(record.get("id")),
        "mis_id": _clean_name(record.get("mis_id")),
        "forename": _clean_name(record.get("forename")),
        "surname": _clean_name(record.get("surname")),
        "email": _clean_email(_email(dig(record, "contact_details", "data", "emails"))),
        "year_group": _clean_name(data.get("current_nc_year")) if record_type == STUDENT else None,
        "mis_status": (data.get("status") or "").lower() or None,
        "current": current,
        "end_date": wonde_date(end),
        "updated_at": wonde_date(record.get("updated_at")),
        "deleted": False,
    }


def people_rows(records: list[dict], record_type: str) -> list[dict]:
    """Flatten and normalise Wonde employees or students: one row per record."""
    return [_person(r, record_type) for r in records]


def deletion_rows(records: list[dict], record_type: str) -> list[dict]:
    """People Wonde reports deleted and not restored (``restored_at`` null)."""
    return [
        {
            "external_id": r["id"],
            "mis_id": r.get("mis_id"),
            "forename": None,
            "surname": None,
            "email": None,
            "year_group": None,
            "mis_status": None,
            "current": None,
            "end_date": None,
            "updated_at": None,
            "deleted": True,
        }
        for r in records
        if r.get("id")
        and not r.get("restored_at")
        # The feed is read per type, so an entry that names none is of the type asked for.
        and (r.get("type") or record_type) == record_type
    ]


def filter_reasons(rows: list[dict], record_type: str, today: datetime) -> list[str]:
    """Per row, the reason code of the first matching rule, or "" when it is imported.

    ``today`` is the school's day, best from ``today_in(school_timezone)``.
    """
    rules = [r for r in FILTER_RULES if record_type in r.record_types]
    return [next((r.reason for r in rules if r.matches(row, today)), "") for row in rows]


def rejection_reasons(rows: list[dict], seen_ids: set[str]) -> list[str]:
    """Per row, why it cannot be imported at all ("" when it can).

    ``seen_ids`` carries the ids met earlier in the same run, so that a person listed twice
    (e.g. when pages shift while being read) is imported once.
    """
    reasons = []
    for row in rows:
        ext_id = row["external_id"]
        if not ext_id:
            reasons.append("missing_id")
        elif ext_id in seen_ids:
            reasons.append("duplicate_id")
        elif not row["deleted"] and not row["forename"] and not row["surname"]:
            reasons.append("missing_name")
        else:
            reasons.append("")
        if ext_id:
            seen_ids.add(ext_id)
    return reasons


def invalid_email(email: str | None) -> bool:
    """Whether an email is present but not an address (the person is imported without one)."""
    return isinstance(email, str) and not _EMAIL.match(email)


def content_hash(row: dict) -> str:
    """A fingerprint of the imported fields, so unchanged people are not rewritten."""
    text = "\x1f".join("" if row[c] is None else str(row[c]) for c in PEOPLE_COLUMNS[1:])
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()
