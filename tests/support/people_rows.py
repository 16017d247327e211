"""A site's people as the tests read them back: every row, keyed by Wonde id."""

from __future__ import annotations

import sqlalchemy as sa

from wonde_sync.core.database import table

TARGETS = {"employee": "personnel", "student": "pupils"}


def people_rows(world, site_id: str, record_type: str = "employee") -> dict[str, dict]:
    """The site's ``personnel`` (or, for ``student``, ``pupils``) rows by ``external_id``."""
    t = table(TARGETS[record_type])
    with world.engine.connect() as conn:
        rows = conn.execute(sa.select(t).where(t.c.site_id == site_id)).mappings().all()
    return {r["external_id"]: dict(r) for r in rows}


def personnel(world, site_id: str) -> dict[str, dict]:
    """The site's staff rows by ``external_id``."""
    return people_rows(world, site_id)
