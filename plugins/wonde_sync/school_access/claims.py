"""A site's claim on a school, written before Wonde is asked for access.

A school is held by one site at a time (pending or approved); the partial unique index
``wonde_connections_active_school_uq`` enforces it. A request first writes the site's
pending row in its own transaction (:func:`claim`): of two sites asking for one school at
once, the database lets one through, and the other gets :class:`AccessConflictError`
before anything is sent to Wonde. When Wonde then fails, :func:`release` puts the row back
as it was; when Wonde says the school is approved already, :func:`settle_already_approved`
records it.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from wonde_sync.core.database import table, utcnow
from wonde_sync.school_access import rows, transitions
from wonde_sync.school_access.contact_form import AccessRequestContact
from wonde_sync.school_access.errors import AccessConflictError
from wonde_sync.school_access.status import PENDING

#: What a request writes, and so what :func:`release` restores.
_REQUEST_COLUMNS = (
    "school_id",
    "requested_by",
    "contact_first_name",
    "contact_last_name",
    "contact_email",
    "contact_phone",
    "contact_notes",
    "approval_announced_at",
    *rows.NO_TOKEN,
    "status",
    "status_reason",
    "requested_at",
)

# SQLite (WAL) refuses a write to a transaction whose snapshot another writer outdated;
# reading again then sees that writer's claim.
_SQLITE_ATTEMPTS = 3


def check_school_free(conn: Connection, school_id: str, site_id: str) -> None:
    """Raise :class:`AccessConflictError` if another site holds ``school_id``."""
    accesses = table("wonde_connections")
    taken = conn.execute(
        sa.select(accesses.c.site_id).where(
            accesses.c.school_id == school_id,
            accesses.c.site_id != site_id,
            accesses.c.status.in_(rows.ACTIVE),
        )
    ).first()
    if taken is not None:
        # Which site holds it is another customer's business: not said.
        raise AccessConflictError(
            f"School {school_id} is already connected to another CalmCompliance site. "
            "Contact support if this is your school."
        )


def claim(
    engine: Engine,
    before: dict | None,
    site_id: str,
    school_id: str,
    contact: AccessRequestContact,
    *,
    actor: str | None,
    source: str,
) -> dict:
    """Make ``site_id`` pending for ``school_id`` (committed); return the row as written.

    ``before`` is the row as read before (None: the site had none). Raises
    :class:`AccessConflictError` when another site holds the school, and
    :class:`~wonde_sync.school_access.errors.ConcurrentChangeError` when the site's row
    changed since ``before``.
    """
    for attempt in range(1, _SQLITE_ATTEMPTS + 1):
        try:
            with engine.begin() as conn:
                check_school_free(conn, school_id, site_id)
                return _write_request(conn, before, site_id, school_id, contact, actor, source)
        except sa.exc.IntegrityError:
            # Another site's claim committed between the check and the write.
            with engine.connect() as conn:
                check_school_free(conn, school_id, site_id)
            raise rows.changed_meanwhile(site_id) from None
        except sa.exc.OperationalError:
            if engine.dialect.name != "sqlite" or attempt == _SQLITE_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def release(
    engine: Engine, before: dict | None, claimed: dict, *, actor: str | None, source: str
) -> None:
    """Undo :func:`claim` after Wonde failed: the row as ``before`` (none if it was None).

    A row changed since the claim (e.g. by Wonde's webhook) is left as it is.
    """
    with engine.begin() as conn:
        row = rows.read(conn, claimed["site_id"])
        if row is None or row["lifecycle_version"] != claimed["lifecycle_version"]:
            return
        if before is None:
            rows.remove(conn, row, change="request_failed", source=source, actor=actor)
            return
        restored = {name: before[name] for name in _REQUEST_COLUMNS}
        rows.write(conn, row, change="request_failed", source=source, actor=actor, **restored)


def settle_already_approved(
    engine: Engine, claimed: dict, *, actor: str | None, source: str
) -> None:
    """Wonde lists the claimed school as approved: "School Already Approved" (no token).

    A row changed since the claim (e.g. approved with a token by Wonde's webhook) is left.
    """
    with engine.begin() as conn:
        row = rows.read(conn, claimed["site_id"])
        if row is None or row["lifecycle_version"] != claimed["lifecycle_version"]:
            return
        values = {**transitions.ALREADY_APPROVED_VALUES, "approved_at": utcnow()}
        rows.write(conn, row, change="already_approved", source=source, actor=actor, **values)


def _write_request(
    conn: Connection,
    before: dict | None,
    site_id: str,
    school_id: str,
    contact: AccessRequestContact,
    actor: str | None,
    source: str,
) -> dict:
    values = {
        "school_id": school_id,
        "requested_by": actor,
        "contact_first_name": contact.first_name,
        "contact_last_name": contact.last_name,
        "contact_email": str(contact.email),
        "contact_phone": contact.phone,
        "contact_notes": contact.notes,
        "approval_announced_at": None,
        **rows.NO_TOKEN,
        "status": PENDING,
        "status_reason": "Access requested",
        "requested_at": utcnow(),
    }
    row = rows.read(conn, site_id)
    if row is None:
        if before is not None:
            raise rows.changed_meanwhile(site_id)
        return rows.insert(conn, site_id, change="requested", source=source, actor=actor, **values)
    if before is None or row["lifecycle_version"] != before["lifecycle_version"]:
        # A webhook or another admin changed the access since it was read.
        raise rows.changed_meanwhile(site_id)
    change = "requested" if row["school_id"] == school_id else "school_changed (requested)"
    return rows.write(conn, row, change=change, source=source, actor=actor, **values)
