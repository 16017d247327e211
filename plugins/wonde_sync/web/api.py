"""The connection-lifecycle HTTP API, served by Airflow's API server under ``/wonde``.

The CalmCompliance web app calls it for Settings > Integrations. Every route but the
webhook needs ``Authorization: Bearer <service token>`` (:mod:`wonde_sync.admin.api_tokens`):

* ``GET /wonde/schools/search?q=...&limit=...``: any authenticated caller;
* ``GET /wonde/connections``: the connections of the caller's own sites;
* ``GET /wonde/sites/{site}/connection``: the site's admins;
* ``POST /wonde/sites/{site}/connection/request-access``: the site's admins;
* ``POST /wonde/sites/{site}/connection/revoke-and-rerequest``: the site's admins;
* ``POST /wonde/sites/{site}/connection/enable`` and ``.../disable``: the site's admins;
* ``POST /wonde/webhooks/wonde?secret=...``: Wonde, by the secret alone (no token).

No token, or an unknown or revoked one: 401. Not an admin of the site (whether or not the
site exists): 403. In both cases nothing is read or changed. Errors are JSON
``{"detail": "...", "errors": {field: [messages]}}`` (``errors`` for bad input only).

The webhook receiver takes the secret from the raw query string (a ``+`` stays a ``+``),
compares it in constant time with ``WONDE_WEBHOOK_SECRET``, and answers 5xx only when a
retry can help (database unavailable), since Wonde re-delivers on 5xx.

Configuration: the ``calm_db`` connection (database), ``wonde_default`` (Wonde, app
token), ``WONDE_WEBHOOK_SECRET``, ``WONDE_TOKEN_KEY``
(see :mod:`wonde_sync.school_access.token_vault`).
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import threading
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import unquote, unquote_to_bytes

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy.engine import Engine

from wonde_sync.admin import api_tokens
from wonde_sync.catalog import queries
from wonde_sync.school_access import lifecycle
from wonde_sync.school_access.contact_form import ContactValidationError, parse_school_id
from wonde_sync.school_access.token_vault import TokenVaultError
from wonde_sync.wonde import webhooks
from wonde_sync.wonde.errors import (
    WondeAuthError,
    WondeError,
    WondeForbiddenError,
    WondeNotFoundError,
    WondeTransientError,
    WondeValidationError,
)

log = logging.getLogger(__name__)

WEBHOOK_SECRET_ENV = "WONDE_WEBHOOK_SECRET"
#: Largest JSON body accepted from the web app.
MAX_BODY_BYTES = 16 * 1024


class ApiError(Exception):
    """An error answered as JSON with an HTTP status."""

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


class _Settings:
    """Where the app gets its database, its Wonde client and its webhook secret."""

    def __init__(
        self,
        engine: Engine | None,
        client_factory: Callable[[], Any] | None,
        webhook_secret: str | None,
    ) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self.client_factory = client_factory or _default_client
        self._webhook_secret = webhook_secret

    def engine(self) -> Engine:
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    from wonde_sync.core.database import engine_for

                    self._engine = engine_for()
        return self._engine

    def webhook_secret(self) -> str | None:
        if self._webhook_secret is not None:
            return self._webhook_secret or None
        return os.environ.get(WEBHOOK_SECRET_ENV) or None


def _settings(request: Request) -> _Settings:
    return request.app.state.settings


def get_engine(request: Request) -> Engine:
    """The CalmCompliance database (503 when it cannot be reached)."""
    try:
        return _settings(request).engine()
    except Exception as exc:
        log.exception("The CalmCompliance database is not configured")
        raise ApiError(503, "The CalmCompliance database is not available.") from exc


EngineDep = Annotated[Engine, Depends(get_engine)]


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header, if the request has one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def service_caller(request: Request, engine: Engine) -> api_tokens.Caller | None:
    """The caller of the request's service token, or None (none, unknown or revoked)."""
    token = bearer_token(request)
    if token is None:
        return None
    return _database_call(lambda: api_tokens.authenticate(engine, token))


def authenticated_caller(request: Request, engine: EngineDep) -> api_tokens.Caller:
    """The caller of a service token (``Authorization: Bearer ...``), else 401."""
    found = service_caller(request, engine)
    if found is None:
        raise ApiError(
            401,
            "Authentication required: send Authorization: Bearer <API token>.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return found


CallerDep = Annotated[api_tokens.Caller, Depends(authenticated_caller)]


def site_admin(site_id: str, who: CallerDep, engine: EngineDep) -> api_tokens.Caller:
    """The caller, if an admin of ``site_id``; else 403 (whether or not the site exists)."""
    if not _database_call(lambda: api_tokens.is_site_admin(engine, who.user_id, site_id)):
        raise ApiError(403, f"You are not an admin of site {site_id}.")
    return who


SiteAdminDep = Annotated[api_tokens.Caller, Depends(site_admin)]


def _default_client() -> Any:
    from wonde_sync.wonde.client import WondeClient

    # Interactive calls: fail within seconds rather than keep an admin waiting.
    return WondeClient(timeout=15.0, max_attempts=3, backoff_max=5.0)


def create_app(
    *,
    engine: Engine | None = None,
    client_factory: Callable[[], Any] | None = None,
    webhook_secret: str | None = None,
) -> FastAPI:
    """Build the API. Defaults: ``calm_db``, ``wonde_default`` and ``WONDE_WEBHOOK_SECRET``."""
    settings = _Settings(engine, client_factory, webhook_secret)
    app = FastAPI(
        title="CalmCompliance - Wonde connections",
        description="Search schools, request access, follow approval, Revoke & Re-request.",
        version="1",
    )
    app.state.settings = settings

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        body: dict[str, Any] = {"detail": exc.detail}
        if exc.errors:
            body["errors"] = exc.errors
        return JSONResponse(body, status_code=exc.status, headers=exc.headers)

    @app.get("/schools/search")
    def search(
        request: Request,
        who: CallerDep,
        engine: EngineDep,
    ) -> dict:
        """Search the schools catalog by name, postcode or URN (at least 2 characters)."""
        from wonde_sync.catalog.queries import SearchQueryError

        query = request.query_params.get("q", "")
        try:
            limit = min(max(int(request.query_params.get("limit", "20")), 1), 50)
        except ValueError:
            raise ApiError(422, "limit must be a number.", {"limit": ["Enter a number."]}) from None
        try:
            found = _database_call(lambda: queries.search_schools(engine, query, limit))
        except SearchQueryError as exc:
            raise ApiError(422, str(exc), {"q": [str(exc)]}) from None
        return found.as_dict()

    @app.get("/connections")
    def my_connections(who: CallerDep, engine: EngineDep) -> dict:
        """The connections of the sites the caller administers."""

        def read() -> list[dict]:
            site_ids = api_tokens.admin_sites(engine, who.user_id)
            return [s.as_dict() for s in lifecycle.access_statuses(engine, site_ids)]

        return {"data": _database_call(read)}

    @app.get("/sites/{site_id}/connection")
    def status(
        site_id: str,
        who: SiteAdminDep,
        engine: EngineDep,
    ) -> dict:
        """The site's connection: label, explanation, allowed actions."""
        return _lifecycle(lambda: lifecycle.access_status(engine, site_id)).as_dict()

    @app.post("/sites/{site_id}/connection/request-access")
    async def request_access(
        site_id: str,
        request: Request,
        who: SiteAdminDep,
        engine: EngineDep,
    ) -> dict:
        """Request access to a school: ``{"school_id", "first_name", "last_name", "email",
        "phone", "notes"}``. The connection becomes pending (or School Already Approved)."""
        body = await _json_object(request)
        school_id = body.pop("school_id", None)
        errors: dict[str, list[str]] = {}
        for check in (lambda: parse_school_id(school_id), lambda: _contact(body)):
            try:
                check()
            except ContactValidationError as exc:
                errors.update(exc.errors)
        if errors:
            raise ApiError(422, "Check the highlighted fields.", errors)
        # Database and Wonde calls block: off the event loop.
        status = await run_in_threadpool(
            _lifecycle,
            lambda: lifecycle.request_access(
                engine,
                settings.client_factory(),
                site_id,
                school_id,
                body,
                actor=who.user_id,
                source=lifecycle.SOURCE_API,
            ),
        )
        return status.as_dict()

    @app.post("/sites/{site_id}/connection/revoke-and-rerequest")
    async def revoke_and_rerequest(
        site_id: str,
        request: Request,
        who: SiteAdminDep,
        engine: EngineDep,
    ) -> dict:
        """Revoke & Re-request; an optional contact body replaces the previous contact."""
        body = await _json_object(request, allow_empty=True)
        contact = body or None
        if contact is not None:
            try:
                _contact(contact)
            except ContactValidationError as exc:
                raise ApiError(422, "Check the highlighted fields.", exc.errors) from None
        status = await run_in_threadpool(
            _lifecycle,
            lambda: lifecycle.revoke_and_rerequest(
                engine, settings.client_factory(), site_id, contact, actor=who.user_id
            ),
        )
        return status.as_dict()

    @app.post("/sites/{site_id}/connection/enable")
    def enable(
        site_id: str,
        who: SiteAdminDep,
        engine: EngineDep,
    ) -> dict:
        """Turn imports on for the site's connection."""
        return _lifecycle(
            lambda: lifecycle.set_enabled(engine, site_id, True, actor=who.user_id)
        ).as_dict()

    @app.post("/sites/{site_id}/connection/disable")
    def disable(
        site_id: str,
        who: SiteAdminDep,
        engine: EngineDep,
    ) -> dict:
        """Turn imports off for the site's connection (its state is kept)."""
        return _lifecycle(
            lambda: lifecycle.set_enabled(engine, site_id, False, actor=who.user_id)
        ).as_dict()

    @app.post("/webhooks/wonde")
    async def wonde_webhook(request: Request) -> dict:
        """Wonde's webhook: schoolApproved, accessDeclined, accessRevoked, schoolMigration."""
        expected = settings.webhook_secret()
        if expected is None:
            # Wonde keeps re-delivering on 5xx, so nothing is lost while this is fixed.
            log.error("%s is not set: refusing Wonde webhooks", WEBHOOK_SECRET_ENV)
            raise ApiError(503, "The webhook receiver is not configured.")
        if not _secret_matches(request.scope.get("query_string", b""), expected):
            raise ApiError(401, "Unknown webhook secret.")
        body = await request.body()
        try:
            event = webhooks.parse(body)
        except webhooks.WebhookPayloadError as exc:
            log.warning("Rejected a Wonde webhook: %s", exc)
            raise ApiError(422, str(exc), exc.errors or None) from None
        try:
            engine = settings.engine()
            receipt = await run_in_threadpool(lifecycle.receive_webhook, engine, event)
        except (sa.exc.OperationalError, sa.exc.InterfaceError, TokenVaultError) as exc:
            # Transient (or fixable by an operator): Wonde will deliver it again.
            log.error("Could not record Wonde %s: %s", event.payload_type, type(exc).__name__)
            raise ApiError(503, "Unable to record the event now; deliver it again.") from exc
        except lifecycle.ConcurrentChangeError as exc:
            raise ApiError(503, str(exc)) from exc
        return receipt.as_dict()

    return app


def _secret_matches(query_string: bytes, expected: str) -> bool:
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


async def _json_object(request: Request, *, allow_empty: bool = False) -> dict:
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise ApiError(413, f"The request body is larger than {MAX_BODY_BYTES} bytes.")
    if not body.strip():
        if allow_empty:
            return {}
        raise ApiError(422, "Send the form as a JSON object.", {"body": ["This is required."]})
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(422, "Send the form as a JSON object.", {"body": ["Expected an object."]})
    return data


def _contact(data: dict) -> None:
    from wonde_sync.school_access.contact_form import AccessRequestContact

    AccessRequestContact.parse(data)


def _database_call(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        log.error("The CalmCompliance database is unavailable: %s", type(exc).__name__)
        raise ApiError(503, "The CalmCompliance database is not available; try again.") from exc


def _lifecycle(call: Callable[[], Any]) -> Any:
    """Run a lifecycle action, turning its errors into HTTP answers."""
    try:
        return _database_call(call)
    except ContactValidationError as exc:
        raise ApiError(422, "Check the highlighted fields.", exc.errors) from None
    except lifecycle.UnknownSiteError as exc:
        raise ApiError(404, str(exc)) from None
    except lifecycle.UnknownSchoolError as exc:
        raise ApiError(404, str(exc), {"school_id": [str(exc)]}) from None
    except lifecycle.NoAccessError as exc:
        raise ApiError(409, str(exc)) from None
    except lifecycle.AccessConflictError as exc:
        raise ApiError(409, str(exc)) from None
    except WondeTransientError as exc:
        raise ApiError(503, f"Wonde is not answering; try again shortly. ({exc})") from exc
    except (WondeAuthError, WondeForbiddenError) as exc:
        log.error("Wonde refused the application token: %s", exc)
        raise ApiError(502, "Wonde refused CalmCompliance's credentials; contact support.") from exc
    except WondeNotFoundError as exc:
        raise ApiError(404, "Wonde does not know this school.") from exc
    except WondeValidationError as exc:
        raise ApiError(502, f"Wonde refused the request: {exc}") from exc
    except WondeError as exc:
        raise ApiError(502, f"Wonde answered unexpectedly: {exc}") from exc
    except TokenVaultError as exc:
        log.error("School tokens cannot be encrypted: %s", exc)
        raise ApiError(503, "School tokens cannot be stored right now; contact support.") from exc


#: The app Airflow's API server mounts (see ``plugins/wonde_plugin.py``).
app = create_app()
