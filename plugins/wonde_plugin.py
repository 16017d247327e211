"""Airflow plugin: serves the Wonde connection-lifecycle API at ``/wonde`` on the API server.

Airflow imports every module at the top of ``plugins/`` as a plugin, so this one stays tiny;
the API itself is :mod:`wonde_sync.api`.
"""

from airflow.plugins_manager import AirflowPlugin

from wonde_sync.api import app


class WondePlugin(AirflowPlugin):
    """Mounts the CalmCompliance Wonde API (search, access requests, webhooks)."""

    name = "wonde"
    fastapi_apps = [{"app": app, "url_prefix": "/wonde", "name": "Wonde"}]
