"""Airflow plugin: the Wonde API at ``/wonde`` and the "Wonde" page at ``/wonde/ui``.

Airflow imports every module at the top of ``plugins/`` as a plugin, so this one stays tiny;
the API is :mod:`wonde_sync.web.api`, the page and its JSON :mod:`wonde_sync.web.ui`.
"""

from airflow.plugins_manager import AirflowPlugin

from wonde_sync.web import ui
from wonde_sync.web.api import app


class WondePlugin(AirflowPlugin):
    """Mounts the CalmCompliance Wonde API and the integration details page."""

    name = "wonde"
    # Mounts are matched in order and "/wonde" would also take "/wonde/ui/...": UI first.
    fastapi_apps = [
        {"app": ui.app, "url_prefix": "/wonde/ui", "name": "Wonde integration details"},
        {"app": app, "url_prefix": "/wonde", "name": "Wonde"},
    ]
    # A top-level entry of Airflow's nav that shows the page inside Airflow's UI.
    external_views = [
        {
            "name": "Wonde",
            "href": "/wonde/ui/",
            "destination": "nav",
            "url_route": "wonde",
            "icon": "/wonde/ui/static/wonde.svg",
            "icon_dark_mode": "/wonde/ui/static/wonde-dark.svg",
            "nav_top_level": True,
        }
    ]
