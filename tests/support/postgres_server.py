"""A throwaway PostgreSQL server on loopback, for tests and benchmarks, and its databases.

``initdb`` + ``pg_ctl`` on a temporary folder, on a free port. As root (CI), the server
runs as the ``postgres`` system user, because PostgreSQL refuses to run as root.

    python tests/support/postgres_server.py start DIR   # prints the server URL
    python tests/support/postgres_server.py stop DIR

:func:`create_database`, :func:`drop_database` and :func:`databases` work on any server,
given its base URL (``postgresql+psycopg://user@host:port``).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

SUPERUSER = "postgres"


def _bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not candidates:
        raise RuntimeError(
            f"PostgreSQL's {name} was not found: install the PostgreSQL server "
            "(e.g. apt-get install postgresql)."
        )
    return candidates[-1]


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(directory: str | Path) -> str:
    """Create and start a cluster in ``directory``; return its base URL (no database)."""
    directory = Path(directory)
    data = directory / "data"
    directory.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
    port = _free_port()
    subprocess.run(
        _as_server_user(
            [
                _bin("initdb"),
                "-D",
                str(data),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    options = f"-p {port} -c listen_addresses=127.0.0.1 -k {directory} -c fsync=off"
    options += " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    subprocess.run(
        _as_server_user(
            [
                _bin("pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(directory / "log"),
                "-w",
                "start",
            ]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{port}"


def stop(directory: str | Path) -> None:
    """Stop the cluster in ``directory`` (if it runs)."""
    data = Path(directory) / "data"
    if data.exists():
        subprocess.run(
            _as_server_user([_bin("pg_ctl"), "-D", str(data), "-m", "fast", "stop"]),
            check=False,
            stdout=subprocess.DEVNULL,
        )


def _admin(server_url: str):
    import sqlalchemy as sa

    url = sa.make_url(server_url).set(database="postgres")
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def create_database(server_url: str, name: str, template: str | None = None) -> str:
    """Create database ``name`` (a copy of ``template`` if given); return its URL."""
    import sqlalchemy as sa

    sql = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
    engine = _admin(server_url)
    with engine.connect() as conn:
        conn.exec_driver_sql(sql)
    engine.dispose()
    return sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, name: str) -> None:
    """Drop database ``name`` if it exists, ending the sessions still connected to it."""
    engine = _admin(server_url)
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    engine.dispose()


def end_sessions(server_url: str, name: str) -> None:
    """End every session connected to database ``name`` (before copying it)."""
    engine = _admin(server_url)
    with engine.connect() as conn:
        conn.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
    engine.dispose()


def databases(server_url: str, pattern: str) -> list[str]:
    """The names of the server's databases that match the SQL LIKE ``pattern``."""
    import sqlalchemy as sa

    engine = _admin(server_url)
    with engine.connect() as conn:
        names = conn.execute(
            sa.text("SELECT datname FROM pg_database WHERE datname LIKE :p ORDER BY datname"),
            {"p": pattern},
        ).scalars()
        found = list(names)
    engine.dispose()
    return found


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("start", "stop"):
        sys.exit("usage: postgres_server.py start|stop DIR")
    if sys.argv[1] == "start":
        print(start(sys.argv[2]))
    else:
        stop(sys.argv[2])
