"""scripts/create_calm_db.sh, the postgres image's init script in docker-compose.yaml, run
against a real PostgreSQL server: it creates the calm role and database, with a password
psql quotes itself, and refuses to run without one."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from tests.support import shared_run

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "create_calm_db.sh"

pytestmark = pytest.mark.skipif(not shutil.which("psql"), reason="needs psql on PATH")


@pytest.fixture
def server(postgres_url):
    """The server's superuser URL, and a fresh name for the role and database; both dropped."""
    url = sa.make_url(postgres_url)
    name = f"calm_init_{shared_run.tag()}_{secrets.token_hex(4)}"
    yield url, name
    with psycopg.connect(_dsn(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'DROP ROLE IF EXISTS "{name}"')


def _dsn(url: sa.URL, database: str, **override) -> str:
    parts = {"host": url.host, "port": url.port, "user": url.username, "dbname": database}
    parts = {**parts, "password": url.password, **override}
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in parts.items() if v is not None})


def _run(url: sa.URL, **env) -> subprocess.CompletedProcess:
    environment = {
        "PATH": os.environ["PATH"],
        "PGHOST": url.host or "",
        "PGPORT": str(url.port or 5432),
        "POSTGRES_USER": url.username or "postgres",
        "POSTGRES_DB": "postgres",
        **({"PGPASSWORD": url.password} if url.password else {}),
        **env,
    }
    return subprocess.run(["bash", SCRIPT], env=environment, capture_output=True, text=True)


def test_creates_the_calm_role_and_its_database(server):
    url, name = server
    password = 'it\'s a "quoted" pass; DROP ROLE x'
    done = _run(url, CALM_DB_USER=name, CALM_DB_NAME=name, CALM_DB_PASSWORD=password)
    assert done.returncode == 0, done.stderr
    with psycopg.connect(_dsn(url, "postgres"), autocommit=True) as conn:
        owner = conn.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        login = conn.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", (name,))
        assert owner == (name,)
        assert login.fetchone() == (True,)
    # The owner can make its schema there (what init-db does).
    with psycopg.connect(_dsn(url, name, user=name, password=password)) as conn:
        conn.execute("CREATE TABLE probe (id int)")


def test_refuses_to_run_without_a_password(server):
    url, name = server
    refused = _run(url, CALM_DB_USER=name, CALM_DB_NAME=name)
    assert refused.returncode != 0
    assert "CALM_DB_PASSWORD" in refused.stderr
    with psycopg.connect(_dsn(url, "postgres"), autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        assert found.fetchone() is None
