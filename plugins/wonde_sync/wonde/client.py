"""Wonde API client: paging, retries and auth on top of Airflow's HTTP hook.

The Airflow connection (``wonde_default`` by default) owns the base URL and the application
token: ``host`` is the base URL including the version path (``https://api.wonde.com/v1.0``)
and the extras hold the header ``{"Authorization": "Bearer <app token>"}``.

* Lists are streamed one page at a time (:meth:`WondeClient.iter_pages` is a generator) by
  following ``meta.pagination.next`` verbatim; a collection is never held in memory.
* Transient failures (HTTP 429/408/500/502/503/504, timeouts, connection errors and resets,
  truncated or undecodable bodies) are retried with tenacity: capped exponential backoff,
  ``Retry-After`` honoured, at most ``max_attempts`` attempts per request.
* Everything else fails fast with a typed error from :mod:`wonde_sync.wonde.errors`.
* Tokens never reach logs, messages or reprs: the client only logs methods, URLs and statuses,
  redacts known secrets from any text it quotes, and registers them with Airflow's masker.

A client holds one ``requests`` session and is not meant to be shared between threads.
"""

from __future__ import annotations

import contextlib
import json as jsonlib
import logging
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
import tenacity
from airflow.providers.http.hooks.http import HttpHook
from requests.auth import HTTPBasicAuth

from wonde_sync.wonde.errors import (
    WondeAuthError,
    WondeError,
    WondeForbiddenError,
    WondeNotFoundError,
    WondeResponseError,
    WondeTransientError,
    WondeValidationError,
)

log = logging.getLogger(__name__)

DEFAULT_CONN_ID = "wonde_default"
#: HTTP statuses worth another attempt (rate limit, request timeout, server-side trouble).
TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_BODY_EXCERPT = 200
_MIN_SECRET_LENGTH = 4
_USER_AGENT = "calm-wonde-sync (wonde_sync.wonde.client; python-requests)"

__all__ = ["DEFAULT_CONN_ID", "TRANSIENT_STATUSES", "Page", "WondeClient", "WondeError"]


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a Wonde list: its records, its 1-based position in the stream, its URL."""

    records: list[dict[str, Any]]
    number: int
    url: str


class _TransientFailure(Exception):
    """Internal: one attempt failed in a way that may succeed if retried."""

    def __init__(self, reason: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


class _WaitRetryAfterOrExponential(tenacity.wait.wait_base):
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


class WondeClient:
    """Client for the Wonde REST API (v1.0), built on ``HttpHook`` and an Airflow connection.

    :param conn_id: Airflow HTTP connection: ``host`` = base URL incl. ``/v1.0``, extras =
        ``{"Authorization": "Bearer <app token>"}``.
    :param school_token: a school's own token; replaces the connection's Authorization header.
    :param domain: API host (``region.domain``) replacing the connection's host; the scheme and
        version path of the connection's base URL are kept.
    :param per_page: page size added to list requests (Wonde's default is 50).
    :param timeout: seconds to wait for the server (connect and read) per attempt.
    :param max_attempts: attempts per request, the first one included.
    :param backoff_initial: first backoff in seconds; doubles per retry.
    :param backoff_max: cap of any single wait, ``Retry-After`` included.
    """

    def __init__(
        self,
        conn_id: str = DEFAULT_CONN_ID,
        school_token: str | None = None,
        domain: str | None = None,
        per_page: int = 200,
        timeout: float = 30.0,
        max_attempts: int = 5,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
    ) -> None:
        if per_page < 1:
            raise ValueError(f"per_page must be >= 1, got {per_page}")
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0, got {timeout}")
        if backoff_initial < 0 or backoff_max < 0:
            raise ValueError("backoff_initial and backoff_max must be >= 0")
        self.conn_id = conn_id
        self.domain = domain
        self.per_page = per_page
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        #: HTTP requests sent by this client, retries included.
        self.request_count = 0
        self._school_token = school_token or None
        self._secrets: list[str] = []
        self._hook = HttpHook(method="GET", http_conn_id=conn_id)
        self._session: requests.Session | None = None
        self._base_url: str | None = None
        if self._school_token:
            self._add_secret(self._school_token)

    # ------------------------------------------------------------------ public API

    def iter_pages(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[Page]:
        """Yield the pages of a list endpoint lazily, following ``meta.pagination.next``.

        ``per_page`` is added to ``params`` unless given. Later pages are requested only when
        the consumer asks for them. Stops when ``next`` is null or ``more`` is false.
        """
        query = dict(params or {})
        query.setdefault("per_page", self.per_page)
        url: str | None = self._with_query(self._url(path), query)
        seen: set[str] = set()
        number = 0
        while url is not None:
            seen.add(url)
            body = self._call("GET", url)
            records = body.get("data") if isinstance(body, dict) else None
            if not isinstance(records, list):
                raise WondeResponseError(
                    f"Wonde GET {self._clean(url)} returned no 'data' list (not a list endpoint?)",
                    url=self._clean(url),
                    method="GET",
                )
            next_url = self._next_url(url, body)
            del body
            number += 1
            if not records and number > 1:
                log.warning(
                    "Wonde page %d at %s is empty although the previous page announced more; "
                    "the list may be incomplete",
                    number,
                    self._clean(url),
                )
            yield Page(records=records, number=number, url=url)
            del records
            if next_url is not None and next_url in seen:
                raise WondeResponseError(
                    f"Wonde pagination loop: page {number} at {self._clean(url)} points back to "
                    f"{self._clean(next_url)}, which was already fetched",
                    url=self._clean(url),
                    method="GET",
                )
            url = next_url

    def iter_records(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[dict]:
        """Yield the records of a list endpoint one by one (pages are fetched lazily)."""
        for page in self.iter_pages(path, params):
            yield from page.records

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET a single resource and return its ``data`` object."""
        url = self._with_query(self._url(path), dict(params or {}))
        body = self._call("GET", url)
        if not isinstance(body, dict) or "data" not in body:
            raise WondeResponseError(
                f"Wonde GET {self._clean(url)} returned no 'data' object",
                url=self._clean(url),
                method="GET",
            )
        return body["data"]

    def post(self, path: str, json: Any = None) -> Any:
        """POST a JSON body (e.g. ``request-access`` contacts); return the decoded JSON body."""
        return self._call("POST", self._url(path), json=json)

    def delete(self, path: str) -> Any:
        """DELETE (e.g. ``revoke-access``); return the decoded JSON body (``None`` if empty)."""
        return self._call("DELETE", self._url(path))

    def for_school(self, school: Mapping[str, Any], school_token: str | None = None) -> WondeClient:
        """Return a new client for ``school``: its ``region.domain``, its token if given.

        The scheme and version path of the connection's base URL are kept; only the host
        changes. Without ``school_token`` the connection's (application) token is used.
        """
        region = school.get("region") or {}
        domain = region.get("domain") if isinstance(region, Mapping) else None
        if not domain:
            log.warning(
                "Wonde school %s has no region.domain; using the host of connection '%s'",
                school.get("id"),
                self.conn_id,
            )
        return WondeClient(
            conn_id=self.conn_id,
            school_token=school_token,
            domain=domain or None,
            per_page=self.per_page,
            timeout=self.timeout,
            max_attempts=self.max_attempts,
            backoff_initial=self.backoff_initial,
            backoff_max=self.backoff_max,
        )

    @property
    def base_url(self) -> str:
        """The base URL requests are sent to (connection host, or ``domain`` when given)."""
        self._connect()
        assert self._base_url is not None
        return self._base_url

    def close(self) -> None:
        """Close the HTTP session (a new one is opened on the next request)."""
        if self._session is not None:
            self._session.close()
            self._session = None

    def __enter__(self) -> WondeClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = self._base_url or (f"domain={self.domain}" if self.domain else "connection host")
        auth = "school token" if self._school_token else "connection token"
        return (
            f"WondeClient(conn_id={self.conn_id!r}, base_url={where!r}, auth={auth} (masked), "
            f"per_page={self.per_page}, requests={self.request_count})"
        )

    __str__ = __repr__

    # ------------------------------------------------------------------ connection and URLs

    def _connect(self) -> requests.Session:
        if self._session is not None:
            return self._session
        headers = {"Accept": "application/json", "User-Agent": _USER_AGENT}
        if self._school_token:
            headers["Authorization"] = f"Bearer {self._school_token}"
        session = self._hook.get_conn(headers=headers)
        if self._school_token:
            session.auth = None  # a login/password on the connection must not override it
        base_url = self._hook.base_url.rstrip("/")
        if not urlsplit(base_url).netloc:
            session.close()
            raise ValueError(
                f"Airflow connection '{self.conn_id}' has no host: set it to the Wonde base URL "
                "including the version path, e.g. https://api.wonde.com/v1.0"
            )
        if self.domain:
            base_url = _replace_host(base_url, self.domain)
        self._collect_secrets(session)
        self._base_url = base_url
        self._session = session
        return session

    def _collect_secrets(self, session: requests.Session) -> None:
        authorization = session.headers.get("Authorization")
        if isinstance(authorization, bytes):
            authorization = authorization.decode("latin-1")
        if authorization:
            self._add_secret(authorization)
            _, _, credential = authorization.strip().partition(" ")
            if credential:
                self._add_secret(credential.strip())
        if isinstance(session.auth, HTTPBasicAuth):
            for value in (session.auth.username, session.auth.password):
                if isinstance(value, str):
                    self._add_secret(value)

    def _add_secret(self, secret: str) -> None:
        if len(secret) < _MIN_SECRET_LENGTH or secret in self._secrets:
            return
        self._secrets.append(secret)
        self._secrets.sort(key=len, reverse=True)  # redact "Bearer x" before "x"
        with contextlib.suppress(Exception):  # masking is best effort outside a task
            from airflow.sdk.log import mask_secret

            mask_secret(secret)

    def _clean(self, text: str) -> str:
        """Redact every known secret from text quoted in logs or messages."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        self._connect()
        return f"{self._base_url}/{path.lstrip('/')}"

    @staticmethod
    def _with_query(url: str, params: Mapping[str, Any]) -> str:
        if not params:
            return url
        prepared = requests.PreparedRequest()
        prepared.prepare_url(url, params)
        assert prepared.url is not None
        return prepared.url

    def _next_url(self, current: str, body: dict[str, Any]) -> str | None:
        meta = body.get("meta")
        pagination = meta.get("pagination") if isinstance(meta, dict) else None
        if not isinstance(pagination, dict):
            return None
        next_url = pagination.get("next")
        if not next_url or pagination.get("more") is False:
            return None
        if not isinstance(next_url, str):
            raise WondeResponseError(
                f"Wonde GET {self._clean(current)} returned a non-string pagination.next",
                url=self._clean(current),
                method="GET",
            )
        next_url = urljoin(current, next_url)  # verbatim when absolute (the normal case)
        if urlsplit(current).scheme == "https" and urlsplit(next_url).scheme != "https":
            raise WondeResponseError(
                f"Wonde pagination.next {self._clean(next_url)} downgrades https; refusing to "
                "send the token over plain HTTP",
                url=self._clean(current),
                method="GET",
            )
        return next_url

    # ------------------------------------------------------------------ requests and retries

    def _call(self, method: str, url: str, json: Any = None) -> Any:
        """Send one logical request with retries; return the decoded JSON body."""
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.max_attempts),
            wait=_WaitRetryAfterOrExponential(self.backoff_initial, self.backoff_max),
            retry=tenacity.retry_if_exception_type(_TransientFailure),
            before_sleep=lambda state: self._log_retry(method, url, state),
            reraise=False,
        )
        try:
            return retrying(self._attempt, method, url, json)
        except tenacity.RetryError as exc:
            failure = exc.last_attempt.exception()
            reason = getattr(failure, "reason", str(failure))
            attempts = exc.last_attempt.attempt_number
            raise WondeTransientError(
                f"Wonde {method} {self._clean(url)} failed after {attempts} attempt(s) "
                f"(transient errors, retries exhausted); last error: {reason}",
                status=getattr(failure, "status", None),
                url=self._clean(url),
                method=method,
                attempts=attempts,
            ) from failure

    def _log_retry(self, method: str, url: str, state: tenacity.RetryCallState) -> None:
        failure = state.outcome.exception() if state.outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        log.warning(
            "Wonde %s %s failed (%s); attempt %d of %d, retrying in %.2f s",
            method,
            self._clean(url),
            getattr(failure, "reason", failure),
            state.attempt_number,
            self.max_attempts,
            wait,
        )

    def _attempt(self, method: str, url: str, json: Any) -> Any:
        session = self._connect()
        prepared = session.prepare_request(requests.Request(method, url, json=json))
        options = {**self._hook.merged_extra, "timeout": self.timeout, "check_response": False}
        self.request_count += 1
        try:
            response = self._hook.run_and_check(session, prepared, options)
            content = response.content  # read here so a short body is caught as transient
        except requests.Timeout as exc:
            raise _TransientFailure(f"no answer within {self.timeout:g} s ({_name(exc)})") from exc
        except (
            requests.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ) as exc:
            raise _TransientFailure(f"connection failed or body cut short ({_name(exc)})") from exc
        status = response.status_code
        log.debug("Wonde %s %s -> HTTP %d", method, self._clean(url), status)
        if 200 <= status < 300:
            return self._decode(method, url, response, content)
        if status in TRANSIENT_STATUSES:
            raise _TransientFailure(
                f"HTTP {status} {response.reason}".rstrip(),
                status=status,
                retry_after=_parse_retry_after(response.headers.get("Retry-After")),
            )
        raise self._permanent_error(method, url, response, content)

    def _decode(self, method: str, url: str, response: requests.Response, content: bytes) -> Any:
        if not content.strip():
            if method == "GET":
                raise _TransientFailure(f"HTTP {response.status_code} with an empty body")
            return None
        try:
            return jsonlib.loads(content)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
            raise _TransientFailure(
                f"HTTP {response.status_code} with an undecodable JSON body ({len(content)} bytes)"
            ) from exc

    def _permanent_error(
        self, method: str, url: str, response: requests.Response, content: bytes
    ) -> WondeError:
        status = response.status_code
        where = f"{method} {self._clean(url)}"
        excerpt = self._excerpt(content)
        detail = f"; Wonde said: {excerpt}" if excerpt else ""
        common = {"status": status, "url": self._clean(url), "method": method}
        if status == 401:
            whose = (
                "check the school token used for this school"
                if self._school_token
                else f"check the Authorization header of connection '{self.conn_id}'"
            )
            return WondeAuthError(
                f"Wonde rejected the token (401) for {where}: {whose}{detail}", **common
            )
        if status == 403:
            return WondeForbiddenError(
                f"Wonde refused access (403) for {where}: no access to this school/resource "
                f"(not approved, not audited, or revoked){detail}",
                **common,
            )
        if status == 404:
            return WondeNotFoundError(
                f"Wonde has no such resource (404): {where}{detail}", **common
            )
        if status == 422:
            errors: dict[str, Any] = {}
            with contextlib.suppress(ValueError):
                body = jsonlib.loads(content)
                if isinstance(body, dict) and isinstance(body.get("errors"), dict):
                    errors = body["errors"]
            return WondeValidationError(
                f"Wonde rejected the request (422 validation failed) for {where}{detail}",
                errors=errors,
                **common,
            )
        reason = f"HTTP {status} {response.reason or ''}".rstrip()
        return WondeResponseError(f"Wonde answered {reason} for {where}{detail}", **common)

    def _excerpt(self, content: bytes) -> str:
        text = " ".join(content.decode("utf-8", errors="replace").split())
        text = self._clean(text)
        if len(text) > _BODY_EXCERPT:
            text = text[:_BODY_EXCERPT] + "..."
        return text


def _replace_host(base_url: str, domain: str) -> str:
    """Swap the host (and port) of ``base_url`` for ``domain``; keep scheme and path."""
    domain = domain.strip()
    netloc = urlsplit(domain).netloc if "://" in domain else domain.split("/", 1)[0]
    if not netloc:
        raise ValueError(f"Invalid Wonde domain: {domain!r}")
    parts = urlsplit(base_url)
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _parse_retry_after(value: str | None) -> float | None:
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


def _name(exc: BaseException) -> str:
    return type(exc).__name__
