"""CalmCompliance sites (customers, usually one school each) and their Wonde connection."""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from wonde_sync.database import table

_SITE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class SiteError(ValueError):
    """A site that cannot be added or found."""


@dataclass(frozen=True)
class SiteStatus:
    """A site with the state of its connection to Wonde (None when never connected)."""

    site_id: str
    name: str
    school_id: str | None
    school_name: str | None
    connection_status: str | None
    enabled: bool | None


def add_site(engine: Engine, site_id: str, name: str) -> None:
    """Register a site; its id must be new and made of letters, digits, '.', '_' or '-'."""
    site_id = (site_id or "").strip()
    name = (name or "").strip()
    if not _SITE_ID.match(site_id):
        raise SiteError(
            f"Invalid site id {site_id!r}: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit."
        )
    if not name:
        raise SiteError("A site needs a name.")
    sites = table(engine, "sites")
    with engine.begin() as conn:
        exists = conn.execute(sa.select(sites.c.site_id).where(sites.c.site_id == site_id)).first()
        if exists:
            raise SiteError(f"Site {site_id!r} already exists.")
        conn.execute(sa.insert(sites).values(site_id=site_id, name=name))


def site_statuses(engine: Engine, site_id: str | None = None) -> list[SiteStatus]:
    """Every site (or one) with its connection and the school's catalog name."""
    sites = table(engine, "sites")
    connections = table(engine, "wonde_connections")
    schools = table(engine, "wonde_schools")
    query = (
        sa.select(
            sites.c.site_id,
            sites.c.name,
            connections.c.school_id,
            schools.c.name.label("school_name"),
            connections.c.status,
            connections.c.enabled,
        )
        .select_from(
            sites.outerjoin(connections, connections.c.site_id == sites.c.site_id).outerjoin(
                schools, schools.c.id == connections.c.school_id
            )
        )
        .order_by(sites.c.site_id)
    )
    if site_id is not None:
        query = query.where(sites.c.site_id == site_id)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    if site_id is not None and not rows:
        raise SiteError(f"No site {site_id!r}.")
    return [
        SiteStatus(
            site_id=r.site_id,
            name=r.name,
            school_id=r.school_id,
            school_name=r.school_name,
            connection_status=r.status,
            enabled=None if r.enabled is None else bool(r.enabled),
        )
        for r in rows
    ]
