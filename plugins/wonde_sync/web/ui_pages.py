"""The pages of the integration details: overview, one run (with its changes), its issues and
changes as CSV, the nav icon."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from wonde_sync.core import sync_history
from wonde_sync.core.vocabulary import CHANGE_ACTIONS
from wonde_sync.monitoring import changes, history
from wonde_sync.monitoring.csv_export import changes_csv, issues_csv
from wonde_sync.monitoring.overview import overview
from wonde_sync.web.auth import EngineDep
from wonde_sync.web.rendering import render_page
from wonde_sync.web.ui_actions import review
from wonde_sync.web.ui_json import RunId
from wonde_sync.web.viewers import PageViewerDep
from wonde_sync.web.visible_history import (
    change_filters,
    filtered_changes,
    history_filters,
    person_query,
    visible_run,
)

# The nav icon, in an orange that reads on Airflow's light and highlighted nav alike.
_ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" '
    'stroke="{colour}" stroke-width="2.2" stroke-linecap="round" stroke-linejoin="round">'
    '<path d="M3 5l4 14 5-10 5 10 4-14"/></svg>'
)
_ICON_COLOURS = {"wonde.svg": "#dd6b20", "wonde-dark.svg": "#f6ad55"}

router = APIRouter()
#: Changes a run's page lists; the CSV has all of them.
CHANGES_SHOWN = 200


@router.get("/", response_class=HTMLResponse)
def overview_page(request: Request, viewer: PageViewerDep, engine: EngineDep) -> HTMLResponse:
    """The integration details page."""
    filters = history_filters(request, viewer)
    return render_page(
        request,
        "overview.html",
        viewer=viewer,
        overview=overview(engine, site_ids=viewer.site_ids),
        history=history.list_runs(engine, filters, site_ids=viewer.site_ids),
        statuses=sync_history.STATUSES,
        kinds=sync_history.KIND_LABELS,
    )


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(
    run_id: RunId, request: Request, viewer: PageViewerDep, engine: EngineDep
) -> HTMLResponse:
    """One run: counts, filtered counts by reason, record issues, its first changes."""
    found = visible_run(engine, viewer, run_id)
    wanted = change_filters(request)
    shown = filtered_changes(engine, run_id, wanted, limit=CHANGES_SHOWN + 1)
    return render_page(
        request,
        "run.html",
        viewer=viewer,
        detail=found,
        run=found.run,
        changes=shown[:CHANGES_SHOWN],
        more_changes=len(shown) > CHANGES_SHOWN,
        change_filters=wanted,
        actions=CHANGE_ACTIONS,
        review=review(engine, request, viewer, found.run),
    )


@router.get("/sites/{site_id}/people", response_class=HTMLResponse)
def person_page(
    site_id: str, request: Request, viewer: PageViewerDep, engine: EngineDep
) -> HTMLResponse:
    """What imports did to the people a name or id matches, across runs."""
    text = person_query(request, viewer, site_id)
    return render_page(
        request,
        "person.html",
        viewer=viewer,
        site_id=site_id,
        q=text,
        history=changes.person_history(engine, site_id, text),
        never=changes.never_imported(engine, site_id, text),
    )


@router.get("/runs/{run_id}/changes.csv")
def changes_csv_download(
    run_id: RunId, request: Request, viewer: PageViewerDep, engine: EngineDep
) -> StreamingResponse:
    """A run's changes, filtered as on its page, as CSV."""
    visible_run(engine, viewer, run_id, issue_limit=0)
    wanted = change_filters(request)
    found = filtered_changes(engine, run_id, wanted)
    return _csv(changes_csv(found), f"wonde-run-{run_id}-changes.csv")


@router.get("/runs/{run_id}/issues.csv")
def issues_csv_download(
    run_id: RunId, viewer: PageViewerDep, engine: EngineDep
) -> StreamingResponse:
    """Every record issue of a run, as CSV."""
    visible_run(engine, viewer, run_id, issue_limit=0)
    return _csv(issues_csv(history.iter_issues(engine, run_id)), f"wonde-run-{run_id}-issues.csv")


def _csv(lines, filename: str) -> StreamingResponse:
    return StreamingResponse(
        lines,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/static/{name}")
def icon(name: str) -> Response:
    """The nav icon (``wonde.svg``, and ``wonde-dark.svg`` for Airflow's dark mode)."""
    colour = _ICON_COLOURS.get(name)
    if colour is None:
        return Response(status_code=404)
    return Response(
        _ICON.format(colour=colour),
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )
