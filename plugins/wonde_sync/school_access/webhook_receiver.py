"""Wonde's webhooks, applied and journaled in ``wonde_webhook_events``.

Each delivery becomes one transition (:mod:`wonde_sync.school_access.transitions`) and one
journal row saying what it did, written in the same transaction: a delivery is applied and
journaled together, or neither. The raw body and the school token are never stored.

Re-deliveries (Wonde sends no delivery id) are recognised by their content:

* an approval by ``dedupe_key``, the SHA-256 of school id and token, unique in the journal,
  so of concurrent deliveries exactly one is applied and the others are ``duplicate``, and a
  stale re-delivery after a revocation cannot resurrect the revoked token;
* any other event by ``payload_digest``: changing nothing while the latest delivery applied
  for the school had the same content makes it a ``duplicate``.

Concurrent deliveries take turns: on PostgreSQL the access rows are locked for update and the
unique ``dedupe_key`` refuses a second approval; on SQLite the transaction takes the write
lock from its start (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from wonde_sync.core import text_input
from wonde_sync.core.database import table, utcnow
from wonde_sync.school_access import transitions
from wonde_sync.wonde import redaction, webhooks

log = logging.getLogger(__name__)

APPLIED = "applied"
NO_CHANGE = "no_change"
DUPLICATE = "duplicate"
UNMATCHED = "unmatched"
#: Refused for what it carries (a school token that cannot be sent in a header).
REJECTED = "rejected"

_SCHOOL_ID = re.compile(r"[\w-]{1,64}")


@dataclass(frozen=True)
class WebhookReceipt:
    """What a delivery did: ``applied``, ``no_change``, ``duplicate``, ``unmatched`` or
    ``rejected`` (then ``detail`` says why)."""

    payload_type: str
    school_id: str | None
    effect: str
    site_ids: tuple[str, ...]
    detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (``detail`` only when there is one)."""
        found = {**self.__dict__, "site_ids": list(self.site_ids)}
        if self.detail is None:
            del found["detail"]
        return found


class _AlreadyReceived(Exception):
    """Raised inside the transaction to roll it back: the delivery was received before."""


def receive_webhook(engine: Engine, event: webhooks.WebhookEvent) -> WebhookReceipt:
    """Apply one parsed Wonde webhook and journal it in ``wonde_webhook_events``, together.

    An approval whose school token cannot be sent in an HTTP header is journaled as
    ``rejected`` and changes nothing.
    """
    digest = payload_digest(event)
    dedupe_key = None
    if isinstance(event, webhooks.SchoolApproved):
        secret = event.school_token.get_secret_value()
        problem = redaction.header_problem(secret)
        if problem:
            return _reject(engine, event.payload_type, event.school_id, problem)
        dedupe_key = hashlib.sha256(f"{event.school_id}\n{secret}".encode()).hexdigest()
    try:
        with _write_transaction(engine) as conn:
            if dedupe_key is not None and _already_received(conn, dedupe_key):
                raise _AlreadyReceived
            outcome = _apply(conn, event)
            effect = _effect(conn, event, outcome, digest)
            try:
                return _journal(conn, event, effect, outcome.matched, dedupe_key, digest)
            except sa.exc.IntegrityError as exc:
                # The same approval was applied by a concurrent delivery that committed first.
                raise _AlreadyReceived from exc
    except _AlreadyReceived:
        with _write_transaction(engine) as conn:
            return _journal(conn, event, DUPLICATE, (), None, digest, "already received")


def refuse_unusable_token(engine: Engine, body: bytes) -> WebhookReceipt | None:
    """Journal as ``rejected`` a schoolApproved body whose token cannot go in a header.

    Checked on the raw body, before the payload is validated, so that every such delivery
    is journaled with the reason; None for any other body (validated as usual).
    """
    if text_input.json_depth(body) > text_input.MAX_JSON_DEPTH:
        return None  # refused by the payload's validation, before any parser recurses
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(data, dict) or data.get("payload_type") != webhooks.SCHOOL_APPROVED:
        return None
    token = data.get("school_token")
    problem = redaction.header_problem(token) if isinstance(token, str) else None
    if problem is None:
        return None
    school_id = data.get("school_id")
    if not isinstance(school_id, str) or not _SCHOOL_ID.fullmatch(school_id.strip()):
        school_id = None
    return _reject(engine, webhooks.SCHOOL_APPROVED, school_id and school_id.strip(), problem)


def payload_digest(event: webhooks.WebhookEvent) -> str:
    """SHA-256 of a delivery's fields as canonical JSON (the school token included)."""
    fields = event.model_dump(mode="json")
    if isinstance(event, webhooks.SchoolApproved):
        fields["school_token"] = event.school_token.get_secret_value()
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@contextlib.contextmanager
def _write_transaction(engine: Engine) -> Generator[Connection]:
    """One transaction; on SQLite it holds the write lock from its start, so that two
    deliveries cannot both read before either writes."""
    with engine.connect() as conn:
        if engine.dialect.name != "sqlite":
            with conn.begin():
                yield conn
            return
        # sqlite3 would open the transaction only at the first write; in autocommit mode we
        # emit BEGIN IMMEDIATE ourselves (sqlite3 still commits and rolls back).
        conn.execution_options(isolation_level="AUTOCOMMIT")
        with conn.begin():
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield conn


def _apply(conn: Connection, event: webhooks.WebhookEvent) -> transitions.TransitionOutcome:
    if isinstance(event, webhooks.SchoolApproved):
        secret = event.school_token.get_secret_value()
        return transitions.record_approval(conn, event.school_id, secret)
    if isinstance(event, webhooks.AccessDeclined):
        return transitions.record_decline(conn, event.school_id, event.decline_reason)
    if isinstance(event, webhooks.AccessRevoked):
        return transitions.record_revocation(conn, event.school_id, event.revoke_reason)
    if event.school_id is None:
        return transitions.TransitionOutcome(school_id=None)
    return transitions.record_migration(conn, event.school_id, event.migrate_from, event.migrate_to)


def _effect(
    conn: Connection,
    event: webhooks.WebhookEvent,
    outcome: transitions.TransitionOutcome,
    digest: str,
) -> str:
    if outcome.changed:
        return APPLIED
    if outcome.unchanged:
        return DUPLICATE if _last_applied_digest(conn, event.school_id) == digest else NO_CHANGE
    log.warning(
        "Wonde %s for school %s matches no connection; nothing changed",
        event.payload_type,
        getattr(event, "school_id", None) or "(no id)",
    )
    return UNMATCHED


def _already_received(conn: Connection, dedupe_key: str) -> bool:
    events = table("wonde_webhook_events")
    seen = conn.execute(sa.select(events.c.id).where(events.c.dedupe_key == dedupe_key))
    return seen.first() is not None


def _last_applied_digest(conn: Connection, school_id: str) -> str | None:
    """The content digest of the latest delivery that changed the school's access."""
    events = table("wonde_webhook_events")
    return conn.execute(
        sa.select(events.c.payload_digest)
        .where(events.c.school_id == school_id, events.c.effect == APPLIED)
        .order_by(events.c.id.desc())
        .limit(1)
    ).scalar()


def _reject(
    engine: Engine, payload_type: str, school_id: str | None, problem: str
) -> WebhookReceipt:
    detail = redaction.unusable_token_message(problem)
    log.warning(
        "Refused a Wonde %s for school %s: %s", payload_type, school_id or "(no id)", detail
    )
    receipt = WebhookReceipt(payload_type, school_id, REJECTED, (), detail)
    with _write_transaction(engine) as conn:
        _insert(conn, receipt, None, None)
    return receipt


def _journal(
    conn: Connection,
    event: webhooks.WebhookEvent,
    effect: str,
    site_ids: tuple[str, ...],
    dedupe_key: str | None,
    digest: str,
    detail: str | None = None,
) -> WebhookReceipt:
    school_id = getattr(event, "school_id", None)
    receipt = WebhookReceipt(event.payload_type, school_id, effect, site_ids, detail)
    _insert(conn, receipt, dedupe_key, digest)
    return receipt


def _insert(
    conn: Connection, receipt: WebhookReceipt, dedupe_key: str | None, digest: str | None
) -> None:
    events = table("wonde_webhook_events")
    conn.execute(
        sa.insert(events).values(
            received_at=utcnow(),
            payload_type=receipt.payload_type,
            school_id=receipt.school_id,
            dedupe_key=dedupe_key,
            payload_digest=digest,
            effect=receipt.effect,
            site_ids=",".join(receipt.site_ids) or None,
            detail=receipt.detail,
        )
    )
