"""Searching the schools catalog from Settings > Integrations.

Wraps :func:`wonde_sync.catalog.search` (ranking: exact URN, postcode prefix, name prefix,
name contains; at least 2 characters; at most 50 results) and shapes each result with what
an admin needs to recognise the school: address, URN, Local Authority code, establishment
number, phase and MIS.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

SEARCH_HINT = "Try searching by name, postcode, or URN"
CATALOG_EMPTY_HINT = "The school directory hasn't been synced yet"


@dataclass(frozen=True)
class SchoolMatch:
    """One catalog search result, with what an admin needs to recognise the school."""

    school_id: str
    name: str
    address: str
    urn: str | None
    la_code: str | None
    establishment_number: str | None
    phase: str | None
    mis: str | None
    postcode: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class SchoolSearch:
    """Search results, best first; ``hint`` says what to try when there are none."""

    query: str
    results: tuple[SchoolMatch, ...]
    hint: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "query": self.query,
            "results": [r.as_dict() for r in self.results],
            "hint": self.hint,
        }


def search_schools(engine: Engine, query: str, limit: int = 20) -> SchoolSearch:
    """Search the catalog by name, postcode or URN (at least 2 characters), best first.

    Raises ``catalog.SearchQueryError`` ("Enter at least 2 characters to search") for a
    shorter query. No match gives an empty list and the hint "Try searching by name,
    postcode, or URN".
    """
    from wonde_sync import catalog  # pandas: loaded only when searching

    rows = catalog.search(engine, query, limit=limit)
    results = tuple(_school_match(row) for row in rows)
    hint = None
    if not results:
        hint = SEARCH_HINT if catalog.catalog_count(engine) else CATALOG_EMPTY_HINT
    return SchoolSearch(query=" ".join((query or "").split()), results=results, hint=hint)


def _school_match(row: Mapping[str, Any]) -> SchoolMatch:
    parts = (row["address_line_1"], row["address_line_2"], row["address_town"], row["postcode"])
    return SchoolMatch(
        school_id=row["id"],
        name=row["name"],
        address=", ".join(p for p in parts if p),
        urn=row["urn"],
        la_code=row["la_code"],
        establishment_number=row["establishment_number"],
        phase=row["phase_of_education"],
        mis=row["mis"],
        postcode=row["postcode"],
    )
