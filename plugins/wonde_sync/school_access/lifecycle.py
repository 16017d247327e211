"""Connection lifecycle: a site's access to its school's data through Wonde.

A site (``wonde_connections``, one row per site) moves through these states::

    (none) --request access--> pending --school approves (schoolApproved + token)--> approved
    pending --school declines--> declined          approved --school revokes--> revoked
    declined | revoked --request access again--> pending
    approved on Wonde, no token here --> "School Already Approved": Revoke & Re-request

``status`` holds the contract values (pending/approved/declined/revoked); "School Already
Approved" is ``approved`` without a school token (how each state reads to an admin:
:mod:`wonde_sync.school_access.status`). Tokens are stored only encrypted
(:mod:`wonde_sync.school_access.token_vault`) and never logged.

Where each change comes from:

* the admin (API or CLI): :func:`request_access`, :func:`revoke_and_rerequest`,
  :func:`set_enabled`;
* Wonde's webhooks: :func:`receive_webhook`, which journals the delivery and calls
  :func:`record_approval`, :func:`record_decline`, :func:`record_revocation` or
  :func:`record_migration`;
* the reconciling DAG: :func:`reconcile`, which compares every connection with Wonde's
  lists and repairs what a missed webhook left behind (approvals go through
  :func:`record_approval` too).

Every change bumps ``lifecycle_version`` and adds a row to ``wonde_connection_history``.

A school is connected to one site at a time (pending or approved): a second site asking
for it gets :class:`AccessConflictError`, so that no admin can revoke, or read through
imports, another site's school. The rule is enforced here rather than by a unique index, so
that rows written before it existed cannot block the migration.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from wonde_sync.core.database import table, utcnow
from wonde_sync.school_access import token_vault
from wonde_sync.school_access.contact_form import (
    AccessRequestContact,
    ContactValidationError,
    parse_school_id,
)
from wonde_sync.school_access.status import (
    ALREADY_APPROVED,
    APPROVED,
    DECLINED,
    LABELS,
    NOT_CONNECTED,
    PENDING,
    REVOKED,
    AccessStatus,
    read_statuses,
    state_of,
)
from wonde_sync.wonde import webhooks

log = logging.getLogger(__name__)

ACTIVE = (PENDING, APPROVED)

#: Who made a change (``wonde_connection_history.source``).
SOURCE_API = "api"
SOURCE_CLI = "cli"
SOURCE_WEBHOOK = "webhook"
SOURCE_RECONCILE = "reconcile"

#: Wonde's access lists, read in this order; a school met twice keeps the last state read,
#: so "approved" (read last) wins over a state it left while the lists were being paged.
WONDE_LISTS = (
    ("schools/revoked", REVOKED),
    ("schools/declined", DECLINED),
    ("schools/pending", PENDING),
    ("schools", APPROVED),
)


class AccessLifecycleError(Exception):
    """A lifecycle action that cannot be done; the message says why and what to do."""


class UnknownSiteError(AccessLifecycleError):
    """No such site."""


class UnknownSchoolError(AccessLifecycleError):
    """The school is not in the catalog (or Wonde does not know it)."""


class NoAccessError(AccessLifecycleError):
    """The site has no connection to act on."""


class AccessConflictError(AccessLifecycleError):
    """The action clashes with the current state (e.g. the school belongs to another site)."""


class ConcurrentChangeError(AccessConflictError):
    """The connection changed between reading and writing it (optimistic concurrency)."""


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ImportTarget:
    """A connection that may be imported: enabled, approved, with its (decrypted) token."""

    site_id: str
    school_id: str
    school_token: str = field(repr=False)


@dataclass(frozen=True)
class TransitionOutcome:
    """Which sites a Wonde event changed, and which it matched without changing."""

    school_id: str | None
    changed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()

    @property
    def matched(self) -> tuple[str, ...]:
        """Every site the event concerned."""
        return self.changed + self.unchanged


@dataclass(frozen=True)
class WebhookReceipt:
    """What a webhook delivery did: ``applied``, ``no_change``, ``duplicate``, ``unmatched``."""

    payload_type: str
    school_id: str | None
    effect: str
    site_ids: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {**self.__dict__, "site_ids": list(self.site_ids)}


@dataclass(frozen=True)
class StatusChange:
    """One connection the reconciliation changed."""

    site_id: str
    school_id: str
    before: str
    after: str


@dataclass(frozen=True)
class ReconcileResult:
    """What :func:`reconcile` found and did.

    ``changed``: sites whose state changed; ``newly_approved``: importable sites whose
    approval has not been announced yet (see :func:`mark_approvals_announced`);
    ``not_listed``: sites whose school is on none of Wonde's lists (left as they were);
    ``skipped``: sites that changed while Wonde was being read (checked again next time).
    """

    checked: int
    changed: tuple[str, ...]
    newly_approved: tuple[str, ...]
    changes: tuple[StatusChange, ...] = ()
    not_listed: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()

    def summary(self) -> dict[str, Any]:
        """A small JSON-ready dict (for XCom)."""
        return {
            "checked": self.checked,
            "changed": list(self.changed),
            "newly_approved": list(self.newly_approved),
            "changes": [c.__dict__ for c in self.changes],
            "not_listed": list(self.not_listed),
            "skipped": list(self.skipped),
        }

    def __str__(self) -> str:
        moves = ", ".join(
            f"{c.site_id}: {LABELS[c.before]} -> {LABELS[c.after]}" for c in self.changes
        )
        text = f"checked {self.checked} connection(s), {len(self.changed)} changed"
        if moves:
            text += f" ({moves})"
        if self.newly_approved:
            text += f"; newly approved: {', '.join(self.newly_approved)}"
        if self.not_listed:
            text += f"; not on any Wonde list: {', '.join(self.not_listed)}"
        if self.skipped:
            text += f"; changed meanwhile, left for the next run: {', '.join(self.skipped)}"
        return text


def access_status(engine: Engine, site_id: str) -> AccessStatus:
    """The access of one site to its school, as its admin sees it (:mod:`.status`)."""
    found = read_statuses(engine, [site_id])
    if not found:
        raise UnknownSiteError(f"No site {site_id!r}.")
    return found[0]


def access_statuses(engine: Engine, site_ids: Iterable[str] | None = None) -> list[AccessStatus]:
    """The connections of every site (or of ``site_ids``), sorted by site id."""
    return read_statuses(engine, site_ids)


# --------------------------------------------------------------------------- row access


def _connection(conn: Connection, site_id: str, *, lock: bool = True) -> dict | None:
    connections = table(conn.engine, "wonde_connections")
    query = sa.select(connections).where(connections.c.site_id == site_id)
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def _site_exists(conn: Connection, site_id: str) -> bool:
    sites = table(conn.engine, "sites")
    return (
        conn.execute(sa.select(sites.c.site_id).where(sites.c.site_id == site_id)).first()
        is not None
    )


def _school_name(conn: Connection, school_id: str) -> str | None:
    schools = table(conn.engine, "wonde_schools")
    return conn.execute(sa.select(schools.c.name).where(schools.c.id == school_id)).scalar()


def _for_school(conn: Connection, school_id: str) -> list[dict]:
    """The connections a Wonde event about ``school_id`` concerns.

    The active one (pending or approved) when there is one; otherwise the most recently
    requested connection of that school, e.g. a declined request the school later approves.
    """
    connections = table(conn.engine, "wonde_connections")
    rows = [
        dict(row)
        for row in conn.execute(
            sa.select(connections)
            .where(connections.c.school_id == school_id)
            .order_by(connections.c.requested_at.desc(), connections.c.site_id)
            .with_for_update()
        ).mappings()
    ]
    active = [row for row in rows if row["status"] in ACTIVE]
    if active:
        return active
    requested = [row for row in rows if row["requested_at"] is not None]
    return (requested or rows)[:1]


def _write(
    conn: Connection,
    row: dict,
    *,
    change: str,
    source: str,
    actor: str | None = None,
    detail: str | None = None,
    **values: Any,
) -> dict:
    """Update a connection if it is still at the version read, and record the change."""
    connections = table(conn.engine, "wonde_connections")
    history = table(conn.engine, "wonde_connection_history")
    now = utcnow()
    values["updated_at"] = now
    if "status" in values and values["status"] != row["status"]:
        values["status_changed_at"] = now
    values["lifecycle_version"] = row["lifecycle_version"] + 1
    updated = conn.execute(
        sa.update(connections)
        .where(
            connections.c.site_id == row["site_id"],
            connections.c.lifecycle_version == row["lifecycle_version"],
        )
        .values(**values)
    ).rowcount
    if updated != 1:
        raise ConcurrentChangeError(
            f"The connection of site {row['site_id']} changed meanwhile; reload its status and "
            "try again."
        )
    after = {**row, **values}
    conn.execute(
        sa.insert(history).values(
            site_id=row["site_id"],
            school_id=after["school_id"],
            change=change,
            from_status=state_of(row),
            to_status=state_of(after),
            source=source,
            actor=actor,
            detail=detail,
            changed_at=now,
        )
    )
    log.info(
        "Connection of site %s (school %s): %s, %s -> %s [%s]",
        row["site_id"],
        after["school_id"],
        change,
        state_of(row),
        state_of(after),
        source,
    )
    return after


_NO_TOKEN = {"school_token_ciphertext": None, "token_received_at": None}


# --------------------------------------------------------------------------- Wonde events


def _apply_approval(
    conn: Connection, row: dict, school_token: str | None, *, source: str, actor: str | None
) -> bool:
    """Make one connection approved; with a token, store it encrypted. True if it changed."""
    now = utcnow()
    if school_token is None:
        # Wonde lists the school as approved but no token came with it: an approved row
        # keeps what it has, anything else becomes "School Already Approved".
        if row["status"] == APPROVED:
            return False
        _write(
            conn,
            row,
            change="already_approved",
            source=source,
            actor=actor,
            detail="Wonde lists the school as approved, but no school token was received.",
            status=APPROVED,
            status_reason="Approved on Wonde; no school token received",
            approved_at=now,
            approval_announced_at=None,
            **_NO_TOKEN,
        )
        return True
    if row["status"] == APPROVED and row["school_token_ciphertext"]:
        try:
            if token_vault.decrypt(row["school_token_ciphertext"]) == school_token:
                return False
        except token_vault.TokenVaultError:
            log.warning("The stored token of site %s is unreadable; replacing it", row["site_id"])
    had_token = row["status"] == APPROVED and bool(row["school_token_ciphertext"])
    _write(
        conn,
        row,
        change="token_replaced" if had_token else "approved",
        source=source,
        actor=actor,
        detail="A new school token was received." if had_token else "The school approved.",
        status=APPROVED,
        status_reason="Approved by the school",
        school_token_ciphertext=token_vault.encrypt(school_token),
        token_received_at=now,
        approved_at=now,
        approval_announced_at=None,
    )
    return True


def _apply_decline(
    conn: Connection, row: dict, reason: str | None, *, source: str, force: bool = False
) -> bool:
    """Mark one connection declined. Webhooks only decline a pending request."""
    if row["status"] == DECLINED or (row["status"] != PENDING and not force):
        return False
    _write(
        conn,
        row,
        change="declined",
        source=source,
        detail=reason or None,
        status=DECLINED,
        status_reason="Declined by the school",
        declined_at=utcnow(),
        decline_reason=reason,
        **_NO_TOKEN,
    )
    return True


def _apply_revocation(
    conn: Connection,
    row: dict,
    reason: str | None,
    *,
    source: str,
    actor: str | None = None,
    force: bool = False,
    status_reason: str = "Revoked by the school",
) -> bool:
    """Mark one connection revoked and drop its token. Webhooks only revoke an approval."""
    if row["status"] == REVOKED or (row["status"] != APPROVED and not force):
        return False
    _write(
        conn,
        row,
        change="revoked",
        source=source,
        actor=actor,
        detail=reason or None,
        status=REVOKED,
        status_reason=status_reason,
        revoked_at=utcnow(),
        revoke_reason=reason,
        **_NO_TOKEN,
    )
    return True


def _outcome(
    school_id: str, results: list[tuple[str, bool]], skipped: Iterable[str] = ()
) -> TransitionOutcome:
    return TransitionOutcome(
        school_id=school_id,
        changed=tuple(site for site, changed in results if changed),
        unchanged=tuple(site for site, changed in results if not changed),
        skipped=tuple(skipped),
    )


def record_approval(
    engine: Engine,
    school_id: str,
    school_token: str | None,
    *,
    source: str = SOURCE_WEBHOOK,
    actor: str | None = None,
    unchanged_since: Mapping[str, int] | None = None,
) -> TransitionOutcome:
    """Record that ``school_id`` approved the app: the one way any approval is recorded.

    With ``school_token`` (Wonde's ``schoolApproved``) the connection becomes approved and
    keeps the token, encrypted; receiving the same token again changes nothing. Without a
    token (Wonde lists the school as approved, nothing was delivered) a connection that is
    not approved yet becomes "School Already Approved". ``unchanged_since`` (site id →
    ``lifecycle_version``) limits the change to connections still at the version a caller
    read; the others are reported as skipped.
    """
    results = []
    skipped = []
    with engine.begin() as conn:
        for row in _for_school(conn, school_id):
            if unchanged_since is not None and (
                unchanged_since.get(row["site_id"]) != row["lifecycle_version"]
            ):
                skipped.append(row["site_id"])
                continue
            changed = _apply_approval(conn, row, school_token, source=source, actor=actor)
            results.append((row["site_id"], changed))
    return _outcome(school_id, results, skipped)


def record_decline(
    engine: Engine, school_id: str, reason: str | None = None, *, source: str = SOURCE_WEBHOOK
) -> TransitionOutcome:
    """Record that the school declined the pending request (``accessDeclined``)."""
    with engine.begin() as conn:
        results = [
            (row["site_id"], _apply_decline(conn, row, reason, source=source))
            for row in _for_school(conn, school_id)
        ]
    return _outcome(school_id, results)


def record_revocation(
    engine: Engine, school_id: str, reason: str | None = None, *, source: str = SOURCE_WEBHOOK
) -> TransitionOutcome:
    """Record that the school revoked the app's access (``accessRevoked``); drop the token."""
    with engine.begin() as conn:
        results = [
            (row["site_id"], _apply_revocation(conn, row, reason, source=source))
            for row in _for_school(conn, school_id)
        ]
    return _outcome(school_id, results)


def record_migration(
    engine: Engine,
    school_id: str,
    migrate_from: str | None,
    migrate_to: str | None,
    *,
    source: str = SOURCE_WEBHOOK,
) -> TransitionOutcome:
    """Record that the school is changing MIS (``schoolMigration``).

    The status and token stay: imports go on with the current token until Wonde sends the
    new approval (its ``schoolApproved`` replaces the token).
    """
    results = []
    with engine.begin() as conn:
        for row in _for_school(conn, school_id):
            same = (row["mis_migration_from"], row["mis_migration_to"]) == (
                migrate_from,
                migrate_to,
            )
            if not same:
                _write(
                    conn,
                    row,
                    change="mis_migration",
                    source=source,
                    detail=f"MIS change from {migrate_from or '?'} to {migrate_to or '?'}",
                    mis_migration_from=migrate_from,
                    mis_migration_to=migrate_to,
                    mis_migration_at=utcnow(),
                )
            results.append((row["site_id"], not same))
    return _outcome(school_id, results)


def receive_webhook(engine: Engine, event: webhooks.WebhookEvent) -> WebhookReceipt:
    """Apply one parsed Wonde webhook and journal it in ``wonde_webhook_events``.

    Re-delivery is harmless: each transition is a no-op when already applied, and an
    approval already received (same school and token) is recognised by its digest and
    ignored, even after a later revocation, so a stale re-delivery cannot resurrect a
    revoked token. The raw body and the token are never stored.
    """
    events = table(engine, "wonde_webhook_events")
    dedupe_key = None
    if isinstance(event, webhooks.SchoolApproved):
        secret = event.school_token.get_secret_value()
        dedupe_key = hashlib.sha256(f"{event.school_id}\n{secret}".encode()).hexdigest()
        with engine.connect() as conn:
            seen = conn.execute(
                sa.select(events.c.id).where(events.c.dedupe_key == dedupe_key)
            ).first()
        if seen is not None:
            return _journal(engine, event, "duplicate", (), None, "approval already received")
        outcome = record_approval(engine, event.school_id, secret, source=SOURCE_WEBHOOK)
    elif isinstance(event, webhooks.AccessDeclined):
        outcome = record_decline(engine, event.school_id, event.decline_reason)
    elif isinstance(event, webhooks.AccessRevoked):
        outcome = record_revocation(engine, event.school_id, event.revoke_reason)
    elif event.school_id is None:
        outcome = TransitionOutcome(school_id=None)
    else:
        outcome = record_migration(engine, event.school_id, event.migrate_from, event.migrate_to)
    if outcome.changed:
        effect = "applied"
    elif outcome.unchanged:
        effect = "no_change"
    else:
        effect = "unmatched"
        log.warning(
            "Wonde %s for school %s matches no connection; nothing changed",
            event.payload_type,
            getattr(event, "school_id", None) or "(no id)",
        )
    try:
        return _journal(engine, event, effect, outcome.matched, dedupe_key, None)
    except sa.exc.IntegrityError:
        # The same approval was being processed concurrently and journaled first.
        return _journal(engine, event, "duplicate", (), None, "approval already received")


def _journal(
    engine: Engine,
    event: webhooks.WebhookEvent,
    effect: str,
    site_ids: tuple[str, ...],
    dedupe_key: str | None,
    detail: str | None,
) -> WebhookReceipt:
    school_id = getattr(event, "school_id", None)
    events = table(engine, "wonde_webhook_events")
    with engine.begin() as conn:
        conn.execute(
            sa.insert(events).values(
                received_at=utcnow(),
                payload_type=event.payload_type,
                school_id=school_id,
                dedupe_key=dedupe_key,
                effect=effect,
                site_ids=",".join(site_ids) or None,
                detail=detail,
            )
        )
    return WebhookReceipt(event.payload_type, school_id, effect, site_ids)


# --------------------------------------------------------------------------- admin actions


def request_access(
    engine: Engine,
    client: Any,
    site_id: str,
    school_id: str,
    contact: AccessRequestContact | Mapping[str, Any],
    *,
    actor: str | None = None,
    source: str = SOURCE_API,
) -> AccessStatus:
    """Ask Wonde for access to ``school_id`` on behalf of ``site_id``; the site becomes pending.

    ``contact`` (first name, last name, email, optional phone and notes) is validated first
    (:class:`ContactValidationError`, per field). If Wonde already lists the school as
    approved for the app and this site holds no token for it, nothing is requested: the
    connection says "School Already Approved" and offers Revoke & Re-request. Sending the
    same request again while pending is allowed (it updates the contact).
    """
    contact = AccessRequestContact.parse(contact)
    school_id = parse_school_id(school_id)
    with engine.connect() as conn:
        if not _site_exists(conn, site_id):
            raise UnknownSiteError(f"No site {site_id!r}.")
        school_name = _school_name(conn, school_id)
        if school_name is None:
            raise UnknownSchoolError(
                f"School {school_id} is not in the schools catalog: search for the school and "
                "pick it from the results."
            )
        current = _connection(conn, site_id, lock=False)
        _check_school_free(conn, school_id, site_id)
    state = state_of(current)
    same_school = current is not None and current["school_id"] == school_id
    if state == APPROVED:
        if same_school:
            return access_status(engine, site_id)
        raise AccessConflictError(
            f"Site {site_id} is already connected to {current['school_id']} and approved; a "
            "site connects to one school."
        )
    if _approved_on_wonde(client, school_id):
        with engine.begin() as conn:
            _save_request(conn, current, site_id, school_id, contact, actor, source, approved=True)
        return access_status(engine, site_id)
    if current is not None and not same_school and current["status"] == PENDING:
        # The site changes its mind: withdraw the pending request to the other school.
        _revoke_on_wonde(client, current["school_id"])
    answer = client.post(
        f"schools/{school_id}/request-access", json={"contacts": [contact.wonde_contact()]}
    )
    wonde_state = answer.get("state") if isinstance(answer, dict) else None
    approved = wonde_state in ("approved", "audited")  # approved between the two calls
    with engine.begin() as conn:
        _save_request(conn, current, site_id, school_id, contact, actor, source, approved=approved)
    return access_status(engine, site_id)


def revoke_and_rerequest(
    engine: Engine,
    client: Any,
    site_id: str,
    contact: AccessRequestContact | Mapping[str, Any] | None = None,
    *,
    actor: str | None = None,
    source: str = SOURCE_API,
) -> AccessStatus:
    """Revoke the app's access to the site's school on Wonde, then request it again.

    The way out of "School Already Approved": the school approves again and Wonde sends a
    new token. ``contact`` defaults to the one sent with the previous request. The local
    state follows each step, so a failure half-way leaves it matching Wonde.
    """
    with engine.connect() as conn:
        if not _site_exists(conn, site_id):
            raise UnknownSiteError(f"No site {site_id!r}.")
        current = _connection(conn, site_id, lock=False)
        if current is not None:
            # Revoking on Wonde acts on the school, whoever holds it: never another site's.
            _check_school_free(conn, current["school_id"], site_id)
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
        row = _connection(conn, site_id)
        _apply_revocation(
            conn,
            row,
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
    source: str = SOURCE_API,
) -> AccessStatus:
    """Turn imports of a site's connection on or off (its lifecycle state is kept)."""
    with engine.begin() as conn:
        if not _site_exists(conn, site_id):
            raise UnknownSiteError(f"No site {site_id!r}.")
        row = _connection(conn, site_id)
        if row is None:
            raise NoAccessError(
                f"Site {site_id} is not connected to a school, so there is nothing to "
                f"{'enable' if enabled else 'disable'}."
            )
        if bool(row["enabled"]) != enabled:
            _write(
                conn,
                row,
                change="enabled" if enabled else "disabled",
                source=source,
                actor=actor,
                enabled=enabled,
            )
    return access_status(engine, site_id)


def _check_school_free(conn: Connection, school_id: str, site_id: str) -> None:
    connections = table(conn.engine, "wonde_connections")
    taken = conn.execute(
        sa.select(connections.c.site_id).where(
            connections.c.school_id == school_id,
            connections.c.site_id != site_id,
            connections.c.status.in_(ACTIVE),
        )
    ).first()
    if taken is not None:
        # Which site holds it is another customer's business: not said.
        raise AccessConflictError(
            f"School {school_id} is already connected to another CalmCompliance site. "
            "Contact support if this is your school."
        )


def _approved_on_wonde(client: Any, school_id: str) -> bool:
    """Whether Wonde lists ``school_id`` as approved for the app (``meta/schools/{id}``)."""
    from wonde_sync.wonde.errors import WondeForbiddenError, WondeNotFoundError

    try:
        meta = client.get(f"meta/schools/{school_id}")
    except WondeNotFoundError as exc:
        raise UnknownSchoolError(f"Wonde does not know school {school_id}.") from exc
    except WondeForbiddenError:
        return False
    return isinstance(meta, dict) and meta.get("approved") is True


def _revoke_on_wonde(client: Any, school_id: str) -> None:
    from wonde_sync.wonde.errors import WondeNotFoundError

    try:
        client.delete(f"schools/{school_id}/revoke-access")
    except WondeNotFoundError:
        log.info("School %s is unknown to Wonde; nothing to withdraw", school_id)


def _save_request(
    conn: Connection,
    before: dict | None,
    site_id: str,
    school_id: str,
    contact: AccessRequestContact,
    actor: str | None,
    source: str,
    *,
    approved: bool,
) -> dict:
    """Write a request: pending for ``school_id`` with this contact; or, when Wonde already
    lists the school as approved (``approved``), "School Already Approved" (no token)."""
    connections = table(conn.engine, "wonde_connections")
    now = utcnow()
    if approved:
        change, to_state = "already_approved", ALREADY_APPROVED
        state_values = {
            "status": APPROVED,
            "status_reason": "Approved on Wonde; no school token received",
            "approved_at": now,
        }
    else:
        change, to_state = "requested", PENDING
        state_values = {"status": PENDING, "status_reason": "Access requested", "requested_at": now}
    values = {
        "school_id": school_id,
        **state_values,
        "requested_by": actor,
        "contact_first_name": contact.first_name,
        "contact_last_name": contact.last_name,
        "contact_email": str(contact.email),
        "contact_phone": contact.phone,
        "contact_notes": contact.notes,
        "approval_announced_at": None,
        **_NO_TOKEN,
    }
    row = _connection(conn, site_id)
    if row is None:
        conn.execute(
            sa.insert(connections).values(
                site_id=site_id,
                enabled=True,
                created_at=now,
                updated_at=now,
                status_changed_at=now,
                lifecycle_version=0,
                **values,
            )
        )
        history = table(conn.engine, "wonde_connection_history")
        conn.execute(
            sa.insert(history).values(
                site_id=site_id,
                school_id=school_id,
                change=change,
                from_status=NOT_CONNECTED,
                to_status=to_state,
                source=source,
                actor=actor,
                changed_at=now,
            )
        )
        log.info("Connection of site %s (school %s): %s [%s]", site_id, school_id, change, source)
        return _connection(conn, site_id)
    if before is not None and row["lifecycle_version"] != before["lifecycle_version"]:
        # A webhook or another admin changed the connection while Wonde was being asked.
        raise AccessConflictError(
            f"The connection of site {site_id} changed while access was being requested; "
            "reload its status and try again."
        )
    if row["school_id"] != school_id:
        change = f"school_changed ({change})"
    return _write(conn, row, change=change, source=source, actor=actor, **values)


# --------------------------------------------------------------------------- imports


def import_targets(engine: Engine) -> list[ImportTarget]:
    """Connections that imports may run for: enabled, approved, holding a school token.

    Tokens are decrypted here (``WONDE_TOKEN_KEY``); an unreadable token is an error
    rather than a silently skipped site.
    """
    connections = table(engine, "wonde_connections")
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                connections.c.site_id,
                connections.c.school_id,
                connections.c.school_token_ciphertext,
            )
            .where(*_importable(connections))
            .order_by(connections.c.site_id)
        ).all()
    return [
        ImportTarget(row.site_id, row.school_id, token_vault.decrypt(row.school_token_ciphertext))
        for row in rows
    ]


def _importable(connections: sa.Table) -> tuple:
    return (
        connections.c.enabled == sa.true(),
        connections.c.status == APPROVED,
        connections.c.school_token_ciphertext.is_not(None),
    )


def unannounced_approvals(engine: Engine) -> list[str]:
    """Importable sites whose approval has not been announced to the import DAGs yet."""
    connections = table(engine, "wonde_connections")
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(connections.c.site_id)
                .where(*_importable(connections), connections.c.approval_announced_at.is_(None))
                .order_by(connections.c.site_id)
            ).scalars()
        )


def mark_approvals_announced(engine: Engine, site_ids: Iterable[str]) -> int:
    """Record that the approvals of ``site_ids`` were announced; return how many."""
    site_ids = list(site_ids)
    if not site_ids:
        return 0
    connections = table(engine, "wonde_connections")
    with engine.begin() as conn:
        return conn.execute(
            sa.update(connections)
            .where(
                connections.c.site_id.in_(site_ids),
                connections.c.approval_announced_at.is_(None),
            )
            .values(approval_announced_at=utcnow())
        ).rowcount


# --------------------------------------------------------------------------- reconcile


def reconcile(engine: Engine, client: Any) -> ReconcileResult:
    """Bring every connection in line with Wonde's lists; repair what missed webhooks left.

    Reads ``/schools`` (approved), ``/schools/pending``, ``/schools/declined`` and
    ``/schools/revoked`` page by page, keeping only the ids of connected schools. Nothing
    is written until every list has been read, so a failed read changes nothing. Then:

    * listed as approved: :func:`record_approval` without a token (a connection with a
      token stays as it is; one without becomes "School Already Approved");
    * listed as pending, declined or revoked: the connection takes that state (a token is
      dropped), unless it changed while the lists were being read;
    * on no list: left as it is, and reported.
    """
    connections = table(engine, "wonde_connections")
    with engine.connect() as conn:
        snapshot = [dict(row) for row in conn.execute(sa.select(connections)).mappings()]
    wanted = {row["school_id"] for row in snapshot}
    on_wonde: dict[str, str] = {}
    if wanted:
        for path, wonde_state in WONDE_LISTS:
            for record in client.iter_records(path):
                school_id = record.get("id") if isinstance(record, dict) else None
                if school_id in wanted:
                    on_wonde[school_id] = wonde_state
    changed: list[str] = []
    not_listed: list[str] = []
    skipped: list[str] = []
    before = {row["site_id"]: state_of(row) for row in snapshot}
    versions = {row["site_id"]: row["lifecycle_version"] for row in snapshot}
    approved_schools = sorted({sid for sid, state in on_wonde.items() if state == APPROVED})
    for school_id in approved_schools:
        outcome = record_approval(
            engine, school_id, None, source=SOURCE_RECONCILE, unchanged_since=versions
        )
        changed += outcome.changed
        skipped += outcome.skipped
    for row in snapshot:
        wonde_state = on_wonde.get(row["school_id"])
        if wonde_state is None:
            not_listed.append(row["site_id"])
            continue
        if wonde_state == APPROVED:
            continue
        try:
            with engine.begin() as conn:
                if _mirror(conn, row, wonde_state):
                    changed.append(row["site_id"])
        except ConcurrentChangeError:
            skipped.append(row["site_id"])
    checked = [row["site_id"] for row in snapshot if row["site_id"] not in not_listed]
    if checked:
        with engine.begin() as conn:
            conn.execute(
                sa.update(connections)
                .where(connections.c.site_id.in_(checked))
                .values(wonde_checked_at=utcnow())
            )
    changes = tuple(
        StatusChange(s.site_id, s.school_id or "", before.get(s.site_id, NOT_CONNECTED), s.state)
        for s in access_statuses(engine, sorted(set(changed)))
    )
    result = ReconcileResult(
        checked=len(snapshot),
        changed=tuple(sorted(set(changed))),
        newly_approved=tuple(unannounced_approvals(engine)),
        changes=changes,
        not_listed=tuple(not_listed),
        skipped=tuple(skipped),
    )
    log.info("Reconciled connections with Wonde: %s", result)
    return result


def _mirror(conn: Connection, seen: dict, wonde_state: str) -> bool:
    """Give one connection the state Wonde lists, if the row is still as ``seen``."""
    if seen["status"] == wonde_state:
        return False
    why = f"Wonde lists the school as {wonde_state}"
    if wonde_state == DECLINED:
        return _apply_decline(conn, seen, None, source=SOURCE_RECONCILE, force=True)
    if wonde_state == REVOKED:
        return _apply_revocation(
            conn, seen, None, source=SOURCE_RECONCILE, force=True, status_reason=why
        )
    _write(
        conn,
        seen,
        change="pending",
        source=SOURCE_RECONCILE,
        detail=why,
        status=PENDING,
        status_reason=why,
        **_NO_TOKEN,
    )
    return True


__all__ = [
    "ALREADY_APPROVED",
    "APPROVED",
    "DECLINED",
    "LABELS",
    "NOT_CONNECTED",
    "PENDING",
    "REVOKED",
    "ConcurrentChangeError",
    "AccessConflictError",
    "AccessLifecycleError",
    "AccessStatus",
    "ContactValidationError",
    "ImportTarget",
    "NoAccessError",
    "ReconcileResult",
    "StatusChange",
    "TransitionOutcome",
    "UnknownSchoolError",
    "UnknownSiteError",
    "WebhookReceipt",
    "access_status",
    "access_statuses",
    "import_targets",
    "mark_approvals_announced",
    "receive_webhook",
    "reconcile",
    "record_approval",
    "record_decline",
    "record_migration",
    "record_revocation",
    "request_access",
    "revoke_and_rerequest",
    "set_enabled",
    "state_of",
    "unannounced_approvals",
]
