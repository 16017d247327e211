"""Schema migrations of ``calm_db``: one Alembic history for PostgreSQL and SQLite.

The revisions live in ``versions/`` beside this module, so every install of the package
carries them. Alembic records the current revision in ``calm_schema_version``;
``alembic_version`` belongs to Airflow, whose metadata may share the database.

:func:`upgrade` runs the whole upgrade in one transaction, one process at a time: a
PostgreSQL advisory lock, or SQLite's write lock (``BEGIN IMMEDIATE``). A failure, or a
process killed half-way, leaves the schema as it was before.

Databases made before Alembic list the SQL files applied to them in ``schema_migrations``
(``001_initial.sql``, ...). Each file has a revision of the same name without ``.sql``;
the first upgrade stamps the newest one applied and continues from there. The table is
kept and no longer written: it is harmless, and a rollback to a release that predates
Alembic still finds its record.

The history is forward-only: a revision has no ``downgrade``; restore a backup instead.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection, Engine

from wonde_sync.core.database import (
    LEGACY_SCHEMA_TABLE,
    SCHEMA_VERSION_TABLE,
    DatabaseConfigError,
)

VERSION_TABLE = SCHEMA_VERSION_TABLE
SCRIPT_LOCATION = Path(__file__).resolve().parent

LEGACY_TABLE = LEGACY_SCHEMA_TABLE
LEGACY_FILES = ("001_initial.sql", "002_imports.sql", "003_connection_lifecycle.sql")

# Any constant will do; it serialises concurrent upgrades on PostgreSQL.
_LOCK_KEY = 4_242_017


def upgrade(engine: Engine, script_location: Path = SCRIPT_LOCATION) -> list[str]:
    """Upgrade to the newest revision of the history at ``script_location``; return the ids
    of the revisions applied now."""
    applied: list[str] = []

    def record(*, step, **_) -> None:
        if not step.is_stamp:
            applied.append(step.up_revision_id)

    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.attributes["on_version_apply"] = record
    with _exclusive_transaction(engine) as conn:
        config.attributes["connection"] = conn
        adopted = _legacy_revision(conn)
        if adopted:
            command.stamp(config, adopted)
        command.upgrade(config, "head")
    return applied


@contextlib.contextmanager
def _exclusive_transaction(engine: Engine) -> Generator[Connection]:
    """One transaction, held by one process at a time."""
    with engine.connect() as conn:
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:
            # Python's sqlite3 opens a transaction only before DML, so DDL would commit on
            # its own. With the driver in autocommit mode we emit BEGIN ourselves (sqlite3
            # still commits and rolls back); SQLAlchemy restores the mode on release.
            conn.execution_options(isolation_level="AUTOCOMMIT")
        with conn.begin():
            if sqlite:
                # IMMEDIATE takes the write lock now: a second upgrade waits (busy timeout)
                # instead of failing when both try to write.
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
            yield conn


def _legacy_revision(conn: Connection) -> str | None:
    """The revision matching the SQL files a pre-Alembic database lists, if any."""
    inspector = sa.inspect(conn)
    if inspector.has_table(VERSION_TABLE) or not inspector.has_table(LEGACY_TABLE):
        return None
    recorded = set(conn.execute(sa.text(f"SELECT name FROM {LEGACY_TABLE}")).scalars())
    done = LEGACY_FILES[: len(recorded)]
    if recorded != set(done):
        raise DatabaseConfigError(
            f"{LEGACY_TABLE} lists {sorted(recorded)}, which is not a prefix of "
            f"{list(LEGACY_FILES)}: which revision this database is at is unknown."
        )
    return done[-1].removesuffix(".sql") if done else None
