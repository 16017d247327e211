"""What a site's admin does (through the API or the CLI): request access, Revoke &
Re-request, turn imports on or off.

A school is held by one site at a time (pending or approved): a second site asking for it
gets :class:`AccessConflictError`, so that no admin can revoke, or read through imports,
another site's school. The database enforces it (see :mod:`.claims`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import Engine

from wonde_sync.school_access import claims, rows, transitions
from wonde_sync.school_access.contact_form import AccessRequestContact, parse_school_id
from wonde_sync.school_access.errors import (
    AccessConflictError,
    NoAccessError,
    UnknownSchoolError,
    UnknownSiteError,
)
from wonde_sync.school_access.status import (
    APPROVED,
    PENDING,
    AccessStatus,
    access_status,
    state_of,
)
from wonde_sync.wonde.errors import WondeForbiddenError, WondeNotFoundError

log = logging.getLogger(__name__)


def request_access(
    engine: Engine,
    client: Any,
    site_id: str,
    school_id: str,
    contact: AccessRequestContact | Mapping[str, Any],
    *,
    actor: str | None = None,
    source: str = rows.SOURCE_API,
) -> AccessStatus:
    """Ask Wonde for access to ``school_id`` on behalf of ``site_id``; the site becomes pending.

    ``contact`` (first name, last name, email, optional phone and notes) is validated first
    (:class:`ContactValidationError`, per field). If Wonde already lists the school as
    approved for the app and this site holds no token for it, nothing is requested: the
    access says "School Already Approved" and offers Revoke & Re-request. Sending the same
    request again while pending is allowed (it updates the contact).
    """
    contact = AccessRequestContact.parse(contact)
    school_id = parse_school_id(school_id)
    with engine.connect() as conn:
        if not rows.site_exists(conn, site_id):
            raise UnknownSiteError(f"No site {site_id!r}.")
        if rows.school_name(conn, school_id) is None:
            raise UnknownSchoolError(
                f"School {school_id} is not in the schools catalog: search for the school and "
                "pick it from the results."
            )
        current = rows.read(conn, site_id, lock=False)
        claims.check_school_free(conn, school_id, site_id)
    same_school = current is not None and current["school_id"] == school_id
    if state_of(current) == APPROVED:
        if same_school:
            return access_status(engine, site_id)
        raise AccessConflictError(
            f"Site {site_id} is already connected to {current['school_id']} and approved; a "
            "site connects to one school."
        )
    # The school is claimed before Wonde is asked: a second site asking for it meanwhile is
    # refused by the database, and sends Wonde nothing.
    claimed = claims.claim(engine, current, site_id, school_id, contact, actor=actor, source=source)
    try:
        approved = _approved_on_wonde(client, school_id)
        if not approved:
            if current is not None and not same_school and current["status"] == PENDING:
                # The site changes its mind: withdraw the pending request to the other school.
                _revoke_on_wonde(client, current["school_id"])
            answer = client.post(
                f"schools/{school_id}/request-access",
                json={"contacts": [contact.wonde_contact()]},
            )
            wonde_state = answer.get("state") if isinstance(answer, dict) else None
            approved = wonde_state in ("approved", "audited")  # approved between the two calls
    except Exception:
        claims.release(engine, current, claimed, actor=actor, source=source)
        raise
    if approved:
        claims.settle_already_approved(engine, claimed, actor=actor, source=source)
    return access_status(engine, site_id)


def revoke_and_rerequest(
    engine: Engine,
    client: Any,
    site_id: str,
    contact: AccessRequestContact | Mapping[str, Any] | None = None,
    *,
    actor: str | None = None,
    source: str = rows.SOURCE_API,
) -> AccessStatus:
    """Revoke the app's access to the site's school on Wonde, then request it again.

    The way out of "School Already Approved": the school approves again and Wonde sends a
    new token. ``contact`` defaults to the one sent with the previous request. The local
    state follows each step, so a failure half-way leaves it matching Wonde.
    """
    with engine.connect() as conn:
        if not rows.site_exists(conn, site_id):
            raise UnknownSiteError(f"No site {site_id!r}.")
        current = rows.read(conn, site_id, lock=False)
        if current is not None:
            # Revoking on Wonde acts on the school, whoever holds it: never another site's.
            claims.check_school_free(conn, current["school_id"], site_id)
    if current is None:
        raise NoAccessError(
            f"Site {site_id} is not connected to a school: search for the school and request "
            "access first."
        )
    if contact is None:
        contact = {
            "first_name": current["contact_first_name"],
            "last_name": current["contact_last_name"],
            "email": current["contact_email"],
            "phone": current["contact_phone"],
            "notes": current["contact_notes"],
        }
    contact = AccessRequestContact.parse(contact)
    school_id = current["school_id"]
    client.delete(f"schools/{school_id}/revoke-access")
    with engine.begin() as conn:
        transitions.apply_revocation(
            conn,
            rows.read(conn, site_id),
            None,
            source=source,
            actor=actor,
            force=True,
            status_reason="Revoked by CalmCompliance to request access again",
        )
    return request_access(engine, client, site_id, school_id, contact, actor=actor, source=source)


def set_enabled(
    engine: Engine,
    site_id: str,
    enabled: bool,
    *,
    actor: str | None = None,
    source: str = rows.SOURCE_API,
) -> AccessStatus:
    """Turn imports of a site's school on or off (its lifecycle state is kept)."""
    with engine.begin() as conn:
        if not rows.site_exists(conn, site_id):
            raise UnknownSiteError(f"No site {site_id!r}.")
        row = rows.read(conn, site_id)
        if row is None:
            raise NoAccessError(
                f"Site {site_id} is not connected to a school, so there is nothing to "
                f"{'enable' if enabled else 'disable'}."
            )
        if bool(row["enabled"]) != enabled:
            rows.write(
                conn,
                row,
                change="enabled" if enabled else "disabled",
                source=source,
                actor=actor,
                enabled=enabled,
            )
    return access_status(engine, site_id)


def _approved_on_wonde(client: Any, school_id: str) -> bool:
    """Whether Wonde lists ``school_id`` as approved for the app (``meta/schools/{id}``)."""
    try:
        meta = client.get(f"meta/schools/{school_id}")
    except WondeNotFoundError as exc:
        raise UnknownSchoolError(f"Wonde does not know school {school_id}.") from exc
    except WondeForbiddenError:
        return False
    return isinstance(meta, dict) and meta.get("approved") is True


def _revoke_on_wonde(client: Any, school_id: str) -> None:
    try:
        client.delete(f"schools/{school_id}/revoke-access")
    except WondeNotFoundError:
        log.info("School %s is unknown to Wonde; nothing to withdraw", school_id)
