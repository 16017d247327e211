"""The integration details as JSON, under ``/api``: overview, Sync History, one run, its
changes, one person's changes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from wonde_sync.monitoring import changes, history
from wonde_sync.monitoring.overview import overview
from wonde_sync.web.auth import EngineDep
from wonde_sync.web.links import Links
from wonde_sync.web.viewers import JsonViewerDep
from wonde_sync.web.visible_history import (
    change_filters,
    filtered_changes,
    history_filters,
    person_query,
    visible_run,
)

#: Every JSON route starts with it; errors on the others are answered as pages.
PREFIX = "/api"

router = APIRouter(prefix=PREFIX)

#: Run ids are BIGINTs: a larger number is no run (422), not a database error.
RunId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("/overview")
def overview_json(viewer: JsonViewerDep, engine: EngineDep) -> dict:
    """The catalog and the caller's sites with their imports and health."""
    found = overview(engine, site_ids=viewer.site_ids)
    return {"viewer": viewer.as_dict(), **found.as_dict()}


@router.get("/runs")
def runs_json(request: Request, viewer: JsonViewerDep, engine: EngineDep) -> dict:
    """Sync History, newest first: ``site``, ``status``, ``kind``, ``page``, ``page_size``."""
    filters = history_filters(request, viewer)
    return history.list_runs(engine, filters, site_ids=viewer.site_ids).as_dict()


@router.get("/runs/{run_id}")
def run_json(run_id: RunId, request: Request, viewer: JsonViewerDep, engine: EngineDep) -> dict:
    """One run with filtered counts by reason and its first record issues."""
    found = visible_run(engine, viewer, run_id)
    return {**found.as_dict(), "issues_csv": Links(request).csv(run_id)}


@router.get("/runs/{run_id}/changes")
def run_changes_json(
    run_id: RunId, request: Request, viewer: JsonViewerDep, engine: EngineDep
) -> dict:
    """What the run changed, person by person: ``action``, ``reason``, ``q`` (a name)."""
    visible_run(engine, viewer, run_id, issue_limit=0)
    wanted = change_filters(request)
    found = filtered_changes(engine, run_id, wanted)
    return {
        "run_id": run_id,
        "data": [c.as_dict() for c in found],
        "csv": Links(request).changes_csv(run_id, wanted),
    }


@router.get("/sites/{site_id}/people")
def person_json(site_id: str, request: Request, viewer: JsonViewerDep, engine: EngineDep) -> dict:
    """A person's changes across runs, newest first (``q``: a name, a Wonde id or a row id),
    and the people it matches whom imports read but never imported."""
    text = person_query(request, viewer, site_id)
    found = changes.person_history(engine, site_id, text)
    never = changes.never_imported(engine, site_id, text)
    return {
        "site_id": site_id,
        "q": text,
        "data": [c.as_dict() for c in found],
        "not_imported": [p.as_dict() for p in never],
    }
