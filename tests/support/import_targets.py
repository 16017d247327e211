"""Import targets made by hand, for sites whose access rows a test does not write."""

from __future__ import annotations

import sqlalchemy as sa

from wonde_sync.core.database import table
from wonde_sync.school_access.import_targets import ImportTarget


def catalog_target(engine, site_id: str, school_id: str, token: str) -> ImportTarget:
    """``site_id``'s target for ``school_id``, with the region and time zone of its catalog row."""
    schools = table("wonde_schools")
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(schools.c.region_domain, schools.c.timezone).where(schools.c.id == school_id)
        ).first()
    return ImportTarget(site_id, school_id, token, *(row or (None, None)))
