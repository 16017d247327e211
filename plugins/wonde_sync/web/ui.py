"""The "Wonde" page of the Airflow UI, and the same data as JSON, under ``/wonde/ui``.

Served by Airflow's API server (``plugins/wonde_plugin.py`` mounts :data:`app` and adds the
nav entry "Wonde", which shows this page inside Airflow's UI). Server-rendered HTML (Jinja2,
every value escaped, no scripts); the data and the health rules come from
:mod:`wonde_sync.monitoring.details`.

Routes (relative to ``/wonde/ui``):

* ``GET /``: the catalog, every site's imports and health, and Sync History (query
  ``site``, ``status``, ``kind``, ``page``);
* ``GET /runs/{id}``: one run: counts, filtered counts by reason, record issues (rejected
  records, and records imported without an invalid email);
* ``GET /runs/{id}/issues.csv``: all of a run's record issues;
* ``GET /api/overview``, ``GET /api/runs?site=&status=&kind=&page=&page_size=``,
  ``GET /api/runs/{id}``: the same as JSON;
* ``GET /static/wonde.svg`` and ``wonde-dark.svg``: the nav icon (public: it holds no
  data).

Who may read it (everything but the icon):

* an **Airflow user**: the JWT Airflow's UI keeps in the ``_token`` cookie, or an Airflow
  API token as ``Authorization: Bearer <jwt>``, validated by Airflow's auth manager; the
  user must be allowed to view plugins (any role of the simple auth manager) and then sees
  **every site**, as Airflow users operate the whole integration;
* a **service token** of the connection API (``Authorization: Bearer cwt_...``, see
  :mod:`wonde_sync.admin.api_tokens`): only the sites its user administers, plus catalog runs;
  a site filter naming another site is 403, another site's run is 404.

Without either: the page redirects to Airflow's login (401 when not served by Airflow) and
the JSON routes answer 401.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import jinja2
import sqlalchemy as sa
from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from sqlalchemy.engine import Engine

from wonde_sync.admin import api_tokens
from wonde_sync.core import sync_history, vocabulary
from wonde_sync.core.database import utcnow
from wonde_sync.monitoring import details
from wonde_sync.web.api import ApiError, bearer_token, service_caller

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parent / "templates"
#: The cookie in which Airflow's UI keeps the signed-in user's JWT.
AIRFLOW_TOKEN_COOKIE = "_token"

# No scripts at all; styles are inline in the page; Airflow's UI may frame it (same origin).
_HTML_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

# The nav icon, in an orange that reads on Airflow's light and highlighted nav alike.
_ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" '
    'stroke="{colour}" stroke-width="2.2" stroke-linecap="round" stroke-linejoin="round">'
    '<path d="M3 5l4 14 5-10 5 10 4-14"/></svg>'
)
_ICON_COLOURS = {"wonde.svg": "#dd6b20", "wonde-dark.svg": "#f6ad55"}


@dataclass(frozen=True)
class Viewer:
    """Who is reading: an Airflow user (every site) or a service token (its sites)."""

    name: str
    via: str
    site_ids: tuple[str, ...] | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "via": self.via,
            "sites": "all" if self.site_ids is None else list(self.site_ids),
        }


class _Refused(Exception):
    """A request answered with an error status (JSON for the API, a page for HTML)."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: dict[str, list[str]] | None = None,
        login: bool = False,
        html: bool = False,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors
        self.login = login
        self.html = html


class _EngineSource:
    """The CalmCompliance database: given, or the ``calm_db`` connection on first use."""

    def __init__(self, engine: Engine | None) -> None:
        self._engine = engine
        self._lock = threading.Lock()

    def __call__(self) -> Engine:
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    from wonde_sync.core.database import engine_for

                    self._engine = engine_for()
        return self._engine


def _engine(request: Request) -> Engine:
    try:
        return request.app.state.engine_source()
    except Exception as exc:
        log.exception("The CalmCompliance database is not configured")
        raise _Refused(503, "The CalmCompliance database is not available.") from exc


EngineDep = Annotated[Engine, Depends(_engine)]


# --------------------------------------------------------------------------- who is reading


def _airflow_auth_manager():
    """Airflow's auth manager, or None when not running inside Airflow's API server."""
    try:
        from airflow.api_fastapi.app import get_auth_manager

        return get_auth_manager()
    except (ImportError, RuntimeError):
        return None


async def _airflow_user(token: str) -> Viewer | None:
    """The Airflow user a JWT belongs to (None if invalid or expired); 403 without access."""
    manager = _airflow_auth_manager()
    if manager is None:
        return None
    from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
    from jwt import InvalidTokenError

    try:
        user = await manager.get_user_from_token(token)
    except InvalidTokenError:
        return None
    if not manager.is_authorized_view(access_view=AccessView.PLUGINS, user=user):
        raise _Refused(403, "Your Airflow role may not view plugins, so not this page either.")
    return Viewer(name=user.get_name(), via="Airflow user", site_ids=None)


async def _viewer(request: Request, engine: Engine) -> Viewer | None:
    token = bearer_token(request)
    if token is not None and token.startswith(api_tokens.TOKEN_PREFIX):
        caller = await run_in_threadpool(service_caller, request, engine)
        if caller is None:
            return None
        sites = await run_in_threadpool(api_tokens.admin_sites, engine, caller.user_id)
        return Viewer(name=caller.user_id, via="service token", site_ids=tuple(sites))
    # An explicit credential wins over the cookie, as in Airflow's own API.
    jwt = token if token is not None else request.cookies.get(AIRFLOW_TOKEN_COOKIE)
    if not jwt:
        return None
    return await _airflow_user(jwt)


async def page_viewer(request: Request, engine: EngineDep) -> Viewer:
    """The reader of an HTML page; without credentials, off to Airflow's login."""
    try:
        found = await _viewer(request, engine)
    except _Refused as refused:
        refused.html = True
        raise
    if found is None:
        raise _Refused(401, "Sign in to Airflow to see this page.", login=True, html=True)
    return found


async def api_viewer(request: Request, engine: EngineDep) -> Viewer:
    """The caller of a JSON route; 401 without credentials."""
    found = await _viewer(request, engine)
    if found is None:
        raise _Refused(
            401,
            "Authentication required: sign in to Airflow, or send Authorization: Bearer "
            "<API token>.",
        )
    return found


PageViewer = Annotated[Viewer, Depends(page_viewer)]
ApiViewer = Annotated[Viewer, Depends(api_viewer)]


# --------------------------------------------------------------------------- shared steps


def _filters(request: Request, viewer: Viewer, *, html: bool) -> details.RunFilters:
    query = request.query_params
    try:
        filters = details.check_filters(
            site=query.get("site"),
            status=query.get("status"),
            kind=query.get("kind"),
            page=query.get("page"),
            page_size=query.get("page_size"),
        )
    except details.DetailsQueryError as exc:
        raise _Refused(422, str(exc), errors={exc.field: [str(exc)]}, html=html) from None
    if (
        filters.site is not None
        and viewer.site_ids is not None
        and filters.site not in viewer.site_ids
    ):
        raise _Refused(403, f"You are not an admin of site {filters.site}.", html=html)
    return filters


def _run_detail(engine: Engine, viewer: Viewer, run_id: int, *, html: bool, limit: int):
    try:
        return details.get_run(engine, run_id, site_ids=viewer.site_ids, issue_limit=limit)
    except LookupError:
        raise _Refused(404, f"There is no run #{run_id} you can see.", html=html) from None


# --------------------------------------------------------------------------- rendering


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["age"] = vocabulary.describe_age
    env.filters["reason"] = vocabulary.reason_label
    env.filters["short_reason"] = vocabulary.short_reason_label
    env.filters["by_record_type"] = details.by_record_type
    env.filters["kind"] = details.kind_label
    env.filters["record_type"] = lambda t: vocabulary.RECORD_TYPE_LABELS.get(t, t)
    env.filters["duration"] = _duration
    return env


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def _duration(run) -> str:
    if run.finished_at is None:
        return "-"
    seconds = int((run.finished_at - run.started_at).total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    return vocabulary.describe_age(timedelta(seconds=seconds))


class _Links:
    """URLs of this app and of Airflow's UI, wherever the app is mounted."""

    def __init__(self, request: Request) -> None:
        self.base = request.scope.get("root_path", "").rstrip("/")
        # Airflow's own root (non-empty when its base_url has a path).
        self.airflow = request.scope.get("app_root_path", "").rstrip("/")

    def home(self, filters: details.RunFilters | None = None, **changes: Any) -> str:
        """The overview page, with Sync History filters (``changes`` replace some)."""
        query = {} if filters is None else {**filters.as_dict(), **changes}
        if query.get("page_size") == details.DEFAULT_PAGE_SIZE:
            query.pop("page_size")
        if query.get("page") == 1:
            query.pop("page")
        kept = {k: v for k, v in query.items() if v not in (None, "")}
        return f"{self.base}/" + (f"?{urlencode(kept)}" if kept else "")

    def run(self, run_id: int) -> str:
        """A run's detail page."""
        return f"{self.base}/runs/{run_id}"

    def csv(self, run_id: int) -> str:
        """A run's record issues as CSV."""
        return f"{self.base}/runs/{run_id}/issues.csv"

    def icon(self) -> str:
        """The Wonde icon."""
        return f"{self.base}/static/wonde.svg"

    def dag_run(self, run) -> str | None:
        """The run's DAG run in Airflow's UI (None when the run did not come from a DAG)."""
        if not run.dag_id or not run.dag_run_id:
            return None
        return (
            f"{self.airflow}/dags/{quote(run.dag_id, safe='')}"
            f"/runs/{quote(run.dag_run_id, safe='')}"
        )


def _page(request: Request, template: str, code: int = 200, **context: Any) -> HTMLResponse:
    env: jinja2.Environment = request.app.state.templates
    body = env.get_template(template).render(links=_Links(request), **context)
    return HTMLResponse(body, status_code=code, headers=_HTML_HEADERS)


# --------------------------------------------------------------------------- the app


def create_app(*, engine: Engine | None = None) -> FastAPI:
    """Build the page and JSON app (on ``engine``, by default the ``calm_db`` connection)."""
    app = FastAPI(
        title="CalmCompliance - Wonde integration details",
        description="Catalog, sites' imports and health, Sync History.",
        version="1",
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.engine_source = _EngineSource(engine)
    app.state.templates = _environment()

    @app.exception_handler(_Refused)
    async def _refused(request: Request, exc: _Refused) -> Response:
        if exc.login:
            manager = _airflow_auth_manager()
            if manager is not None:
                return RedirectResponse(
                    manager.get_url_login(next_url=str(request.url)), status_code=303
                )
        if exc.html:
            return _page(request, "error.html", exc.status, detail=exc.detail)
        body: dict[str, Any] = {"detail": exc.detail}
        if exc.errors:
            body["errors"] = exc.errors
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(body, status_code=exc.status, headers=headers)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        # Raised by the service-token lookup shared with the connection API (e.g. 503).
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(sa.exc.OperationalError)
    @app.exception_handler(sa.exc.InterfaceError)
    async def _database_down(request: Request, exc: Exception) -> Response:
        log.error("The CalmCompliance database is unavailable: %s", type(exc).__name__)
        return JSONResponse(
            {"detail": "The CalmCompliance database is not available; try again."},
            status_code=503,
        )

    @app.get("/", response_class=HTMLResponse)
    def overview_page(request: Request, viewer: PageViewer, engine: EngineDep) -> HTMLResponse:
        """The integration details page."""
        filters = _filters(request, viewer, html=True)
        found = details.overview(engine, site_ids=viewer.site_ids, now=utcnow())
        history = details.list_runs(engine, filters, site_ids=viewer.site_ids)
        return _page(
            request,
            "overview.html",
            viewer=viewer,
            overview=found,
            history=history,
            statuses=details.STATUSES,
            kinds=sync_history.KIND_LABELS,
        )

    @app.get("/runs/{run_id}", response_class=HTMLResponse)
    def run_page(
        run_id: int, request: Request, viewer: PageViewer, engine: EngineDep
    ) -> HTMLResponse:
        """One run: counts, filtered counts by reason, record issues."""
        found = _run_detail(engine, viewer, run_id, html=True, limit=details.DEFAULT_ISSUE_LIMIT)
        return _page(request, "run.html", viewer=viewer, detail=found, run=found.run)

    @app.get("/runs/{run_id}/issues.csv")
    def issues_csv(
        run_id: int, request: Request, viewer: PageViewer, engine: EngineDep
    ) -> StreamingResponse:
        """Every record issue of a run, as CSV."""
        _run_detail(engine, viewer, run_id, html=True, limit=0)
        return StreamingResponse(
            details.issues_csv(details.iter_issues(engine, run_id)),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="wonde-run-{run_id}-issues.csv"',
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )

    @app.get("/api/overview")
    def overview_json(viewer: ApiViewer, engine: EngineDep) -> dict:
        """The catalog and the caller's sites with their imports and health."""
        return {
            "viewer": viewer.as_dict(),
            **details.overview(engine, site_ids=viewer.site_ids, now=utcnow()).as_dict(),
        }

    @app.get("/api/runs")
    def runs_json(request: Request, viewer: ApiViewer, engine: EngineDep) -> dict:
        """Sync History, newest first: ``site``, ``status``, ``kind``, ``page``, ``page_size``."""
        filters = _filters(request, viewer, html=False)
        return details.list_runs(engine, filters, site_ids=viewer.site_ids).as_dict()

    @app.get("/api/runs/{run_id}")
    def run_json(run_id: int, request: Request, viewer: ApiViewer, engine: EngineDep) -> dict:
        """One run with filtered counts by reason and its first record issues."""
        found = _run_detail(engine, viewer, run_id, html=False, limit=details.DEFAULT_ISSUE_LIMIT)
        links = _Links(request)
        return {**found.as_dict(), "issues_csv": links.csv(run_id)}

    @app.get("/static/{name}", include_in_schema=False)
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

    return app


#: The app the plugin mounts at ``/wonde/ui`` (see ``plugins/wonde_plugin.py``).
app = create_app()
