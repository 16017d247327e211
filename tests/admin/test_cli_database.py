"""The admin CLI on a database it cannot use: one line naming the fix, exit code 2.

A missing SQLite file is not created (but for ``init-db``), a corrupt one, a server that
does not answer, a URL of no database and a database without the schema are each
reported without a traceback, and leave the database as it was.
"""

from __future__ import annotations

import sqlite3

import pytest

from tests.admin.conftest import assert_one_line_error, row_counts, url_of
from wonde_sync.core.database import engine_from_url

INIT_DB = "python -m wonde_sync --db {url} init-db"


def test_missing_sqlite_file_is_not_created(tmp_path, run_cli):
    path = tmp_path / "typo" / "calm.db"
    url = f"sqlite:///{path}"
    for argv in (["status"], ["history"], ["search", "fox"], ["add-site", "a", "--name", "A"]):
        assert_one_line_error(
            *run_cli("--db", url, *argv),
            f"error: no CalmCompliance database at {path}: check the path, or create it with: "
            + INIT_DB.format(url=url),
        )
    assert not path.parent.exists()


def test_init_db_creates_a_missing_sqlite_file(tmp_path, run_cli):
    path = tmp_path / "new" / "calm.db"
    code, out, err = run_cli("--db", f"sqlite:///{path}", "init-db")
    assert code == 0 and err == "" and path.is_file()
    assert out.startswith(f"Created or upgraded the SQLite database {path}: applied 001_initial")
    assert run_cli("--db", f"sqlite:///{path}", "history")[1] == "Sync History is empty.\n"


def test_corrupt_sqlite_file(tmp_path, run_cli):
    path = tmp_path / "calm.db"
    path.write_bytes(b"this is not a database, only some text " * 200)
    before = path.read_bytes()
    for argv in (["status"], ["init-db"]):
        assert_one_line_error(
            *run_cli("--db", f"sqlite:///{path}", *argv),
            f"the SQLite database {path}",
            "file is not a database",
            "check that the path names a CalmCompliance (SQLite) database file",
        )
    assert path.read_bytes() == before


def test_postgresql_server_that_does_not_answer(run_cli):
    url = "postgresql+psycopg://calm:s3cret@127.0.0.1:1/calm"
    for argv in (["status"], ["init-db"]):
        code, out, err = run_cli("--db", url, *argv)
        assert_one_line_error(
            code, out, err, "127.0.0.1", "check the URL, the credentials, and that the server"
        )
        assert "s3cret" not in err


@pytest.mark.parametrize(
    "db, message",
    [
        (
            "/srv/calm.db",
            "--db '/srv/calm.db' is not a database URL: for a SQLite file use "
            "sqlite:////srv/calm.db; for PostgreSQL postgresql://USER:PASSWORD@HOST:PORT/DB",
        ),
        ("mysql://db/calm", "only SQLite (sqlite:///PATH) and PostgreSQL"),
        ("", "is not a database URL"),
    ],
)
def test_not_a_database_url(db, message, run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(*run_cli("--db", db, "status"), message)
    assert list(tmp_path.iterdir()) == []


def test_database_without_the_schema(calm_db, run_cli):
    """An empty database on each backend: every command but init-db says to create it."""
    if calm_db.get_backend_name() == "sqlite":
        sqlite3.connect(calm_db.database).close()  # an empty file is an empty database
    engine = engine_from_url(calm_db)
    url = url_of(engine)
    try:
        for argv in (["status"], ["history", "--limit", "5"], ["search", "fox"]):
            assert_one_line_error(
                *run_cli("--db", url, *argv),
                "has no CalmCompliance schema: create or upgrade it with: "
                + INIT_DB.format(url=url),
            )
        assert row_counts(engine) == {}
        assert run_cli("--db", url, "init-db")[0] == 0
        assert run_cli("--db", url, "status")[0] == 0
    finally:
        engine.dispose()


def test_older_schema_asks_for_init_db(engine, run_cli):
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE calm_schema_version SET version_num = '001_initial'")
    before = row_counts(engine)
    assert_one_line_error(
        *run_cli("--db", url_of(engine), "status"),
        "has an older schema (001_initial; this release needs ",
        "create or upgrade it with: python -m wonde_sync --db ",
    )
    assert row_counts(engine) == before


def test_missing_calm_db_connection(run_cli, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_CALM_DB", raising=False)
    assert_one_line_error(
        *run_cli("status"), "The Airflow connection 'calm_db' is not defined: set AIRFLOW_CONN_"
    )
