"""The "Wonde" page of the Airflow UI, and the same data as JSON, under ``/wonde/ui``.

Served by Airflow's API server (``plugins/wonde_plugin.py`` mounts :data:`app` and adds the
nav entry "Wonde", which shows this page inside Airflow's UI). The pages are
:mod:`wonde_sync.web.ui_pages`, the JSON :mod:`wonde_sync.web.ui_json`; the data and the
health rules come from :mod:`wonde_sync.monitoring`.

Routes (relative to ``/wonde/ui``):

* ``GET /``: the catalog, every site's imports and health, and Sync History (query
  ``site``, ``status``, ``kind``, ``page``);
* ``GET /runs/{id}``: one run: counts, filtered counts by reason, record issues (rejected
  records, and records imported without an invalid email);
* ``GET /runs/{id}/issues.csv``: all of a run's record issues;
* ``GET /runs/{id}/changes.csv``: a run's changes, filtered as on its page;
* ``GET /sites/{site}/people?q=``: what imports did to the people a name or id matches;
* ``POST /runs/{id}/approve`` and ``/runs/{id}/undo``: the run page's forms that apply a
  held run's plan and undo a run (:mod:`wonde_sync.web.ui_actions`);
* ``GET /api/overview``, ``GET /api/runs?site=&status=&kind=&page=&page_size=``,
  ``GET /api/runs/{id}``, ``GET /api/runs/{id}/changes``, ``GET /api/sites/{site}/people``:
  the same as JSON; ``POST /api/runs/{id}/approve`` and ``/api/runs/{id}/undo`` by API token;
* ``GET /static/wonde.svg`` and ``wonde-dark.svg``: the nav icon (public: it holds no
  data).

Who may read it (everything but the icon; see :mod:`wonde_sync.web.viewers`):

* an **Airflow user** (Airflow's UI cookie, or an Airflow API token as a bearer token)
  allowed to view plugins: **every site**, as Airflow users operate the whole integration;
* a **service token** of the connection API (``Authorization: Bearer cwt_...``): only the
  sites its user administers, plus catalog runs; a site filter naming another site is 403,
  another site's run is 404.

Approving a held run's plan and undoing a run take an Airflow user also allowed to start DAG
runs, or a service token of the run's site.

Without either: the page redirects to Airflow's login (401 when not served by Airflow) and
the JSON routes answer 401. Errors are JSON on the JSON routes and a page elsewhere. No API
documentation is served.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.engine import Engine

from wonde_sync.web import ui_actions, ui_json, ui_pages
from wonde_sync.web.auth import WebError, install_error_handlers, new_app
from wonde_sync.web.rendering import environment, render_page
from wonde_sync.web.viewers import airflow_auth_manager


def _is_page(request: Request) -> bool:
    route = request.scope.get("route")
    return route is not None and not route.path.startswith(ui_json.PREFIX + "/")


def _answer(request: Request, exc: WebError) -> Response:
    """JSON on the JSON routes; on pages an error page, or Airflow's login for a 401."""
    if not _is_page(request):
        return exc.as_json()
    if exc.status == 401:
        manager = airflow_auth_manager()
        if manager is not None:
            return RedirectResponse(manager.get_url_login(next_url=str(request.url)), 303)
    return render_page(request, "error.html", exc.status, detail=exc.detail)


def create_app(*, engine: Engine | None = None) -> FastAPI:
    """Build the page and JSON app (on ``engine``, by default the ``calm_db`` connection)."""
    app = new_app(
        "CalmCompliance - Wonde integration details",
        "Catalog, sites' imports and health, Sync History.",
        engine,
    )
    app.state.templates = environment()
    install_error_handlers(app, _answer)
    app.include_router(ui_pages.router)
    app.include_router(ui_json.router)
    app.include_router(ui_actions.router)
    return app


#: The app the plugin mounts at ``/wonde/ui`` (see ``plugins/wonde_plugin.py``).
app = create_app()
