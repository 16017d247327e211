"""Wonde's webhook receiver: ``POST /wonde/webhooks/wonde?secret=...`` (no service token).

Wonde calls it with schoolApproved, accessDeclined, accessRevoked and schoolMigration. The
secret is read from the raw query string (a ``+`` stays a ``+``) and compared in constant
time with ``WONDE_WEBHOOK_SECRET``. The answer is 5xx only when a retry can help (database
unavailable, receiver not configured), since Wonde re-delivers on 5xx. An approval whose
school token cannot be sent in an HTTP header is refused with 422 and journaled as
``rejected``, with the reason.
"""

from __future__ import annotations

import hmac
import logging
import os
from urllib.parse import unquote, unquote_to_bytes

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from wonde_sync.core import text_input
from wonde_sync.school_access.errors import ConcurrentChangeError
from wonde_sync.school_access.token_vault import TokenVaultError
from wonde_sync.school_access.webhook_receiver import (
    REJECTED,
    receive_webhook,
    refuse_unusable_token,
)
from wonde_sync.web.auth import WebError, read_body
from wonde_sync.wonde import webhooks

log = logging.getLogger(__name__)

WEBHOOK_SECRET_ENV = "WONDE_WEBHOOK_SECRET"

router = APIRouter()


def webhook_secret(request: Request) -> str | None:
    """The secret Wonde must send: the app's own (``""`` for none), else the environment's."""
    given = request.app.state.webhook_secret
    if given is not None:
        return given or None
    return os.environ.get(WEBHOOK_SECRET_ENV) or None


def secret_matches(query_string: bytes, expected: str) -> bool:
    """Whether the raw query holds exactly one ``secret`` equal to ``expected``.

    Percent-escapes are decoded but ``+`` is kept (form decoding would turn it into a
    space, and Wonde secrets may contain ``+`` and ``/``).
    """
    found = [
        unquote_to_bytes(value)
        for name, _, value in (part.partition(b"=") for part in query_string.split(b"&"))
        if unquote(name.decode("latin-1")) == "secret"
    ]
    if len(found) != 1:
        return False
    return hmac.compare_digest(found[0], expected.encode("utf-8"))


@router.post("/webhooks/wonde")
async def wonde_webhook(request: Request) -> dict:
    """Wonde's webhook: schoolApproved, accessDeclined, accessRevoked, schoolMigration."""
    expected = webhook_secret(request)
    if expected is None:
        # Wonde keeps re-delivering on 5xx, so nothing is lost while this is fixed.
        log.error("%s is not set: refusing Wonde webhooks", WEBHOOK_SECRET_ENV)
        raise WebError(503, "The webhook receiver is not configured.")
    if not secret_matches(request.scope.get("query_string", b""), expected):
        raise WebError(401, "Unknown webhook secret.")
    body = await read_body(request, webhooks.MAX_BODY_BYTES)
    try:
        engine = request.app.state.database()
        refused = await run_in_threadpool(refuse_unusable_token, engine, body)
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        # Answered 503 so that the refusal is journaled when Wonde delivers it again.
        log.error("Could not journal a refused Wonde webhook: %s", type(exc).__name__)
        raise WebError(503, "Unable to record the event now; deliver it again.") from exc
    if refused is not None:
        raise WebError(422, refused.detail, {"school_token": [refused.detail]})
    try:
        event = webhooks.parse(body)
        unsafe = [
            name
            for name, value in event.model_dump().items()
            if isinstance(value, str) and text_input.has_control_characters(value, multiline=True)
        ]
    except webhooks.WebhookPayloadError as exc:
        log.warning("Rejected a Wonde webhook: %s", exc)
        raise WebError(422, str(exc), exc.errors or None) from None
    if unsafe:
        message = text_input.CONTROL_MESSAGE
        raise WebError(422, message, {name: [message] for name in sorted(unsafe)})
    try:
        receipt = await run_in_threadpool(receive_webhook, engine, event)
    except (sa.exc.OperationalError, sa.exc.InterfaceError, TokenVaultError) as exc:
        # Transient (or fixable by an operator): Wonde will deliver it again.
        log.error("Could not record Wonde %s: %s", event.payload_type, type(exc).__name__)
        raise WebError(503, "Unable to record the event now; deliver it again.") from exc
    except ConcurrentChangeError as exc:
        raise WebError(503, str(exc)) from exc
    if receipt.effect == REJECTED:
        raise WebError(422, receipt.detail, {"school_token": [receipt.detail]})
    return receipt.as_dict()
