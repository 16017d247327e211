"""What the school decides, applied to the sites that asked for it.

Approval, decline, revocation and MIS migration each come from Wonde (a webhook, or its
lists read by the reconciliation) and concern a school, not a site: ``rows.for_school``
finds the sites they apply to. Every approval, whichever way it arrives, is recorded by
:func:`record_approval`. Each ``record_*`` function takes an engine (its own transaction) or a
connection (the caller's transaction, so that the change commits or rolls back with what the
caller writes beside it, e.g. the webhook journal).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy.engine import Connection, Engine

from wonde_sync.core.database import utcnow
from wonde_sync.school_access import rows, token_vault
from wonde_sync.school_access.status import APPROVED, DECLINED, PENDING, REVOKED

log = logging.getLogger(__name__)

#: "School Already Approved": approved on Wonde, no school token held here (plus ``approved_at``).
ALREADY_APPROVED_VALUES = {
    "status": APPROVED,
    "status_reason": "Approved on Wonde; no school token received",
    "approval_announced_at": None,
    **rows.NO_TOKEN,
}


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


@contextlib.contextmanager
def _transaction(bind: Engine | Connection) -> Generator[Connection]:
    if isinstance(bind, Connection):
        yield bind
        return
    with bind.begin() as conn:
        yield conn


def record_approval(
    bind: Engine | Connection,
    school_id: str,
    school_token: str | None,
    *,
    source: str = rows.SOURCE_WEBHOOK,
    actor: str | None = None,
    unchanged_since: Mapping[str, int] | None = None,
) -> TransitionOutcome:
    """Record that ``school_id`` approved the app: the one way any approval is recorded.

    With ``school_token`` (Wonde's ``schoolApproved``) the site's access becomes approved
    and keeps the token, encrypted; receiving the same token again changes nothing. Without
    a token (Wonde lists the school as approved, nothing was delivered) an access that is
    not approved yet becomes "School Already Approved". ``unchanged_since`` (site id →
    ``lifecycle_version``) limits the change to accesses still at the version a caller
    read; the others are reported as skipped.
    """
    results = []
    skipped = []
    with _transaction(bind) as conn:
        for row in rows.for_school(conn, school_id):
            if unchanged_since is not None and (
                unchanged_since.get(row["site_id"]) != row["lifecycle_version"]
            ):
                skipped.append(row["site_id"])
                continue
            changed = _apply_approval(conn, row, school_token, source=source, actor=actor)
            results.append((row["site_id"], changed))
    return _outcome(school_id, results, skipped)


def record_decline(
    bind: Engine | Connection,
    school_id: str,
    reason: str | None = None,
    *,
    source: str = rows.SOURCE_WEBHOOK,
) -> TransitionOutcome:
    """Record that the school declined the pending request (``accessDeclined``)."""
    with _transaction(bind) as conn:
        results = [
            (row["site_id"], apply_decline(conn, row, reason, source=source))
            for row in rows.for_school(conn, school_id)
        ]
    return _outcome(school_id, results)


def record_revocation(
    bind: Engine | Connection,
    school_id: str,
    reason: str | None = None,
    *,
    source: str = rows.SOURCE_WEBHOOK,
) -> TransitionOutcome:
    """Record that the school revoked the app's access (``accessRevoked``); drop the token."""
    with _transaction(bind) as conn:
        results = [
            (row["site_id"], apply_revocation(conn, row, reason, source=source))
            for row in rows.for_school(conn, school_id)
        ]
    return _outcome(school_id, results)


def record_migration(
    bind: Engine | Connection,
    school_id: str,
    migrate_from: str | None,
    migrate_to: str | None,
    *,
    source: str = rows.SOURCE_WEBHOOK,
) -> TransitionOutcome:
    """Record that the school is changing MIS (``schoolMigration``).

    The status and token stay: imports go on with the current token until Wonde sends the
    new approval (its ``schoolApproved`` replaces the token).
    """
    results = []
    with _transaction(bind) as conn:
        for row in rows.for_school(conn, school_id):
            same = (row["mis_migration_from"], row["mis_migration_to"]) == (
                migrate_from,
                migrate_to,
            )
            if not same:
                rows.write(
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


def apply_decline(
    conn: Connection, row: dict, reason: str | None, *, source: str, force: bool = False
) -> bool:
    """Mark one access declined; True if it changed. Unless ``force``, only a pending one."""
    if row["status"] == DECLINED or (row["status"] != PENDING and not force):
        return False
    rows.write(
        conn,
        row,
        change="declined",
        source=source,
        detail=reason or None,
        status=DECLINED,
        status_reason="Declined by the school",
        declined_at=utcnow(),
        decline_reason=reason,
        **rows.NO_TOKEN,
    )
    return True


def apply_revocation(
    conn: Connection,
    row: dict,
    reason: str | None,
    *,
    source: str,
    actor: str | None = None,
    force: bool = False,
    status_reason: str = "Revoked by the school",
) -> bool:
    """Mark one access revoked and drop its token; True if it changed.

    Unless ``force``, only an approved access is revoked (as the school's webhook would).
    """
    if row["status"] == REVOKED or (row["status"] != APPROVED and not force):
        return False
    rows.write(
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
        **rows.NO_TOKEN,
    )
    return True


def _apply_approval(
    conn: Connection, row: dict, school_token: str | None, *, source: str, actor: str | None
) -> bool:
    """Make one access approved; with a token, store it encrypted. True if it changed."""
    now = utcnow()
    if school_token is None:
        # Wonde lists the school as approved but no token came with it: an approved row
        # keeps what it has, anything else becomes "School Already Approved".
        if row["status"] == APPROVED:
            return False
        rows.write(
            conn,
            row,
            change="already_approved",
            source=source,
            actor=actor,
            detail="Wonde lists the school as approved, but no school token was received.",
            approved_at=now,
            **ALREADY_APPROVED_VALUES,
        )
        return True
    had_token = row["status"] == APPROVED and bool(row["school_token_ciphertext"])
    if had_token:
        try:
            if token_vault.decrypt(row["school_token_ciphertext"]) == school_token:
                return False
        except token_vault.TokenVaultError:
            log.warning("The stored token of site %s is unreadable; replacing it", row["site_id"])
    rows.write(
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


def _outcome(
    school_id: str, results: list[tuple[str, bool]], skipped: Iterable[str] = ()
) -> TransitionOutcome:
    return TransitionOutcome(
        school_id=school_id,
        changed=tuple(site for site, changed in results if changed),
        unchanged=tuple(site for site, changed in results if not changed),
        skipped=tuple(skipped),
    )
