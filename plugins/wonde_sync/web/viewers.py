"""Who reads the integration details: an Airflow user or a service token, as a :class:`Viewer`.

* **Airflow users**: the JWT Airflow's UI keeps in the ``_token`` cookie, or an Airflow API
  token as ``Authorization: Bearer <jwt>``, validated by Airflow's auth manager. The user
  must be allowed to view plugins, and then sees every site; the user may approve or undo a
  run when also allowed to trigger DAG runs.
* **Service tokens** (``Authorization: Bearer cwt_...``): the sites the token's user
  administers, where that user may also approve and undo.

:data:`PageViewerDep` (pages: 401 is answered by Airflow's login) and :data:`JsonViewerDep`
(JSON: 401) accept either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.engine import Engine

from wonde_sync.admin import api_tokens
from wonde_sync.web.auth import BEARER_CHALLENGE, EngineDep, WebError, bearer_token, service_caller

#: The cookie in which Airflow's UI keeps the signed-in user's JWT.
AIRFLOW_TOKEN_COOKIE = "_token"


@dataclass(frozen=True)
class Viewer:
    """Who is reading: an Airflow user (every site) or a service token (its sites)."""

    name: str
    via: str
    site_ids: tuple[str, ...] | None
    #: May approve a held run's plan and undo a run (of the sites it sees).
    may_change: bool = True

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "via": self.via,
            "sites": "all" if self.site_ids is None else list(self.site_ids),
            "may_change": self.may_change,
        }


def airflow_auth_manager():
    """Airflow's auth manager, or None when not running inside Airflow's API server."""
    try:
        from airflow.api_fastapi.app import get_auth_manager

        return get_auth_manager()
    except (ImportError, RuntimeError):
        return None


async def airflow_user(token: str) -> Viewer | None:
    """The Airflow user a JWT belongs to (None if invalid or expired); 403 without access."""
    manager = airflow_auth_manager()
    if manager is None:
        return None
    from airflow.api_fastapi.auth.managers.models.resource_details import (
        AccessView,
        DagAccessEntity,
    )
    from jwt import InvalidTokenError

    try:
        user = await manager.get_user_from_token(token)
    except InvalidTokenError:
        return None
    if not manager.is_authorized_view(access_view=AccessView.PLUGINS, user=user):
        raise WebError(403, "Your Airflow role may not view plugins, so not this page either.")
    # Approving or undoing a run changes people as an import does: it takes the right to
    # start one.
    may_change = manager.is_authorized_dag(
        method="POST", access_entity=DagAccessEntity.RUN, user=user
    )
    return Viewer(name=user.get_name(), via="Airflow user", site_ids=None, may_change=may_change)


def credential(request: Request) -> str | None:
    """The request's credential: its bearer token, else the Airflow UI cookie."""
    return bearer_token(request) or request.cookies.get(AIRFLOW_TOKEN_COOKIE) or None


async def find_viewer(request: Request, engine: Engine) -> Viewer | None:
    """The service-token caller or Airflow user of a request, or None without credentials."""
    token = credential(request)
    if token is not None and token.startswith(api_tokens.TOKEN_PREFIX):
        caller = await run_in_threadpool(service_caller, request, engine)
        if caller is None:
            return None
        sites = await run_in_threadpool(api_tokens.admin_sites, engine, caller.user_id)
        return Viewer(name=caller.user_id, via="service token", site_ids=tuple(sites))
    # An explicit credential wins over the cookie, as in Airflow's own API.
    return None if token is None else await airflow_user(token)


async def page_viewer(request: Request, engine: EngineDep) -> Viewer:
    """The reader of an HTML page; 401 (answered by sending to Airflow's login) without one."""
    found = await find_viewer(request, engine)
    if found is None:
        raise WebError(401, "Sign in to Airflow to see this page.")
    return found


async def json_viewer(request: Request, engine: EngineDep) -> Viewer:
    """The caller of a JSON route; 401 without credentials."""
    found = await find_viewer(request, engine)
    if found is None:
        raise WebError(
            401,
            "Authentication required: sign in to Airflow, or send Authorization: Bearer "
            "<API token>.",
            headers=BEARER_CHALLENGE,
        )
    return found


PageViewerDep = Annotated[Viewer, Depends(page_viewer)]
JsonViewerDep = Annotated[Viewer, Depends(json_viewer)]
