"""CalmCompliance sites: the customers (usually one school each) that connect to Wonde."""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from wonde_sync.core.database import table

_SITE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class SiteError(ValueError):
    """A site that cannot be added or found."""


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
    sites = table("sites")
    with engine.begin() as conn:
        exists = conn.execute(sa.select(sites.c.site_id).where(sites.c.site_id == site_id)).first()
        if exists:
            raise SiteError(f"Site {site_id!r} already exists.")
        conn.execute(sa.insert(sites).values(site_id=site_id, name=name))


def require_site(engine: Engine, site_id: str) -> None:
    """Raise :class:`SiteError` unless ``site_id`` is a registered site."""
    sites = table("sites")
    with engine.connect() as conn:
        found = conn.execute(sa.select(sites.c.site_id).where(sites.c.site_id == site_id)).first()
    if found is None:
        raise SiteError(f"No site {site_id!r}.")
