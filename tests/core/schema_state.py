"""Where a database's schema stands: its Alembic revision, and a comparable description of it
as the database itself reports it."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import sqlalchemy as sa

from wonde_sync.core import migrations
from wonde_sync.core.migrations import LEGACY_TABLE, VERSION_TABLE

#: The history, oldest first.
REVISIONS = [
    "001_initial",
    "002_imports",
    "003_connection_lifecycle",
    "004_sync_run_context",
    "005_one_site_per_school",
    "006_webhook_journal",
    "007_person_changes",
    "008_not_imported",
]

#: Tables that record migrations rather than hold data.
BOOKKEEPING = {VERSION_TABLE, LEGACY_TABLE}


def history_until(folder: Path, last: str) -> Path:
    """A copy of the history that ends with revision ``last``."""
    location = folder / "migrations"
    shutil.copytree(
        migrations.SCRIPT_LOCATION, location, ignore=shutil.ignore_patterns("__pycache__")
    )
    for later in REVISIONS[REVISIONS.index(last) + 1 :]:
        (location / "versions" / f"{later}.py").unlink()
    return location


def version(engine: sa.Engine) -> list[str]:
    """The revisions recorded in the version table."""
    with engine.connect() as conn:
        return list(conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())


def describe(engine: sa.Engine) -> dict:
    """Tables with their columns (type, nullability, default, identity), keys, unique, foreign
    key and check constraints; and every index as the server's catalog defines it."""
    with engine.connect() as conn, warnings.catch_warnings():
        # The inspector skips expression indexes on SQLite; the catalog below has them.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", sa.exc.SAWarning)
        inspector = sa.inspect(conn)
        tables = {
            name: _table(conn, inspector, name)
            for name in sorted(set(inspector.get_table_names()) - BOOKKEEPING)
        }
        return {"tables": tables, "indexes": _indexes(conn)}


def _table(conn: sa.Connection, inspector: sa.Inspector, name: str) -> dict:
    described = {
        "columns": [
            {**c, "type": c["type"].compile(conn.dialect)} for c in inspector.get_columns(name)
        ],
        "primary_key": inspector.get_pk_constraint(name),
        "unique": sorted(map(repr, inspector.get_unique_constraints(name))),
        "foreign_keys": sorted(map(repr, inspector.get_foreign_keys(name))),
        "checks": sorted(map(repr, inspector.get_check_constraints(name))),
    }
    if conn.dialect.name == "sqlite":
        # AUTOINCREMENT (ids never reused) shows only in the table's SQL.
        sql = conn.execute(
            sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :n"),
            {"n": name},
        ).scalar_one()
        described["autoincrement"] = "AUTOINCREMENT" in sql.upper()
    return described


def _indexes(conn: sa.Connection) -> dict:
    if conn.dialect.name == "postgresql":
        rows = conn.execute(
            sa.text(
                "SELECT indexname, indexdef FROM pg_indexes"
                " WHERE schemaname = current_schema() AND tablename <> ALL(:skip)"
            ),
            {"skip": sorted(BOOKKEEPING)},
        )
        return dict(rows.all())
    described = {}
    rows = conn.execute(
        sa.text("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index'")
    )
    for name, table, sql in rows:
        if table in BOOKKEEPING:
            continue
        # Columns with their collation and order; the SQL adds expressions and WHERE.
        xinfo = conn.exec_driver_sql(f'PRAGMA index_xinfo("{name}")').all()
        described[name] = (table, " ".join(sql.split()) if sql else None, xinfo)
    return described
