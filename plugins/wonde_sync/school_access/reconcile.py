"""Every site's access brought in line with Wonde's lists: what missed webhooks left behind.

Run hourly by ``wonde_connections_reconcile``, before each import run, and by the CLI's
``reconcile-connections``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from wonde_sync.core.database import table, utcnow
from wonde_sync.school_access import rows, transitions
from wonde_sync.school_access.errors import ConcurrentChangeError
from wonde_sync.school_access.import_targets import unannounced_approvals
from wonde_sync.school_access.status import (
    APPROVED,
    DECLINED,
    LABELS,
    NOT_CONNECTED,
    PENDING,
    REVOKED,
    read_statuses,
    state_of,
)

log = logging.getLogger(__name__)

#: Wonde's access lists, read in this order; a school met twice keeps the last state read,
#: so "approved" (read last) wins over a state it left while the lists were being paged.
WONDE_LISTS = (
    ("schools/revoked", REVOKED),
    ("schools/declined", DECLINED),
    ("schools/pending", PENDING),
    ("schools", APPROVED),
)


@dataclass(frozen=True)
class StatusChange:
    """One site whose access the reconciliation changed."""

    site_id: str
    school_id: str
    before: str
    after: str


@dataclass(frozen=True)
class ReconcileResult:
    """What :func:`reconcile` found and did.

    ``changed``: sites whose state changed; ``newly_approved``: importable sites whose
    approval has not been announced yet (``import_targets.mark_approvals_announced``);
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
            # Approvals that reached us by any path (mostly webhooks), not only by this run.
            text += f"; approved, not yet announced to imports: {', '.join(self.newly_approved)}"
        if self.not_listed:
            text += f"; not on any Wonde list: {', '.join(self.not_listed)}"
        if self.skipped:
            text += f"; changed meanwhile, left for the next run: {', '.join(self.skipped)}"
        return text


def reconcile(engine: Engine, client: Any) -> ReconcileResult:
    """Bring every site's access in line with Wonde's lists; repair what missed webhooks left.

    Reads ``/schools`` (approved), ``/schools/pending``, ``/schools/declined`` and
    ``/schools/revoked`` page by page, keeping only the ids of schools sites asked for.
    Nothing is written until every list has been read, so a failed read changes nothing.
    Then:

    * listed as approved: :func:`~wonde_sync.school_access.transitions.record_approval`
      without a token (an access with a token stays as it is; one without becomes "School
      Already Approved");
    * listed as pending, declined or revoked: the access takes that state (a token is
      dropped), unless it changed while the lists were being read;
    * on no list: left as it is, and reported.
    """
    accesses = table("wonde_connections")
    with engine.connect() as conn:
        snapshot = [dict(row) for row in conn.execute(sa.select(accesses)).mappings()]
    on_wonde = _states_on_wonde(client, {row["school_id"] for row in snapshot})
    changed: list[str] = []
    not_listed: list[str] = []
    skipped: list[str] = []
    before = {row["site_id"]: state_of(row) for row in snapshot}
    versions = {row["site_id"]: row["lifecycle_version"] for row in snapshot}
    approved_schools = sorted({sid for sid, state in on_wonde.items() if state == APPROVED})
    for school_id in approved_schools:
        outcome = transitions.record_approval(
            engine, school_id, None, source=rows.SOURCE_RECONCILE, unchanged_since=versions
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
                sa.update(accesses)
                .where(accesses.c.site_id.in_(checked))
                .values(wonde_checked_at=utcnow())
            )
    changes = tuple(
        StatusChange(s.site_id, s.school_id or "", before.get(s.site_id, NOT_CONNECTED), s.state)
        for s in read_statuses(engine, sorted(set(changed)))
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


def _states_on_wonde(client: Any, wanted: set[str]) -> dict[str, str]:
    """School id → the state Wonde lists it in, for the schools in ``wanted``."""
    on_wonde: dict[str, str] = {}
    if wanted:
        for path, wonde_state in WONDE_LISTS:
            for record in client.iter_records(path):
                school_id = record.get("id") if isinstance(record, dict) else None
                if school_id in wanted:
                    on_wonde[school_id] = wonde_state
    return on_wonde


def _mirror(conn: Connection, seen: dict, wonde_state: str) -> bool:
    """Give one access the state Wonde lists, if the row is still as ``seen``."""
    if seen["status"] == wonde_state:
        return False
    why = f"Wonde lists the school as {wonde_state}"
    if wonde_state == DECLINED:
        return transitions.apply_decline(conn, seen, None, source=rows.SOURCE_RECONCILE, force=True)
    if wonde_state == REVOKED:
        return transitions.apply_revocation(
            conn, seen, None, source=rows.SOURCE_RECONCILE, force=True, status_reason=why
        )
    rows.write(
        conn,
        seen,
        change="pending",
        source=rows.SOURCE_RECONCILE,
        detail=why,
        status=PENDING,
        status_reason=why,
        **rows.NO_TOKEN,
    )
    return True
