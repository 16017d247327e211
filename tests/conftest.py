"""Shared test set-up: an isolated Airflow home, before anything imports Airflow."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="wonde-test-airflow-"))
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(REPO / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
# Airflow signs its UI tokens with this; a long one, as production should use.
os.environ["AIRFLOW__API_AUTH__JWT_SECRET"] = secrets.token_hex(32)
# School tokens are encrypted with the published development key in tests.
os.environ.setdefault("CALM_ENVIRONMENT", "test")
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}"

import uuid  # noqa: E402

import pytest  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from tests.support import postgres_server  # noqa: E402


@pytest.fixture(scope="session")
def postgres_url():
    """Base URL of a PostgreSQL server: CALM_TEST_POSTGRES_URL, or a throwaway one."""
    given = os.environ.get("CALM_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    # Not under pytest's tmp folders: those are private to root, and the server runs
    # as the postgres user when the tests run as root.
    folder = tempfile.mkdtemp(prefix="calm-test-pg-")
    url = postgres_server.start(folder)
    yield url
    postgres_server.stop(folder)
    shutil.rmtree(folder, ignore_errors=True)


def _airflow_conn_json(url: sa.URL) -> str:
    if url.get_backend_name() == "sqlite":
        return json.dumps({"conn_type": "sqlite", "host": url.database})
    return json.dumps(
        {
            "conn_type": "postgres",
            "host": url.host,
            "port": url.port,
            "login": url.username,
            "password": url.password or "",
            "schema": url.database,
        }
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def calm_db(request, tmp_path, monkeypatch) -> sa.URL:
    """A fresh, empty CalmCompliance database on each backend, wired up as ``calm_db``."""
    if request.param == "sqlite":
        url = sa.make_url(f"sqlite:///{tmp_path / 'calm.db'}")
    else:
        server = sa.make_url(request.getfixturevalue("postgres_url"))
        name = f"calm_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        admin.dispose()
        url = server.set(database=name)
    monkeypatch.setenv("AIRFLOW_CONN_CALM_DB", _airflow_conn_json(url))
    return url


@pytest.fixture
def engine(calm_db):
    """An engine on ``calm_db`` with the schema applied."""
    from wonde_sync.core.database import apply_schema, engine_from_url

    eng = engine_from_url(calm_db)
    apply_schema(eng)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's own metadata database (SQLite), migrated once, with the ``wonde_api`` pool."""
    import subprocess
    import sys

    for command in (["db", "migrate"], ["pools", "set", "wonde_api", "2", "Calls to Wonde"]):
        subprocess.run([sys.executable, "-m", "airflow", *command], check=True, capture_output=True)


@pytest.fixture
def start_emulator(monkeypatch):
    """Start an in-process Wonde emulator and point ``wonde_default`` at it."""
    from wonde_emulator import Emulator

    started = []

    def start(token: str = "test-app-token", **options):
        emu = Emulator(token=token, port=0, **options)
        emu.start()
        started.append(emu)
        monkeypatch.setenv(
            "AIRFLOW_CONN_WONDE_DEFAULT",
            json.dumps(
                {
                    "conn_type": "http",
                    "host": emu.api_url,
                    "extra": {"Authorization": f"Bearer {token}"},
                }
            ),
        )
        return emu

    yield start
    for emu in started:
        emu.stop()
