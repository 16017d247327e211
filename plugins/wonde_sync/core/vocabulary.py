"""The product's words, in one place: record types, reason codes, labels, shared messages.

Codes are what the database stores and the API returns; labels are how the UI, the CLI
and Sync History messages say them. Every other module reads them from here.
"""

from __future__ import annotations

from datetime import timedelta

#: Kinds of person a site imports (``record_type`` in issues and counts).
EMPLOYEE = "employee"
STUDENT = "student"
RECORD_TYPE_LABELS = {EMPLOYEE: "Staff", STUDENT: "Pupils"}

#: ``personnel.source`` / ``pupils.source`` of the rows that imports own.
WONDE_SOURCE = "wonde"
#: What an import did to a person, as the change log records it.
CHANGE_ACTIONS = ("created", "updated", "archived", "reactivated", "linked")

#: Why a person is not (or no longer) in CalmCompliance, and what was wrong with a record.
REASON_LABELS = {
    "deleted_in_mis": "Deleted in the MIS",
    "suspended": "Suspended in the MIS",
    "archived": "Archived in the MIS",
    "left": "Left the school",
    "not_in_mis": "No longer listed by the MIS",
    "missing_id": "No Wonde id",
    "missing_name": "No name",
    "duplicate_id": "Listed twice in one run",
    "invalid_email": "Invalid email (imported without it)",
}

#: The same, shortened for lists that already say "not imported".
SHORT_REASON_LABELS = {
    "deleted_in_mis": "deleted in the MIS",
    "suspended": "suspended",
    "archived": "archived",
    "left": "left",
    "not_in_mis": "no longer in the MIS",
}

#: Said wherever the catalog is needed before any full sync completed.
DIRECTORY_NOT_SYNCED = "The school directory hasn't been synced yet"
RUN_FULL_SYNC_FIRST = "run the full schools catalog sync first"


def reason_label(reason: str) -> str:
    """A reason code in the product's words (the code itself when unknown)."""
    return REASON_LABELS.get(reason, reason.replace("_", " "))


def record_type_label(record_type: str) -> str:
    """A record type in the product's words ("Staff", "Pupils"; the code when unknown)."""
    return RECORD_TYPE_LABELS.get(record_type, record_type)


def short_reason_label(reason: str) -> str:
    """A filter reason in a few words (the full label when there is no short one)."""
    return SHORT_REASON_LABELS.get(reason) or reason_label(reason)


def describe_age(age: timedelta) -> str:
    """A duration as people say it: "less than a minute", "5 minutes", "2 days"."""
    seconds = max(0, int(age.total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            return f"{n} {unit}{'' if n == 1 else 's'}"
    return "less than a minute"
