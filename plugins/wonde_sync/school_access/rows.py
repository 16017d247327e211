"""The ``wonde_connections`` rows that hold sites' access, and the one way to change them.

Every change goes through :func:`write` (or :func:`insert`, for a site's first request): the
row changes only if it is still at the ``lifecycle_version`` read, the version goes up by
one, and ``wonde_connection_history`` gains a row saying what changed, from which state to
which, and who changed it.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from wonde_sync.core.database import table, utcnow
from wonde_sync.school_access.errors import ConcurrentChangeError
from wonde_sync.school_access.status import APPROVED, PENDING, state_of

log = logging.getLogger(__name__)

#: The states in which a school is held by a site; one site at a time.
ACTIVE = (PENDING, APPROVED)

#: Who made a change (``wonde_connection_history.source``).
SOURCE_API = "api"
SOURCE_CLI = "cli"
SOURCE_WEBHOOK = "webhook"
SOURCE_RECONCILE = "reconcile"

#: The values that drop a site's school token.
NO_TOKEN = {"school_token_ciphertext": None, "token_received_at": None}


def read(conn: Connection, site_id: str, *, lock: bool = True) -> dict | None:
    """The access row of ``site_id``, locked for update unless ``lock`` is False; None if none."""
    accesses = table("wonde_connections")
    query = sa.select(accesses).where(accesses.c.site_id == site_id)
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def site_exists(conn: Connection, site_id: str) -> bool:
    """Whether ``site_id`` is a registered site."""
    sites = table("sites")
    found = conn.execute(sa.select(sites.c.site_id).where(sites.c.site_id == site_id)).first()
    return found is not None


def school_name(conn: Connection, school_id: str) -> str | None:
    """The catalog name of ``school_id``; None when the catalog does not list it."""
    schools = table("wonde_schools")
    return conn.execute(sa.select(schools.c.name).where(schools.c.id == school_id)).scalar()


def for_school(conn: Connection, school_id: str) -> list[dict]:
    """The access rows a Wonde event about ``school_id`` concerns, locked for update.

    The active one (pending or approved) when there is one; otherwise the site that asked
    for the school most recently, e.g. a declined request the school later approves.
    """
    accesses = table("wonde_connections")
    found = [
        dict(row)
        for row in conn.execute(
            sa.select(accesses)
            .where(accesses.c.school_id == school_id)
            .order_by(accesses.c.requested_at.desc(), accesses.c.site_id)
            .with_for_update()
        ).mappings()
    ]
    active = [row for row in found if row["status"] in ACTIVE]
    if active:
        return active
    requested = [row for row in found if row["requested_at"] is not None]
    return (requested or found)[:1]


def write(
    conn: Connection,
    row: dict,
    *,
    change: str,
    source: str,
    actor: str | None = None,
    detail: str | None = None,
    **values: Any,
) -> dict:
    """Update an access row if it is still at the version read; journal the change.

    Raises :class:`ConcurrentChangeError` when the row changed since it was read. Returns
    the row as written.
    """
    accesses = table("wonde_connections")
    now = utcnow()
    values["updated_at"] = now
    if "status" in values and values["status"] != row["status"]:
        values["status_changed_at"] = now
    values["lifecycle_version"] = row["lifecycle_version"] + 1
    updated = conn.execute(
        sa.update(accesses)
        .where(
            accesses.c.site_id == row["site_id"],
            accesses.c.lifecycle_version == row["lifecycle_version"],
        )
        .values(**values)
    ).rowcount
    if updated != 1:
        raise changed_meanwhile(row["site_id"])
    after = {**row, **values}
    _journal(conn, row, after, change=change, source=source, actor=actor, detail=detail, at=now)
    return after


def insert(
    conn: Connection, site_id: str, *, change: str, source: str, actor: str | None, **values: Any
) -> dict:
    """Create the access row of a site that has none (enabled, version 0); journal it."""
    accesses = table("wonde_connections")
    now = utcnow()
    conn.execute(
        sa.insert(accesses).values(
            site_id=site_id,
            enabled=True,
            created_at=now,
            updated_at=now,
            status_changed_at=now,
            lifecycle_version=0,
            **values,
        )
    )
    after = read(conn, site_id)
    _journal(conn, None, after, change=change, source=source, actor=actor, detail=None, at=now)
    return after


def remove(
    conn: Connection, row: dict, *, change: str, source: str, actor: str | None = None
) -> None:
    """Delete an access row if it is still at the version read (the site is no longer
    connected); journal it. Raises :class:`ConcurrentChangeError` when it changed."""
    accesses = table("wonde_connections")
    deleted = conn.execute(
        sa.delete(accesses).where(
            accesses.c.site_id == row["site_id"],
            accesses.c.lifecycle_version == row["lifecycle_version"],
        )
    ).rowcount
    if deleted != 1:
        raise changed_meanwhile(row["site_id"])
    _journal(conn, row, None, change=change, source=source, actor=actor, detail=None, at=utcnow())


def changed_meanwhile(site_id: str) -> ConcurrentChangeError:
    return ConcurrentChangeError(
        f"The connection of site {site_id} changed meanwhile; reload its status and try again."
    )


def _journal(
    conn: Connection,
    before: dict | None,
    after: dict | None,
    *,
    change: str,
    source: str,
    actor: str | None,
    detail: str | None,
    at: datetime,
) -> None:
    history = table("wonde_connection_history")
    from_state, to_state = state_of(before), state_of(after)
    subject = after or before
    conn.execute(
        sa.insert(history).values(
            site_id=subject["site_id"],
            school_id=subject["school_id"],
            change=change,
            from_status=from_state,
            to_status=to_state,
            source=source,
            actor=actor,
            detail=detail,
            changed_at=at,
        )
    )
    log.info(
        "Connection of site %s (school %s): %s, %s -> %s [%s]",
        subject["site_id"],
        subject["school_id"],
        change,
        from_state,
        to_state,
        source,
    )
