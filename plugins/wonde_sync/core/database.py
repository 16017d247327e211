"""The CalmCompliance database (`calm_db`): engines, table handles, bulk loads, timestamps.

PostgreSQL is the production target, SQLite the embedded default. The schema comes from
the Alembic history in :mod:`wonde_sync.core.migrations`, applied by :func:`apply_schema`.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Generator, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from wonde_sync.core import idle_ping, tables

CALM_DB_CONN_ID = "calm_db"
#: Where Alembic records the schema's revision (``alembic_version`` is Airflow's).
SCHEMA_VERSION_TABLE = "calm_schema_version"
_VERSIONS = Path(__file__).resolve().parent / "migrations" / "versions"
#: Before Alembic, applied SQL files were listed here (see :mod:`wonde_sync.core.migrations`).
LEGACY_SCHEMA_TABLE = "schema_migrations"


class DatabaseConfigError(RuntimeError):
    """The CalmCompliance database is not configured, or configured with an unsupported type."""


class DatabaseMissingError(DatabaseConfigError):
    """A SQLite database file that does not exist (and was not to be created)."""


class DatabaseUnavailableError(DatabaseConfigError):
    """The database cannot be reached or read (server down, bad credentials, not a database)."""


class SchemaNotReadyError(DatabaseConfigError):
    """The database holds no CalmCompliance schema, or an older one: apply_schema fixes it."""


def engine_from_url(url: str | sa.URL, *, create_missing: bool = True) -> Engine:
    """Create an engine for a SQLAlchemy URL (``postgresql+psycopg://…`` or ``sqlite:///…``).

    A SQLite file (and its folder) that does not exist is created, unless
    ``create_missing`` is false: then :class:`DatabaseMissingError` is raised.
    """
    try:
        url = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise DatabaseConfigError(f"{str(url)!r} is not a database URL") from None
    if url.get_backend_name() == "sqlite":
        _check_sqlite_file(url, create_missing=create_missing)
        engine = sa.create_engine(url, connect_args={"timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.get_backend_name() == "postgresql":
        # A batch imports a few sites at once, and each holds two connections (its site's
        # run lock and its work): a pool too small would open and close them site by site.
        engine = sa.create_engine(url, pool_size=10)
        idle_ping.ping_when_idle(engine)
        return engine
    raise DatabaseConfigError(
        f"Unsupported database {url.get_backend_name()!r}: use PostgreSQL or SQLite."
    )


def _check_sqlite_file(url: sa.URL, *, create_missing: bool) -> None:
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return
    path = Path(url.database)
    if not create_missing and not path.is_file():
        raise DatabaseMissingError(f"no CalmCompliance database at {path.resolve()}")
    path.parent.mkdir(parents=True, exist_ok=True)


def describe_database(url: sa.URL) -> str:
    """Where a database is, in words, without its password."""
    if url.get_backend_name() == "sqlite":
        return f"the SQLite database {Path(url.database or ':memory:').resolve()}"
    return f"the PostgreSQL database {url.render_as_string(hide_password=True)}"


def check_schema(engine: Engine) -> None:
    """Raise unless the database can be read and holds the schema of this release.

    :class:`DatabaseUnavailableError` when it cannot be reached or read;
    :class:`SchemaNotReadyError` when it has no schema or an older one (``apply_schema``
    fixes both); :class:`DatabaseConfigError` when a later release upgraded it.
    """
    where = describe_database(engine.url)
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            revision = None
            if inspector.has_table(SCHEMA_VERSION_TABLE):
                revision = conn.execute(
                    sa.text(f"SELECT version_num FROM {SCHEMA_VERSION_TABLE}")
                ).scalar()
            legacy = revision is None and inspector.has_table(LEGACY_SCHEMA_TABLE)
    except sa.exc.DBAPIError as exc:
        raise DatabaseUnavailableError(f"cannot read {where}: {driver_message(exc)}") from None
    known = schema_revisions()
    if revision == known[-1]:
        return
    if revision is None and not legacy:
        raise SchemaNotReadyError(f"{where} has no CalmCompliance schema")
    if revision is not None and revision not in known:
        raise DatabaseConfigError(
            f"{where} has schema revision {revision}, unknown to this release (newest "
            f"{known[-1]}): it was upgraded by a newer release; use that one"
        )
    raise SchemaNotReadyError(
        f"{where} has an older schema ({revision or 'from before Alembic'}; this release "
        f"needs {known[-1]})"
    )


def schema_revisions() -> list[str]:
    """The ids of the schema's revisions, oldest first, without loading Alembic.

    Revision ids are the file names in ``migrations/versions`` (``NNN_name``), numbered in
    order.
    """
    return sorted(p.stem for p in _VERSIONS.glob("[0-9]*.py"))


def driver_message(exc: sa.exc.DBAPIError) -> str:
    """The first line of what the database driver said, for a one-line error."""
    lines = str(exc.orig).strip().splitlines()
    return lines[0].strip() if lines else type(exc.orig).__name__


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # WAL lets readers keep seeing the previous catalog while a swap is being written.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def engine_for(conn_id: str = CALM_DB_CONN_ID, *, create_missing: bool = True) -> Engine:
    """The process's engine on the database of the Airflow connection ``conn_id`` (postgres
    or sqlite), made on first use.

    One engine per database and process, so that every task, site and thread of a worker
    shares its pool. ``create_missing``: as for :func:`engine_from_url`.
    """
    url = _connection_url(conn_id)
    if not create_missing:
        _check_sqlite_file(url, create_missing=False)
    key = url.render_as_string(hide_password=False)
    with _engines_lock:
        if key not in _engines:
            _engines[key] = engine_from_url(url, create_missing=create_missing)
        return _engines[key]


def dispose_engines() -> None:
    """Close and forget the engines :func:`engine_for` made (the next call makes new ones)."""
    with _engines_lock:
        engines = list(_engines.values())
        _engines.clear()
    for engine in engines:
        engine.dispose()


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def _after_fork_in_child() -> None:
    # A forked child must not use its parent's pooled connections; it opens its own.
    for engine in _engines.values():
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_after_fork_in_child)


def _connection_url(conn_id: str) -> sa.URL:
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

        return sa.make_url(PostgresHook(postgres_conn_id=conn_id).sqlalchemy_url)
    if conn.conn_type == "sqlite":
        if not conn.host:
            raise DatabaseConfigError(
                f"Connection {conn_id!r} (sqlite) needs host = the database file path."
            )
        return sa.URL.create("sqlite", database=conn.host)
    raise DatabaseConfigError(
        f"Connection {conn_id!r} has type {conn.conn_type!r}; use 'postgres' or 'sqlite'."
    )


def apply_schema(engine: Engine) -> list[str]:
    """Upgrade the schema to the newest revision; return the ids of the revisions applied now.

    Idempotent, and safe to run concurrently (see :mod:`wonde_sync.core.migrations`).
    """
    # Imported here: DAG files parse without loading Alembic.
    from wonde_sync.core import migrations

    return migrations.upgrade(engine)


@contextlib.contextmanager
def transaction(bind: Engine | sa.Connection) -> Generator[sa.Connection, None, None]:
    """A transaction of its own on an engine; on a connection, the caller's transaction."""
    if isinstance(bind, sa.Connection):
        yield bind
        return
    with bind.begin() as conn:
        yield conn


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
            conn.execute(sa.insert(table(table_name)), records)


def table(name: str) -> sa.Table:
    """The declared handle on one of our tables (see :mod:`wonde_sync.core.tables`)."""
    try:
        return tables.metadata.tables[name]
    except KeyError:
        raise KeyError(f"calm_db has no table {name!r}") from None


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
