"""The school-access HTTP API (routes say "connection"), served under ``/wonde``.

The CalmCompliance web app calls it for Settings > Integrations. Every route but the
webhook needs ``Authorization: Bearer <service token>`` (:mod:`wonde_sync.web.auth`):

* ``GET /wonde/schools/search?q=...&limit=...``: any authenticated caller;
* ``GET /wonde/connections``: the connections of the caller's own sites;
* ``GET /wonde/sites/{site}/connection``: the site's admins;
* ``POST /wonde/sites/{site}/connection/request-access``: the site's admins;
* ``POST /wonde/sites/{site}/connection/revoke-and-rerequest``: the site's admins;
* ``POST /wonde/sites/{site}/connection/enable`` and ``.../disable``: the site's admins;
* ``POST /wonde/webhooks/wonde?secret=...``: Wonde, by the secret alone
  (:mod:`wonde_sync.web.webhook_receiver`).

No token, or an unknown or revoked one: 401. Not an admin of the site (whether or not the
site exists): 403. In both cases nothing is read or changed. Errors are JSON
``{"detail": "...", "errors": {field: [messages]}}`` (``errors`` for bad input only). No
API documentation is served.

Configuration: the ``calm_db`` connection (database), ``wonde_default`` (Wonde, app
token), ``WONDE_WEBHOOK_SECRET``, ``WONDE_TOKEN_KEY``
(see :mod:`wonde_sync.school_access.token_vault`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.engine import Engine

from wonde_sync.admin import api_tokens
from wonde_sync.catalog import queries
from wonde_sync.school_access import admin_actions
from wonde_sync.school_access.contact_form import (
    AccessRequestContact,
    ContactValidationError,
    parse_school_id,
)
from wonde_sync.school_access.errors import (
    AccessConflictError,
    NoAccessError,
    UnknownSchoolError,
    UnknownSiteError,
)
from wonde_sync.school_access.rows import SOURCE_API
from wonde_sync.school_access.status import access_status, read_statuses
from wonde_sync.school_access.token_vault import TokenVaultError
from wonde_sync.web import webhook_receiver
from wonde_sync.web.auth import (
    CallerDep,
    EngineDep,
    SiteAdminDep,
    WebError,
    install_error_handlers,
    new_app,
    read_body,
)
from wonde_sync.wonde.errors import (
    WondeAuthError,
    WondeError,
    WondeForbiddenError,
    WondeNotFoundError,
    WondeTransientError,
    WondeValidationError,
)

log = logging.getLogger(__name__)

#: Largest JSON body accepted from the web app.
MAX_BODY_BYTES = 16 * 1024

router = APIRouter()


def _default_client() -> Any:
    from wonde_sync.wonde.client import WondeClient

    # Interactive calls: fail within seconds rather than keep an admin waiting.
    return WondeClient(timeout=15.0, max_attempts=3, backoff_max=5.0)


def wonde_client_factory(request: Request) -> Callable[[], Any]:
    """What makes the app's Wonde client (called off the event loop, once per action)."""
    return request.app.state.client_factory


ClientFactoryDep = Annotated[Callable[[], Any], Depends(wonde_client_factory)]


@router.get("/schools/search")
def search(request: Request, who: CallerDep, engine: EngineDep) -> dict:
    """Search the schools catalog by name, postcode or URN (at least 2 characters)."""
    query = request.query_params.get("q", "")
    try:
        limit = min(max(int(request.query_params.get("limit", "20")), 1), 50)
    except ValueError:
        raise WebError(422, "limit must be a number.", {"limit": ["Enter a number."]}) from None
    try:
        found = queries.search_schools(engine, query, limit)
    except queries.SearchQueryError as exc:
        raise WebError(422, str(exc), {"q": [str(exc)]}) from None
    return found.as_dict()


@router.get("/connections")
def my_connections(who: CallerDep, engine: EngineDep) -> dict:
    """The connections of the sites the caller administers."""
    site_ids = api_tokens.admin_sites(engine, who.user_id)
    return {"data": [s.as_dict() for s in read_statuses(engine, site_ids)]}


@router.get("/sites/{site_id}/connection")
def status(site_id: str, who: SiteAdminDep, engine: EngineDep) -> dict:
    """The site's connection: label, explanation, allowed actions."""
    return _access_action(lambda: access_status(engine, site_id)).as_dict()


@router.post("/sites/{site_id}/connection/request-access")
async def request_access(
    site_id: str,
    request: Request,
    who: SiteAdminDep,
    engine: EngineDep,
    client_factory: ClientFactoryDep,
) -> dict:
    """Request access to a school: ``{"school_id", "first_name", "last_name", "email",
    "phone", "notes"}``. The connection becomes pending (or School Already Approved)."""
    body = await _json_object(request)
    school_id = body.pop("school_id", None)
    errors: dict[str, list[str]] = {}
    for check in (lambda: parse_school_id(school_id), lambda: AccessRequestContact.parse(body)):
        try:
            check()
        except ContactValidationError as exc:
            errors.update(exc.errors)
    if errors:
        raise WebError(422, "Check the highlighted fields.", errors)
    # Database and Wonde calls block: off the event loop.
    status = await run_in_threadpool(
        _access_action,
        lambda: admin_actions.request_access(
            engine,
            client_factory(),
            site_id,
            school_id,
            body,
            actor=who.user_id,
            source=SOURCE_API,
        ),
    )
    return status.as_dict()


@router.post("/sites/{site_id}/connection/revoke-and-rerequest")
async def revoke_and_rerequest(
    site_id: str,
    request: Request,
    who: SiteAdminDep,
    engine: EngineDep,
    client_factory: ClientFactoryDep,
) -> dict:
    """Revoke & Re-request; an optional contact body replaces the previous contact."""
    contact = await _json_object(request, allow_empty=True) or None
    if contact is not None:
        try:
            AccessRequestContact.parse(contact)
        except ContactValidationError as exc:
            raise WebError(422, "Check the highlighted fields.", exc.errors) from None
    status = await run_in_threadpool(
        _access_action,
        lambda: admin_actions.revoke_and_rerequest(
            engine, client_factory(), site_id, contact, actor=who.user_id
        ),
    )
    return status.as_dict()


@router.post("/sites/{site_id}/connection/enable")
def enable(site_id: str, who: SiteAdminDep, engine: EngineDep) -> dict:
    """Turn imports on for the site's connection."""
    return _access_action(
        lambda: admin_actions.set_enabled(engine, site_id, True, actor=who.user_id)
    ).as_dict()


@router.post("/sites/{site_id}/connection/disable")
def disable(site_id: str, who: SiteAdminDep, engine: EngineDep) -> dict:
    """Turn imports off for the site's connection (its state is kept)."""
    return _access_action(
        lambda: admin_actions.set_enabled(engine, site_id, False, actor=who.user_id)
    ).as_dict()


async def _json_object(request: Request, *, allow_empty: bool = False) -> dict:
    """The request's JSON object body (413 when too large, 400/422 when not an object)."""
    body = await read_body(request, MAX_BODY_BYTES)
    if not body.strip():
        if allow_empty:
            return {}
        raise WebError(422, "Send the form as a JSON object.", {"body": ["This is required."]})
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebError(400, "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise WebError(422, "Send the form as a JSON object.", {"body": ["Expected an object."]})
    return data


def _access_action(call: Callable[[], Any]) -> Any:
    """Run a school-access action, turning its errors into HTTP answers."""
    try:
        return call()
    except ContactValidationError as exc:
        raise WebError(422, "Check the highlighted fields.", exc.errors) from None
    except UnknownSiteError as exc:
        raise WebError(404, str(exc)) from None
    except UnknownSchoolError as exc:
        raise WebError(404, str(exc), {"school_id": [str(exc)]}) from None
    except (NoAccessError, AccessConflictError) as exc:
        raise WebError(409, str(exc)) from None
    except WondeTransientError as exc:
        raise WebError(503, f"Wonde is not answering; try again shortly. ({exc})") from exc
    except (WondeAuthError, WondeForbiddenError) as exc:
        log.error("Wonde refused the application token: %s", exc)
        raise WebError(502, "Wonde refused CalmCompliance's credentials; contact support.") from exc
    except WondeNotFoundError as exc:
        raise WebError(404, "Wonde does not know this school.") from exc
    except WondeValidationError as exc:
        raise WebError(502, f"Wonde refused the request: {exc}") from exc
    except WondeError as exc:
        raise WebError(502, f"Wonde answered unexpectedly: {exc}") from exc
    except TokenVaultError as exc:
        log.error("School tokens cannot be encrypted: %s", exc)
        raise WebError(503, "School tokens cannot be stored right now; contact support.") from exc


def create_app(
    *,
    engine: Engine | None = None,
    client_factory: Callable[[], Any] | None = None,
    webhook_secret: str | None = None,
) -> FastAPI:
    """Build the API. Defaults: ``calm_db``, ``wonde_default`` and ``WONDE_WEBHOOK_SECRET``."""
    app = new_app(
        "CalmCompliance - Wonde connections",
        "Search schools, request access, follow approval, Revoke & Re-request.",
        engine,
    )
    app.state.client_factory = client_factory or _default_client
    app.state.webhook_secret = webhook_secret
    install_error_handlers(app)
    app.include_router(router)
    app.include_router(webhook_receiver.router)
    return app


#: The app Airflow's API server mounts (see ``plugins/wonde_plugin.py``).
app = create_app()
