"""Typed errors raised by the Wonde client.

Every error carries the HTTP ``status`` (``None`` when no response arrived, e.g. a timeout)
and the ``url`` of the request that failed. Messages never contain a token: the client
redacts every secret it knows before building them.

Transient failures (429, 5xx, timeouts, resets, truncated bodies) are retried by the client;
``WondeTransientError`` is only raised once the retries are exhausted. All other errors are
permanent: retrying the same request will not help; 401 and 403 are also
:class:`PermanentError` for the whole task (another attempt would meet the same refusal).
"""

from __future__ import annotations

from typing import Any


class PermanentError(RuntimeError):
    """A failure that retrying cannot fix (a refused token or school, a refused check).

    DAG tasks fail at once on these, without Airflow's retries (``tasks.outcomes``).
    """


class WondeError(Exception):
    """Base class of every error the Wonde client raises."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        url: str | None = None,
        method: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.url = url
        self.method = method

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, url={self.url!r})"

    def _state(self) -> dict[str, Any]:
        return {"status": self.status, "url": self.url, "method": self.method}

    def __reduce__(self):  # keep status/url when pickled (e.g. across processes)
        return (_rebuild, (type(self), self.message, self._state()))


def _rebuild(cls: type[WondeError], message: str, state: dict[str, Any]) -> WondeError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.message = message
    error.__dict__.update(state)
    return error


class WondeTransientError(WondeError):
    """A retryable failure (429, 5xx, timeout, reset, bad body) that outlived every attempt."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        url: str | None = None,
        method: str | None = None,
        attempts: int = 0,
    ) -> None:
        super().__init__(message, status=status, url=url, method=method)
        self.attempts = attempts

    def _state(self) -> dict[str, Any]:
        return {**super()._state(), "attempts": self.attempts}


class WondeAuthError(WondeError, PermanentError):
    """401: Wonde rejected the token (wrong, expired or rotated). Permanent for every school."""


class WondeForbiddenError(WondeError, PermanentError):
    """403: no access to this school/resource (not approved, not audited, or revoked)."""


class WondeNotFoundError(WondeError):
    """404: the school or resource does not exist (or the path is wrong)."""


class WondeValidationError(WondeError):
    """422: Wonde refused the request body; ``errors`` holds the body's ``errors`` mapping."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = 422,
        url: str | None = None,
        method: str | None = None,
        errors: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, status=status, url=url, method=method)
        self.errors: dict[str, Any] = errors or {}

    def _state(self) -> dict[str, Any]:
        return {**super()._state(), "errors": self.errors}


class WondeResponseError(WondeError):
    """Any other unexpected answer: another 4xx, a malformed envelope, a pagination loop."""


__all__ = [
    "PermanentError",
    "WondeAuthError",
    "WondeError",
    "WondeForbiddenError",
    "WondeNotFoundError",
    "WondeResponseError",
    "WondeTransientError",
    "WondeValidationError",
]
