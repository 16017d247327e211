"""Opening what an admin CLI command works on, or one line saying how to fix it.

The database is the SQLAlchemy URL given with ``--db``, else the Airflow connection
``calm_db``; Wonde is the Airflow connection ``wonde_default``. Airflow is imported only
here, and only for those connections.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

from wonde_sync.admin.cli_support import PROG, CliError

_URL_SCHEMES = re.compile(r"^(sqlite|postgresql)(\+\w+)?://")
_SQLITE = "sqlite:///PATH"
_POSTGRES = "postgresql://USER:PASSWORD@HOST:PORT/DB"
_WONDE_EXAMPLE = (
    'AIRFLOW_CONN_WONDE_DEFAULT=\'{"conn_type":"http","host":"https://api.wonde.com/v1.0",'
    '"extra":{"Authorization":"Bearer <app token>"}}\''
)


def open_database(db: str | None, *, create: bool = False) -> Any:
    """An engine on the CalmCompliance database, its schema checked (unless ``create``).

    With ``create`` (``init-db``) a missing SQLite file is created; otherwise it is an
    error, and so are a database that cannot be read and one without this release's
    schema. Each error is a :class:`CliError` naming the fix.
    """
    from wonde_sync.core import database

    init_db = _command(db, "init-db")
    if db is not None and not _URL_SCHEMES.match(db):
        if "://" in db:
            raise CliError(
                f"--db {db!r}: only SQLite ({_SQLITE}) and PostgreSQL ({_POSTGRES}) are supported"
            )
        raise CliError(
            f"--db {db!r} is not a database URL: for a SQLite file use "
            f"sqlite:///{Path(db).resolve()}; for PostgreSQL {_POSTGRES}"
        )
    engine = None
    try:
        if db is None:
            engine = database.engine_for(create_missing=create)
        else:
            engine = database.engine_from_url(db, create_missing=create)
        if not create:
            database.check_schema(engine)
    except (database.DatabaseConfigError, OSError) as exc:
        if engine is not None:
            engine.dispose()
        if isinstance(exc, database.DatabaseMissingError):
            message = f"{exc}: check the path, or create it with: {init_db}"
        elif isinstance(exc, database.SchemaNotReadyError):
            message = f"{exc}: create or upgrade it with: {init_db}"
        elif isinstance(exc, database.DatabaseUnavailableError):
            message = f"{exc}: {reachability_hint(engine)}"
        elif isinstance(exc, OSError):  # the folder of a new SQLite file could not be made
            message = f"cannot create {exc.filename}: {exc.strerror}: choose another path"
        else:
            message = str(exc)
        raise CliError(message) from None
    return engine


def database_error(engine: Any, exc: Exception) -> CliError:
    """One line for a database that failed while a command ran (e.g. the server went away)."""
    from wonde_sync.core.database import describe_database, driver_message

    return CliError(
        f"cannot use {describe_database(engine.url)}: {driver_message(exc)}: "
        f"{reachability_hint(engine)}"
    )


def reachability_hint(engine: Any) -> str:
    """What to check when a database cannot be read."""
    if engine.dialect.name == "sqlite":
        return "check that the path names a CalmCompliance (SQLite) database file"
    return "check the URL, the credentials, and that the server is running"


def wonde_client() -> Any:
    """A Wonde client on the Airflow connection ``wonde_default``, checked to be defined."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    from wonde_sync.wonde.client import DEFAULT_CONN_ID, WondeClient

    try:
        conn = BaseHook.get_connection(DEFAULT_CONN_ID)
    except AirflowNotFoundException:
        raise CliError(
            f"the Airflow connection {DEFAULT_CONN_ID!r} (Wonde) is not defined: set "
            f"{_WONDE_EXAMPLE}"
        ) from None
    if not conn.host:
        raise CliError(
            f"the Airflow connection {DEFAULT_CONN_ID!r} has no host: set it to the Wonde base "
            "URL including /v1.0, e.g. https://api.wonde.com/v1.0"
        )
    return WondeClient()


def _command(db: str | None, command: str) -> str:
    """The full command line of ``command`` on the same database."""
    return f"{PROG} --db {shlex.quote(db)} {command}" if db else f"{PROG} {command}"
