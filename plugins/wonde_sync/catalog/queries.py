"""Reading the schools catalog: its size, the newest full sync, and search.

Search ranks exact URN, postcode prefix, name prefix, then name contains (at least 2
characters, at most 50 results) and shapes each result with what an admin needs to
recognise the school: address, URN, Local Authority code, establishment number, phase
and MIS. Nothing here needs pandas, so the API and the CLI stay light.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from wonde_sync.core import text_input
from wonde_sync.core.database import as_utc, table
from wonde_sync.core.vocabulary import DIRECTORY_NOT_SYNCED

MIN_SEARCH_CHARS = 2
SEARCH_HINT = "Try searching by name, postcode, or URN"


class SearchQueryError(ValueError):
    """A catalog search that cannot run (e.g. too short)."""


@dataclass(frozen=True)
class FullSyncMetadata:
    """The newest completed full sync: its start time is the incremental watermark."""

    sync_run_id: int
    started_at: datetime
    finished_at: datetime
    school_count: int
    dag_run_id: str | None


def catalog_count(engine: Engine) -> int:
    """Schools in the published catalog."""
    schools = table("wonde_schools")
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(schools)).scalar_one()


def latest_full_sync(engine: Engine) -> FullSyncMetadata | None:
    """The newest full-sync metadata, or None when the directory was never synced."""
    metadata = table("wonde_full_sync_metadata")
    with engine.connect() as conn:
        row = (
            conn.execute(sa.select(metadata).order_by(metadata.c.started_at.desc()).limit(1))
            .mappings()
            .first()
        )
    if row is None:
        return None
    return FullSyncMetadata(
        sync_run_id=row["sync_run_id"],
        started_at=as_utc(row["started_at"]),
        finished_at=as_utc(row["finished_at"]),
        school_count=row["school_count"],
        dag_run_id=row["dag_run_id"],
    )


#: Most results one search returns, and the longest query it accepts.
MAX_SEARCH_RESULTS = 50
MAX_SEARCH_CHARS = 100
# Typed or not, these do not change which school is meant: "St Mary's", "St Marys",
# "St Mary’s" and "St. Mary's" are the same search.
_IGNORED_IN_NAMES = ("'", "\u2019", "\u2018", "`", ".")


def _name_key(text: str) -> str:
    for char in _IGNORED_IN_NAMES:
        text = text.replace(char, "")
    return " ".join(text.lower().split())


def _like_literal(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(engine: Engine, query: str, limit: int = 20) -> list[dict]:
    """Search the catalog by name, postcode or URN, best matches first (at most 50).

    Ranking: exact URN, then postcode prefix, then name prefix, then name contains.
    Case, repeated spaces, spaces inside postcodes, apostrophes and full stops in names
    do not matter.
    """
    if query and text_input.has_control_characters(query):
        raise SearchQueryError(text_input.CONTROL_MESSAGE)
    text = " ".join((query or "").split())
    needle = _name_key(text)
    if len(needle) < MIN_SEARCH_CHARS:
        raise SearchQueryError(f"Enter at least {MIN_SEARCH_CHARS} characters to search")
    if len(text) > MAX_SEARCH_CHARS:
        raise SearchQueryError(f"Search with at most {MAX_SEARCH_CHARS} characters")
    limit = max(1, min(int(limit), MAX_SEARCH_RESULTS))
    schools = table("wonde_schools")
    name = sa.func.lower(schools.c.name)
    for char in _IGNORED_IN_NAMES:
        name = sa.func.replace(name, char, "")
    postcode = sa.func.replace(sa.func.upper(schools.c.postcode), " ", "")
    pc_needle = text.upper().replace(" ", "")
    urn_match = schools.c.urn == text
    postcode_match = postcode.like(f"{_like_literal(pc_needle)}%", escape="\\")
    prefix_match = name.like(f"{_like_literal(needle)}%", escape="\\")
    contains_match = name.like(f"%{_like_literal(needle)}%", escape="\\")
    rank = sa.case((urn_match, 0), (postcode_match, 1), (prefix_match, 2), else_=3).label("rank")
    stmt = (
        sa.select(schools, rank)
        .where(sa.or_(urn_match, postcode_match, contains_match))
        .order_by(rank, schools.c.name, schools.c.id)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(stmt).mappings()]


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

    Raises :class:`SearchQueryError` ("Enter at least 2 characters to search") for a
    shorter query. No match gives an empty list and the hint "Try searching by name,
    postcode, or URN".
    """
    rows = search(engine, query, limit=limit)
    results = tuple(_school_match(row) for row in rows)
    hint = None
    if not results:
        hint = SEARCH_HINT if catalog_count(engine) else DIRECTORY_NOT_SYNCED
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
