"""Reading Wonde's answers: JSON bodies, and the typed error each refusal becomes.

Every text quoted from a response passes through the client's redaction first, so no
token reaches a message.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

import orjson
import requests

from wonde_sync.wonde import pacing
from wonde_sync.wonde.errors import (
    WondeAuthError,
    WondeError,
    WondeForbiddenError,
    WondeNotFoundError,
    WondeResponseError,
    WondeValidationError,
)
from wonde_sync.wonde.retries import TransientFailure, parse_retry_after

_BODY_EXCERPT = 200


def decode(method: str, response: requests.Response, content: bytes) -> Any:
    """The decoded JSON body of a 2xx answer (``None`` for an empty non-GET answer).

    An empty or undecodable body of a GET is a :class:`TransientFailure`: it is usually a
    connection cut short, which another attempt fixes.
    """
    if not content.strip():
        if method == "GET":
            raise TransientFailure(f"HTTP {response.status_code} with an empty body")
        return None
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        pass  # orjson is strict; what it refuses, the standard parser may still read
    try:
        # Lone surrogates, NaN and integers past 64 bits: valid for PHP's encoder and for
        # json, refused by orjson (the importer makes such text storable).
        return json.loads(content)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise TransientFailure(
            f"HTTP {response.status_code} with an undecodable JSON body ({len(content)} bytes)"
        ) from exc


def transient_failure(response: requests.Response, *, max_pause: float) -> TransientFailure:
    """The failure of an answer worth another attempt (408, 429, 5xx).

    A 429 with ``Retry-After`` also holds back every request of the process for that long
    (at most ``max_pause``): Wonde limits the application, not one request.
    """
    status = response.status_code
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if status == 429 and retry_after:
        pacing.gate().pause(min(retry_after, max_pause))
    return TransientFailure(
        f"HTTP {status} {response.reason}".rstrip(), status=status, retry_after=retry_after
    )


def permanent_error(
    method: str,
    url: str,
    response: requests.Response,
    content: bytes,
    *,
    clean: Callable[[str], str],
    whose_token: str,
) -> WondeError:
    """The typed error for a non-retryable answer (401, 403, 404, 422, other 4xx).

    ``clean`` redacts secrets; ``whose_token`` says which token to check on a 401.
    """
    status = response.status_code
    where = f"{method} {clean(url)}"
    excerpt = _excerpt(content, clean)
    detail = f"; Wonde said: {excerpt}" if excerpt else ""
    common = {"status": status, "url": clean(url), "method": method}
    if status == 401:
        return WondeAuthError(
            f"Wonde rejected the token (401) for {where}: {whose_token}{detail}", **common
        )
    if status == 403:
        return WondeForbiddenError(
            f"Wonde refused access (403) for {where}: no access to this school/resource "
            f"(not approved, not audited, or revoked){detail}",
            **common,
        )
    if status == 404:
        return WondeNotFoundError(f"Wonde has no such resource (404): {where}{detail}", **common)
    if status == 422:
        errors: dict[str, Any] = {}
        with contextlib.suppress(ValueError):
            body = json.loads(content)
            if isinstance(body, dict) and isinstance(body.get("errors"), dict):
                errors = body["errors"]
        return WondeValidationError(
            f"Wonde rejected the request (422 validation failed) for {where}{detail}",
            errors=errors,
            **common,
        )
    reason = f"HTTP {status} {response.reason or ''}".rstrip()
    return WondeResponseError(f"Wonde answered {reason} for {where}{detail}", **common)


def _excerpt(content: bytes, clean: Callable[[str], str]) -> str:
    text = clean(" ".join(content.decode("utf-8", errors="replace").split()))
    if len(text) > _BODY_EXCERPT:
        text = text[:_BODY_EXCERPT] + "..."
    return text
