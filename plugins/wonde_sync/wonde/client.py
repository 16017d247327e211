"""Wonde API client: paging, retries and auth on top of Airflow's HTTP hook.

The Airflow connection (``wonde_default`` by default) owns the base URL and the application
token: ``host`` is the base URL including the version path (``https://api.wonde.com/v1.0``)
and the extras hold the header ``{"Authorization": "Bearer <app token>"}``.

* Lists are streamed one page at a time, following ``meta.pagination.next`` verbatim
  (:mod:`.paging`); a collection is never held in memory.
* Transient failures are retried with capped backoff and ``Retry-After`` (:mod:`.retries`);
  everything else fails fast with a typed error (:mod:`.errors`, :mod:`.responses`).
* Tokens never reach logs, messages or reprs (:mod:`.redaction`).

A client holds one ``requests`` session (only its read-ahead pages share it between
threads); the sessions share one connection pool per process (:mod:`.connection_pool`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
import tenacity

from wonde_sync.wonde import pacing, responses
from wonde_sync.wonde.errors import WondeResponseError, WondeTransientError
from wonde_sync.wonde.hook import WondeHook
from wonde_sync.wonde.paging import Page, follow_pages
from wonde_sync.wonde.redaction import Secrets
from wonde_sync.wonde.retries import TRANSIENT_STATUSES, TransientFailure, retrying
from wonde_sync.wonde.urls import replace_host, with_query

log = logging.getLogger(__name__)

DEFAULT_CONN_ID = "wonde_default"
_USER_AGENT = "calm-wonde-sync (wonde_sync.wonde.client; python-requests)"


class WondeClient:
    """Client for the Wonde REST API (v1.0), built on ``HttpHook`` and an Airflow connection.

    :param conn_id: Airflow HTTP connection: ``host`` = base URL incl. ``/v1.0``, extras =
        ``{"Authorization": "Bearer <app token>"}``.
    :param school_token: a school's own token; replaces the connection's Authorization header.
        :class:`~.redaction.UnusableTokenError` if it cannot be sent in a header.
    :param domain: API host (``region.domain``) replacing the connection's host; the scheme and
        version path of the connection's base URL are kept.
    :param per_page: page size added to list requests (Wonde's default is 50).
    :param timeout: seconds to wait for the server (connect and read) per attempt.
    :param max_attempts: attempts per request, the first one included.
    :param backoff_initial: first backoff in seconds; doubles per retry.
    :param backoff_max: cap of any single wait, ``Retry-After`` included.
    :param app_hook: the application client's hook, whose connection look-up a school's
        client shares.
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
        app_hook: WondeHook | None = None,
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
        self._count_lock = threading.Lock()
        self._secrets = Secrets()
        # Checked now: a token that cannot go in a header would fail every request.
        self._school_token = self._secrets.school_token(school_token)
        self._hook = WondeHook(conn_id, app_hook)
        self._session: requests.Session | None = None
        self._base_url: str | None = None

    # ------------------------------------------------------------------ public API

    def iter_pages(
        self, path: str, params: Mapping[str, Any] | None = None, *, ahead: int = 0
    ) -> Iterator[Page]:
        """Yield the pages of a list endpoint, following ``meta.pagination.next``.

        ``per_page`` is added to ``params`` unless given. Stops when ``next`` is null or
        ``more`` is false. Later pages are requested when the consumer asks for them, or,
        with ``ahead``, up to that many pages in advance (see :mod:`wonde_sync.wonde.paging`).
        """
        query = dict(params or {})
        query.setdefault("per_page", self.per_page)
        first = with_query(self._url(path), query)

        def fetch(url: str) -> Any:
            return self._call("GET", url)

        yield from follow_pages(fetch, first, self._clean, ahead=ahead)

    def iter_records(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[dict]:
        """Yield the records of a list endpoint one by one (pages are fetched lazily)."""
        for page in self.iter_pages(path, params):
            yield from page.records

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET a single resource and return its ``data`` object."""
        url = with_query(self._url(path), dict(params or {}))
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
        """Return a new client for ``school``: its ``region.domain`` as the host (scheme and
        version path kept), its token if given (else the connection's application token)."""
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
            app_hook=self._hook,  # one look-up of the connection for every school
        )

    @property
    def base_url(self) -> str:
        """The base URL requests are sent to (connection host, or ``domain`` when given)."""
        self._connect()
        assert self._base_url is not None
        return self._base_url

    def close(self) -> None:
        """Drop the HTTP session (the next request opens one); the shared pool stays open."""
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
            headers["Authorization"] = f"Bearer {self._school_token.reveal()}"
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
            base_url = replace_host(base_url, self.domain)
        self._secrets.add_from_session(session)
        self._base_url = base_url
        self._session = session
        return session

    def _clean(self, text: str) -> str:
        """Redact every known secret from text quoted in logs or messages."""
        return self._secrets.clean(text)

    def _url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        self._connect()
        return f"{self._base_url}/{path.lstrip('/')}"

    # ------------------------------------------------------------------ requests and retries

    def _call(self, method: str, url: str, json: Any = None) -> Any:
        """Send one logical request with retries; return the decoded JSON body."""
        policy = retrying(
            self.max_attempts,
            self.backoff_initial,
            self.backoff_max,
            before_sleep=lambda state: self._log_retry(method, url, state),
        )
        try:
            return policy(self._attempt, method, url, json)
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
        with self._count_lock:
            self.request_count += 1
        try:
            with pacing.gate().request():
                response = self._hook.run_and_check(session, prepared, options)
                content = response.content  # read here so a short body is caught as transient
        except requests.Timeout as exc:
            raise TransientFailure(f"no answer within {self.timeout:g} s ({_name(exc)})") from exc
        except (
            requests.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ) as exc:
            raise TransientFailure(f"connection failed or body cut short ({_name(exc)})") from exc
        status = response.status_code
        log.debug("Wonde %s %s -> HTTP %d", method, self._clean(url), status)
        if 200 <= status < 300:
            return responses.decode(method, response, content)
        if status in TRANSIENT_STATUSES:
            raise responses.transient_failure(response, max_pause=self.backoff_max)
        whose = (
            "check the school token used for this school"
            if self._school_token
            else f"check the Authorization header of connection '{self.conn_id}'"
        )
        raise responses.permanent_error(
            method, url, response, content, clean=self._clean, whose_token=whose
        )


def _name(exc: BaseException) -> str:
    return type(exc).__name__
