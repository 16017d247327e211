"""How a site's access to its school looks to its admin: state, words, allowed actions.

The stored ``status`` holds the contract values (pending/approved/declined/revoked); the
product adds "Not connected" (no row) and "School Already Approved" (``approved`` without a
school token). Each state comes with an explanation and the actions it allows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from wonde_sync.core.database import as_utc, table
from wonde_sync.school_access.errors import UnknownSiteError

PENDING = "pending"
APPROVED = "approved"
DECLINED = "declined"
REVOKED = "revoked"

#: Product states: the contract statuses plus these two.
NOT_CONNECTED = "not_connected"
ALREADY_APPROVED = "already_approved"

#: The product's words for each state.
LABELS = {
    NOT_CONNECTED: "Not connected",
    PENDING: "Pending approval",
    APPROVED: "Approved",
    ALREADY_APPROVED: "School Already Approved",
    DECLINED: "Access declined by school",
    REVOKED: "Access revoked",
}

REQUEST_ACCESS = "request_access"
REVOKE_AND_REREQUEST = "revoke_and_rerequest"
ENABLE = "enable"
DISABLE = "disable"

#: The product's words for each action (the codes are what the API returns).
ACTION_LABELS = {
    REQUEST_ACCESS: "Request access",
    REVOKE_AND_REREQUEST: "Revoke & Re-request",
    ENABLE: "Enable",
    DISABLE: "Disable",
}


def action_label(action: str) -> str:
    """An action in the product's words (the code, spaced out, when unknown)."""
    return ACTION_LABELS.get(action, action.replace("_", " "))


@dataclass(frozen=True)
class AccessStatus:
    """A site's access as its admin sees it: label, explanation and allowed actions."""

    site_id: str
    site_name: str
    school_id: str | None
    school_name: str | None
    state: str
    status: str | None
    label: str
    detail: str
    actions: tuple[str, ...]
    enabled: bool | None
    has_school_token: bool
    reason: str | None = None
    requested_at: datetime | None = None
    status_changed_at: datetime | None = None
    contact: dict[str, str | None] | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (timestamps as ISO 8601)."""
        data = dict(self.__dict__)
        data["actions"] = list(self.actions)
        for key in ("requested_at", "status_changed_at"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


def access_status(engine: Engine, site_id: str) -> AccessStatus:
    """The access of one site to its school, as its admin sees it."""
    found = read_statuses(engine, [site_id])
    if not found:
        raise UnknownSiteError(f"No site {site_id!r}.")
    return found[0]


def read_statuses(engine: Engine, site_ids: Iterable[str] | None = None) -> list[AccessStatus]:
    """The access of every site (or of ``site_ids``, unknown ones left out), by site id."""
    site_ids = None if site_ids is None else list(site_ids)
    sites = table("sites")
    accesses = table("wonde_connections")
    schools = table("wonde_schools")
    query = (
        sa.select(
            sites.c.site_id,
            sites.c.name.label("site_name"),
            schools.c.name.label("school_name"),
            *[c for c in accesses.c if c.name != "site_id"],
        )
        .select_from(
            sites.outerjoin(accesses, accesses.c.site_id == sites.c.site_id).outerjoin(
                schools, schools.c.id == accesses.c.school_id
            )
        )
        .order_by(sites.c.site_id)
    )
    if site_ids is not None:
        if not site_ids:
            return []
        query = query.where(sites.c.site_id.in_(site_ids))
    with engine.connect() as conn:
        return [_status(row) for row in conn.execute(query).mappings()]


def state_of(row: Mapping[str, Any] | None) -> str:
    """The product state of an access row of ``wonde_connections`` (None: not connected)."""
    if row is None or row.get("status") is None:
        return NOT_CONNECTED
    if row["status"] == APPROVED and not row["school_token_ciphertext"]:
        return ALREADY_APPROVED
    return row["status"]


def _status(row: Mapping[str, Any]) -> AccessStatus:
    state = state_of(row)
    school = row["school_name"] or row["school_id"]
    if state == NOT_CONNECTED:
        return AccessStatus(
            site_id=row["site_id"],
            site_name=row["site_name"],
            school_id=None,
            school_name=None,
            state=state,
            status=None,
            label=LABELS[state],
            detail="This site is not connected to a school yet: search for the school and "
            "request access.",
            actions=(REQUEST_ACCESS,),
            enabled=None,
            has_school_token=False,
        )
    enabled = bool(row["enabled"])
    reason = None
    if state == PENDING:
        detail = f"Waiting for {school} to approve the request in Wonde."
        actions: tuple[str, ...] = ()
    elif state == APPROVED:
        detail = f"Connected to {school}."
        detail += " Imports are on." if enabled else " Imports are off for this site."
        if row["mis_migration_at"] and (
            row["approved_at"] is None
            or as_utc(row["mis_migration_at"]) >= as_utc(row["approved_at"])
        ):
            detail += (
                f" The school is changing its MIS ({row['mis_migration_from'] or '?'} to "
                f"{row['mis_migration_to'] or '?'}); Wonde will send a new approval."
            )
        actions = ()
    elif state == ALREADY_APPROVED:
        detail = (
            f"{school} has already approved CalmCompliance in Wonde, but no school token is "
            "stored for this site. Use Revoke & Re-request to ask the school to approve again."
        )
        actions = (REVOKE_AND_REREQUEST,)
    elif state == DECLINED:
        reason = row["decline_reason"]
        detail = f"{school} declined the access request" + (f": {reason}" if reason else ".")
        detail += " You can request access again from the configuration page."
        actions = (REQUEST_ACCESS,)
    else:
        reason = row["revoke_reason"]
        detail = f"{school} revoked access" + (f": {reason}" if reason else ".")
        detail += " You can request access again from the configuration page."
        actions = (REQUEST_ACCESS,)
    contact = None
    if row["contact_first_name"]:
        contact = {
            "first_name": row["contact_first_name"],
            "last_name": row["contact_last_name"],
            "email": row["contact_email"],
            "phone": row["contact_phone"],
            "notes": row["contact_notes"],
        }
    return AccessStatus(
        site_id=row["site_id"],
        site_name=row["site_name"],
        school_id=row["school_id"],
        school_name=row["school_name"],
        state=state,
        status=row["status"],
        label=LABELS[state],
        detail=detail,
        actions=(*actions, DISABLE if enabled else ENABLE),
        enabled=enabled,
        has_school_token=bool(row["school_token_ciphertext"]),
        reason=reason,
        requested_at=as_utc(row["requested_at"]),
        status_changed_at=as_utc(row["status_changed_at"]),
        contact=contact,
    )
