"""When and how long the Wonde client waits before trying a request again.

Transient failures (HTTP 408/429/5xx, timeouts, resets, truncated or undecodable bodies)
are retried with tenacity: capped exponential backoff, ``Retry-After`` honoured when the
server sends it, a bounded number of attempts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import tenacity

#: HTTP statuses worth another attempt (rate limit, request timeout, server-side trouble).
TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class TransientFailure(Exception):
    """One attempt failed in a way that may succeed if retried (never leaves the client)."""

    def __init__(self, reason: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


class WaitRetryAfterOrExponential(tenacity.wait.wait_base):
    """Wait ``Retry-After`` seconds when the server sent it, else capped exponential backoff."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.maximum = maximum
        self.exponential = tenacity.wait_exponential(multiplier=initial, min=0, max=maximum)

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        outcome = retry_state.outcome
        failure = outcome.exception() if outcome is not None else None
        retry_after = getattr(failure, "retry_after", None)
        if retry_after is not None:
            return min(retry_after, self.maximum)
        return self.exponential(retry_state)


def retrying(
    max_attempts: int,
    backoff_initial: float,
    backoff_max: float,
    before_sleep: Callable[[tenacity.RetryCallState], None],
) -> tenacity.Retrying:
    """A tenacity policy that retries :class:`TransientFailure` only."""
    return tenacity.Retrying(
        stop=tenacity.stop_after_attempt(max_attempts),
        wait=WaitRetryAfterOrExponential(backoff_initial, backoff_max),
        retry=tenacity.retry_if_exception_type(TransientFailure),
        before_sleep=before_sleep,
        reraise=False,
    )


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date); ``None`` if absent."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)
