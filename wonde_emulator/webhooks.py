"""Delivery of Wonde-style webhooks (``schoolApproved``, ``accessDeclined``, ``accessRevoked``).

Wonde's dashboard offers only a URL field, so integrations authenticate deliveries with a
secret in the query string. When a ``webhook_secret`` is configured it is therefore appended
to the URL as ``secret=<percent-encoded value>``; no signature header is sent.
Deliveries are synchronous with a short timeout; failures are recorded, never raised.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from urllib.parse import quote, urlsplit, urlunsplit

TIMEOUT_SECONDS = 5.0

# Receivers are local test servers; an environment proxy must not intercept them.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def delivery_url(url: str, secret: str | None) -> str:
    """``url`` with ``secret=...`` appended to its query when a secret is set."""
    if not secret:
        return url
    parts = urlsplit(url)
    extra = "secret=" + quote(secret, safe="")
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit(parts._replace(query=query))


def deliver(url: str, secret: str | None, payload: dict) -> dict:
    """POST ``payload`` as JSON; returns ``{"status": int|None, "error": str|None}``."""
    request = urllib.request.Request(
        delivery_url(url, secret),
        data=json.dumps(payload).encode("utf-8"),
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "Wonde-Webhooks"},
    )
    try:
        with _OPENER.open(request, timeout=TIMEOUT_SECONDS) as answer:
            answer.read()
            return {"status": answer.status, "error": None}
    except urllib.error.HTTPError as exc:
        return {"status": exc.code, "error": f"HTTP {exc.code}"}
    except (OSError, ValueError) as exc:
        return {"status": None, "error": f"{type(exc).__name__}: {exc}"}
