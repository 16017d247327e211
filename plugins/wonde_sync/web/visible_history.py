"""Sync History as a viewer may read it: filters within its sites, runs it can see.

A site filter naming a site the viewer does not administer is 403; another site's run is
404, as is a run that does not exist, so that run ids reveal nothing about other sites.
"""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.engine import Engine

from wonde_sync.core.vocabulary import CHANGE_ACTIONS
from wonde_sync.monitoring import changes, history
from wonde_sync.monitoring.run_filters import DetailsQueryError, RunFilters, check_filters
from wonde_sync.monitoring.views import RunDetail
from wonde_sync.web.auth import WebError
from wonde_sync.web.viewers import Viewer


def history_filters(request: Request, viewer: Viewer) -> RunFilters:
    """The request's Sync History filters (422 when bad, 403 for another site)."""
    query = request.query_params
    try:
        filters = check_filters(
            site=query.get("site"),
            status=query.get("status"),
            kind=query.get("kind"),
            page=query.get("page"),
            page_size=query.get("page_size"),
        )
    except DetailsQueryError as exc:
        raise WebError(422, str(exc), {exc.field: [str(exc)]}) from None
    if viewer.site_ids is not None and filters.site not in (None, *viewer.site_ids):
        raise WebError(403, f"You are not an admin of site {filters.site}.")
    return filters


def change_filters(request: Request) -> dict[str, str | None]:
    """The request's change filters: ``action`` (422 when unknown), ``reason``, ``q``."""
    query = request.query_params
    found = {k: (query.get(k) or "").strip() or None for k in ("action", "reason", "q")}
    if found["action"] is not None and found["action"] not in CHANGE_ACTIONS:
        message = f"action must be one of {', '.join(CHANGE_ACTIONS)}"
        raise WebError(422, message, {"action": [message]})
    return found


def filtered_changes(
    engine: Engine, run_id: int, wanted: dict, *, limit: int = changes.MAX_CHANGES
) -> list[changes.PersonChange]:
    """A run's changes under the filters :func:`change_filters` read."""
    return changes.run_changes(
        engine,
        run_id,
        action=wanted["action"],
        reason=wanted["reason"],
        search=wanted["q"],
        limit=limit,
    )


def person_query(request: Request, viewer: Viewer, site_id: str) -> str:
    """The person a site's people page asks about (403 for another site's viewer, 422 when
    shorter than 2 characters)."""
    if viewer.site_ids is not None and site_id not in viewer.site_ids:
        raise WebError(403, f"You are not an admin of site {site_id}.")
    text = (request.query_params.get("q") or "").strip()
    if len(text) < 2:
        message = "q must be at least 2 characters of a name, or a Wonde id"
        raise WebError(422, message, {"q": [message]})
    return text


def visible_run(
    engine: Engine, viewer: Viewer, run_id: int, *, issue_limit: int = history.DEFAULT_ISSUE_LIMIT
) -> RunDetail:
    """One run the viewer may read, with its first ``issue_limit`` issues; else 404."""
    try:
        return history.get_run(engine, run_id, site_ids=viewer.site_ids, issue_limit=issue_limit)
    except LookupError:
        raise WebError(404, f"There is no run #{run_id} you can see.") from None
