"""Who is calling, on which database, and how a refusal is answered: shared by the web apps.

The connection API (:mod:`wonde_sync.web.api`) and the integration details
(:mod:`wonde_sync.web.ui`) both use:

* :class:`WebError`, an answer with an HTTP status, JSON by default
  (``{"detail": "...", "errors": {field: [messages]}}``); :func:`install_error_handlers`
  answers it, and answers a database outage anywhere in a route with 503;
* :class:`DatabaseSource`, the CalmCompliance database (given, or the ``calm_db``
  connection on first use), which routes get through :data:`EngineDep`;
* **service tokens** (``Authorization: Bearer cwt_...``, :mod:`wonde_sync.admin.api_tokens`):
  :data:`CallerDep` (401 without one) and :data:`SiteAdminDep` (403 unless the caller
  administers the path's ``site_id``, whether or not the site exists);
* **Airflow users**: the JWT Airflow's UI keeps in the ``_token`` cookie, or an Airflow API
  token as ``Authorization: Bearer <jwt>``, validated by Airflow's auth manager; the user
  must be allowed to view plugins and then sees every site (:mod:`wonde_sync.web.viewers`
  accepts either kind of caller as a ``Viewer``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlalchemy.engine import Engine

from wonde_sync.admin import api_tokens
from wonde_sync.core import text_input

log = logging.getLogger(__name__)

BEARER_CHALLENGE = {"WWW-Authenticate": "Bearer"}
DATABASE_UNAVAILABLE = "The CalmCompliance database is not available; try again."
_TOKEN_USE = "wonde_sync.token_use"


class WebError(Exception):
    """A request answered with an HTTP status, a message and, for bad input, field errors."""

    def __init__(
        self,
        status: int,
        detail: str,
        errors: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors
        self.headers = headers

    def as_json(self) -> JSONResponse:
        """The error as a JSON answer: ``detail``, and ``errors`` when there are any."""
        body: dict[str, Any] = {"detail": self.detail}
        if self.errors:
            body["errors"] = self.errors
        return JSONResponse(body, status_code=self.status, headers=self.headers)


ErrorAnswer = Callable[[Request, WebError], Response]


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, read no further than ``limit`` bytes (else 413), with JSON nested
    no deeper than :data:`~wonde_sync.core.text_input.MAX_JSON_DEPTH` (else 422)."""
    too_large = WebError(413, f"The request body is larger than {limit} bytes.")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    if text_input.json_depth(bytes(body)) > text_input.MAX_JSON_DEPTH:
        depth = text_input.MAX_JSON_DEPTH
        raise WebError(422, f"The JSON body nests deeper than {depth} levels.")
    return bytes(body)


def install_error_handlers(app: FastAPI, answer: ErrorAnswer | None = None) -> None:
    """Answer :class:`WebError` with ``answer`` (JSON by default) and database outages with 503."""
    respond = answer or (lambda request, exc: exc.as_json())

    @app.exception_handler(WebError)
    async def _web_error(request: Request, exc: WebError) -> Response:
        return respond(request, exc)

    @app.exception_handler(sa.exc.OperationalError)
    @app.exception_handler(sa.exc.InterfaceError)
    async def _database_down(request: Request, exc: Exception) -> Response:
        log.error("The CalmCompliance database is unavailable: %s", type(exc).__name__)
        return respond(request, WebError(503, DATABASE_UNAVAILABLE))


# --------------------------------------------------------------------------- the database


class DatabaseSource:
    """The CalmCompliance database: given, or the ``calm_db`` connection on first use."""

    def __init__(self, engine: Engine | None = None) -> None:
        self._engine = engine
        self._lock = threading.Lock()

    def __call__(self) -> Engine:
        """The engine (opened once, on the first call, when none was given)."""
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    from wonde_sync.core.database import engine_for

                    self._engine = engine_for()
        return self._engine


def new_app(title: str, description: str, engine: Engine | None) -> FastAPI:
    """A web app on ``engine`` (default: ``calm_db``), without public API docs routes.

    Docs would publish every route and schema to anyone: both apps are built here so that
    neither can forget it.
    """
    app = FastAPI(
        title=title,
        description=description,
        version="1",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.database = DatabaseSource(engine)

    @app.middleware("http")
    async def _record_token_use(request: Request, call_next: Callable) -> Response:
        # A token's use (last_used_at) counts only when the answer is no refusal (401/403).
        request.scope[_TOKEN_USE] = pending = []
        response = await call_next(request)
        if pending and response.status_code not in (401, 403):
            await run_in_threadpool(api_tokens.record_use, *pending[-1])
        return response

    return app


def get_engine(request: Request) -> Engine:
    """The app's CalmCompliance database (503 when it cannot be reached)."""
    try:
        return request.app.state.database()
    except Exception as exc:
        log.exception("The CalmCompliance database is not configured")
        raise WebError(503, "The CalmCompliance database is not available.") from exc


EngineDep = Annotated[Engine, Depends(get_engine)]


# --------------------------------------------------------------------------- service tokens


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header, if the request has one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def service_caller(request: Request, engine: Engine) -> api_tokens.Caller | None:
    """The caller of the request's service token, or None (none, unknown or revoked); its use
    is recorded once the answer shows the call was allowed (see :func:`new_app`)."""
    token = bearer_token(request)
    found = None if token is None else api_tokens.authenticate(engine, token)
    if found is not None:
        request.scope.get(_TOKEN_USE, []).append((engine, found))
    return found


def authenticated_caller(request: Request, engine: EngineDep) -> api_tokens.Caller:
    """The caller of a service token (``Authorization: Bearer ...``), else 401."""
    found = service_caller(request, engine)
    if found is None:
        raise WebError(
            401,
            "Authentication required: send Authorization: Bearer <API token>.",
            headers=BEARER_CHALLENGE,
        )
    return found


CallerDep = Annotated[api_tokens.Caller, Depends(authenticated_caller)]


def site_admin(site_id: str, who: CallerDep, engine: EngineDep) -> api_tokens.Caller:
    """The caller, if an admin of ``site_id``; else 403 (whether or not the site exists)."""
    if text_input.has_control_characters(site_id):
        raise WebError(422, text_input.CONTROL_MESSAGE, {"site_id": [text_input.CONTROL_MESSAGE]})
    if not api_tokens.is_site_admin(engine, who.user_id, site_id):
        raise WebError(403, f"You are not an admin of site {site_id}.")
    return who


SiteAdminDep = Annotated[api_tokens.Caller, Depends(site_admin)]
