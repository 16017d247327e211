"""URLs of the integration details and of Airflow's UI, wherever the app is mounted."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request

from wonde_sync.core.sync_history import SyncRun
from wonde_sync.monitoring.run_filters import DEFAULT_PAGE_SIZE, RunFilters


class Links:
    """The links a page or a JSON answer gives, relative to where the request arrived."""

    def __init__(self, request: Request) -> None:
        self.base = request.scope.get("root_path", "").rstrip("/")
        # Airflow's own root (non-empty when its base_url has a path).
        self.airflow = request.scope.get("app_root_path", "").rstrip("/")

    def home(self, filters: RunFilters | None = None, **changes: Any) -> str:
        """The overview page, with Sync History filters (``changes`` replace some)."""
        query = {} if filters is None else {**filters.as_dict(), **changes}
        if query.get("page_size") == DEFAULT_PAGE_SIZE:
            query.pop("page_size")
        if query.get("page") == 1:
            query.pop("page")
        kept = {k: v for k, v in query.items() if v not in (None, "")}
        return f"{self.base}/" + (f"?{urlencode(kept)}" if kept else "")

    def run(self, run_id: int) -> str:
        """A run's detail page."""
        return f"{self.base}/runs/{run_id}"

    def run_action(self, run_id: int, action: str) -> str:
        """Where the run page's ``approve`` or ``undo`` form is sent."""
        return f"{self.base}/runs/{run_id}/{action}"

    def csv(self, run_id: int) -> str:
        """A run's record issues as CSV."""
        return f"{self.base}/runs/{run_id}/issues.csv"

    def changes_csv(self, run_id: int, filters: dict | None = None) -> str:
        """A run's changes as CSV, with the change filters (action, reason, q)."""
        kept = {k: v for k, v in (filters or {}).items() if v}
        return f"{self.base}/runs/{run_id}/changes.csv" + (f"?{urlencode(kept)}" if kept else "")

    def person(self, site_id: str, q: str | None = None) -> str:
        """A site's people page: what imports did to the people ``q`` names."""
        path = f"{self.base}/sites/{quote(site_id, safe='')}/people"
        return path + (f"?{urlencode({'q': q})}" if q else "")

    def icon(self) -> str:
        """The Wonde icon."""
        return f"{self.base}/static/wonde.svg"

    def dag_run(self, run: SyncRun) -> str | None:
        """The run's DAG run in Airflow's UI (None when the run did not come from a DAG)."""
        if not run.dag_id or not run.dag_run_id:
            return None
        return (
            f"{self.airflow}/dags/{quote(run.dag_id, safe='')}"
            f"/runs/{quote(run.dag_run_id, safe='')}"
        )
