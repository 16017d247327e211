"""Wonde's webhooks, applied and journaled in ``wonde_webhook_events``.

Each delivery becomes one transition (:mod:`wonde_sync.school_access.transitions`) and one
journal row saying what it did. The raw body and the school token are never stored.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from wonde_sync.core.database import table, utcnow
from wonde_sync.school_access import transitions
from wonde_sync.wonde import webhooks

log = logging.getLogger(__name__)


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


def receive_webhook(engine: Engine, event: webhooks.WebhookEvent) -> WebhookReceipt:
    """Apply one parsed Wonde webhook and journal it in ``wonde_webhook_events``.

    Re-delivery is harmless: each transition is a no-op when already applied, and an
    approval already received (same school and token) is recognised by its digest and
    ignored, even after a later revocation, so a stale re-delivery cannot resurrect a
    revoked token.
    """
    dedupe_key = None
    if isinstance(event, webhooks.SchoolApproved):
        secret = event.school_token.get_secret_value()
        dedupe_key = hashlib.sha256(f"{event.school_id}\n{secret}".encode()).hexdigest()
        if _already_received(engine, dedupe_key):
            return _duplicate(engine, event)
        outcome = transitions.record_approval(engine, event.school_id, secret)
    elif isinstance(event, webhooks.AccessDeclined):
        outcome = transitions.record_decline(engine, event.school_id, event.decline_reason)
    elif isinstance(event, webhooks.AccessRevoked):
        outcome = transitions.record_revocation(engine, event.school_id, event.revoke_reason)
    elif event.school_id is None:
        outcome = transitions.TransitionOutcome(school_id=None)
    else:
        outcome = transitions.record_migration(
            engine, event.school_id, event.migrate_from, event.migrate_to
        )
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
        return _duplicate(engine, event)


def _already_received(engine: Engine, dedupe_key: str) -> bool:
    events = table(engine, "wonde_webhook_events")
    with engine.connect() as conn:
        seen = conn.execute(sa.select(events.c.id).where(events.c.dedupe_key == dedupe_key))
        return seen.first() is not None


def _duplicate(engine: Engine, event: webhooks.WebhookEvent) -> WebhookReceipt:
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
