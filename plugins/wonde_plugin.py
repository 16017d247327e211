"""Airflow plugin: the Wonde API at ``/wonde`` and the "Wonde" page at ``/wonde/ui``.

Airflow finds it two ways: installed, through the ``airflow.plugins`` entry point
(``pyproject.toml``), and as a file of the plugins folder. Airflow imports every module at
the top of ``plugins/`` as a plugin, so this one stays tiny; the API is
:mod:`wonde_sync.web.api`, the page and its JSON :mod:`wonde_sync.web.ui`.
"""

from pathlib import Path

from airflow import settings
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


def loaded_from_plugins_folder() -> bool:
    """Whether Airflow's plugins folder scan imported this file (it does so by path)."""
    folder = settings.PLUGINS_FOLDER
    return bool(folder) and Path(__file__).resolve().is_relative_to(Path(folder).resolve())


# The entry point's target. Airflow scans the plugins folder before it reads entry points,
# and the scan registers this file under its own name "wonde_plugin", the module the entry
# point imports: then the plugin is already registered, and None (not a plugin) makes
# Airflow skip the entry point instead of recording "already registered" as an import error.
entry_point_plugin = None if loaded_from_plugins_folder() else WondePlugin
