"""The CalmCompliance database (`calm_db`): engines, table handles, bulk loads, timestamps.

PostgreSQL is the production target, SQLite the embedded default. The schema comes from
the Alembic history in :mod:`wonde_sync.core.migrations`, applied by :func:`apply_schema`.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

CALM_DB_CONN_ID = "calm_db"


class DatabaseConfigError(RuntimeError):
    """The CalmCompliance database is not configured, or configured with an unsupported type."""


def engine_from_url(url: str | sa.URL) -> Engine:
    """Create an engine for a SQLAlchemy URL (``postgresql+psycopg://…`` or ``sqlite:///…``)."""
    url = sa.make_url(url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.get_backend_name() == "postgresql":
        return sa.create_engine(url, pool_pre_ping=True)
    raise DatabaseConfigError(
        f"Unsupported database {url.get_backend_name()!r}: use PostgreSQL or SQLite."
    )


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # WAL lets readers keep seeing the previous catalog while a swap is being written.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def engine_for(conn_id: str = CALM_DB_CONN_ID) -> Engine:
    """Create an engine from the Airflow connection ``conn_id`` (postgres or sqlite)."""
    from airflow.sdk import BaseHook

    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception as exc:  # the SDK raises its own not-found type
        raise DatabaseConfigError(
            f"The Airflow connection {conn_id!r} is not defined: set AIRFLOW_CONN_"
            f"{conn_id.upper()} (a PostgreSQL URI, or JSON with conn_type sqlite and "
            "host = the database file path)."
        ) from exc
    if conn.conn_type in ("postgres", "postgresql"):
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        return engine_from_url(PostgresHook(postgres_conn_id=conn_id).sqlalchemy_url)
    if conn.conn_type == "sqlite":
        if not conn.host:
            raise DatabaseConfigError(
                f"Connection {conn_id!r} (sqlite) needs host = the database file path."
            )
        return engine_from_url(sa.URL.create("sqlite", database=conn.host))
    raise DatabaseConfigError(
        f"Connection {conn_id!r} has type {conn.conn_type!r}; use 'postgres' or 'sqlite'."
    )


def apply_schema(engine: Engine) -> list[str]:
    """Upgrade the schema to the newest revision; return the ids of the revisions applied now.

    Idempotent, and safe to run concurrently (see :mod:`wonde_sync.core.migrations`).
    """
    # Imported here: DAG files parse without loading Alembic.
    from wonde_sync.core import migrations

    applied = migrations.upgrade(engine)
    table.cache_clear()
    return applied


def bulk_insert(
    engine: Engine, table_name: str, columns: Sequence[str], rows: Iterable[tuple]
) -> None:
    """Append rows to a table in one go: COPY on PostgreSQL, one executemany on SQLite."""
    if engine.dialect.name == "postgresql":
        raw = engine.raw_connection()
        try:
            with raw.cursor() as cur:
                with cur.copy(f"COPY {table_name} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            raw.commit()
        finally:
            raw.close()
        return
    records = [dict(zip(columns, row, strict=True)) for row in rows]
    if records:
        with engine.begin() as conn:
            conn.execute(sa.insert(table(engine, table_name)), records)


@functools.lru_cache(maxsize=64)
def table(engine: Engine, name: str) -> sa.Table:
    """A reflected handle on one of our tables (cached per engine)."""
    with warnings.catch_warnings():
        # Expression indexes (e.g. on lower(email)) serve queries; Core needs no model of them.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", sa.exc.SAWarning)
        return sa.Table(name, sa.MetaData(), autoload_with=engine)


def utcnow() -> datetime:
    """The current time in UTC, as an aware datetime."""
    return datetime.now(UTC)


def as_utc(value: datetime | str | None) -> datetime | None:
    """Read a stored timestamp as an aware UTC datetime (SQLite hands back naive values)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
