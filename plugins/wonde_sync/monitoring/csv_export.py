"""A run's record issues and changes as CSV, safe to open in a spreadsheet program."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

from wonde_sync.monitoring.views import RecordIssue, iso

CSV_COLUMNS = ("run_id", "site_id", "record_type", "external_id", "reason", "detail", "created_at")
# Spreadsheet programs run cells that start with these as formulas; MIS data is not trusted.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_STARTS):
        # A leading apostrophe makes spreadsheets show the text instead of evaluating it.
        return "'" + text
    return text


CHANGE_COLUMNS = (
    "run_id",
    "site_id",
    "record_type",
    "external_id",
    "person_id",
    "name",
    "action",
    "reason",
    "planned",
    "fields",
    "at",
)


def _lines(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values: Iterable[Any]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_csv_cell(v) for v in values])
        return buffer.getvalue()

    yield line(header)
    for row in rows:
        yield line(row)


def issues_csv(records: Iterable[RecordIssue]) -> Iterator[str]:
    """Record issues as CSV text, header first, one chunk per line."""
    return _lines(
        CSV_COLUMNS,
        (
            (
                r.run_id,
                r.site_id,
                r.record_type,
                r.external_id,
                r.reason,
                r.detail,
                iso(r.created_at),
            )
            for r in records
        ),
    )


def changes_csv(changes: Iterable) -> Iterator[str]:
    """A run's changes (``monitoring.changes.PersonChange``) as CSV text, header first; the
    fields that changed in one cell, ``field: before -> after; …``."""
    return _lines(
        CHANGE_COLUMNS,
        (
            (
                c.run_id,
                c.site_id,
                c.record_type,
                c.external_id,
                c.person_id,
                c.name,
                c.action,
                c.reason,
                c.planned,
                c.fields_text(),
                iso(c.at),
            )
            for c in changes
        ),
    )
