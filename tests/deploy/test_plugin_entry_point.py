"""The plugin comes with the installed package: Airflow finds it through the package's
``airflow.plugins`` entry point with an empty plugins folder, and registers it once when the
plugins folder holds ``wonde_plugin.py`` too."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

# Prints what Airflow registered, its plugin import errors, and where the modules came from.
_PROBE = """
import json
from airflow.plugins_manager import get_import_errors, get_plugin_info
plugins = [(p["name"], str(p["source"])) for p in get_plugin_info()]
import wonde_plugin, wonde_sync
print(json.dumps({"plugins": plugins, "errors": get_import_errors(),
                  "modules": [wonde_plugin.__file__, wonde_sync.__file__]}))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The project's wheel, built from a copy of the sources and installed into a folder."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    src.mkdir()
    shutil.copy(REPO / "pyproject.toml", src)
    for package in ("plugins", "wonde_emulator"):
        shutil.copytree(REPO / package, src / package, ignore=shutil.ignore_patterns("__pycache__"))
    build = [BIN / "uv", "build", "--wheel", "--quiet", "--out-dir", root / "dist", src]
    subprocess.run(build, check=True, capture_output=True)
    (wheel,) = (root / "dist").glob("*.whl")
    target = root / "site"
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*install, "--no-deps", "--target", target, wheel], check=True)
    return target


def _probed(stdout: bytes) -> dict:
    # Airflow's logging may write warnings to stdout before the probe's one JSON line.
    return json.loads(stdout.decode().strip().splitlines()[-1])


def _airflow_env(home: Path, site: Path, plugins_folder: Path) -> dict[str, str]:
    home.mkdir(exist_ok=True)
    return {
        "PATH": f"{BIN}:/usr/bin:/bin",
        "PYTHONPATH": str(site),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(plugins_folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "CALM_ENVIRONMENT": "test",
    }


@pytest.mark.slow
def test_airflow_lists_the_plugin_of_the_installed_wheel(installed, tmp_path):
    empty = tmp_path / "plugins"
    empty.mkdir()
    env = _airflow_env(tmp_path / "home", installed, empty)
    listed = subprocess.run(
        [BIN / "airflow", "plugins", "-o", "json"],
        env=env,
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
    )
    (plugin,) = json.loads(listed.stdout)
    assert plugin["name"] == "wonde"
    assert plugin["source"].startswith("calm-wonde-sync==")
    assert "wonde_plugin:entry_point_plugin" in plugin["source"]
    apps = {(app["url_prefix"], app["name"]) for app in plugin["fastapi_apps"]}
    assert apps == {("/wonde/ui", "Wonde integration details"), ("/wonde", "Wonde")}
    assert [view["href"] for view in plugin["external_views"]] == ["/wonde/ui/"]

    probe = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, cwd=tmp_path, check=True, capture_output=True
    )
    modules = _probed(probe.stdout)["modules"]
    assert all(Path(module).is_relative_to(installed) for module in modules)


@pytest.mark.slow
def test_plugins_folder_and_entry_point_register_the_plugin_once(installed, tmp_path):
    env = _airflow_env(tmp_path / "home", installed, REPO / "plugins")
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, cwd=tmp_path, check=True, capture_output=True
    )
    seen = _probed(probe.stdout)
    assert seen["plugins"] == [["wonde", "$PLUGINS_FOLDER/wonde_plugin.py"]]
    assert seen["errors"] == {}
