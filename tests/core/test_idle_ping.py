"""Pooled PostgreSQL connections: pinged only after sitting idle, replaced when gone."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.support import postgres_server
from wonde_sync.core import idle_ping
from wonde_sync.core.database import engine_from_url

# SQLite has no server to lose a connection to.
on_postgresql = pytest.mark.parametrize("calm_db", ["postgresql"], indirect=True)


@pytest.fixture
def pooled(calm_db):
    engine = engine_from_url(calm_db)
    pings = []
    sa.event.listen(engine, "before_cursor_execute", lambda *a: pings.append(a[2]))
    yield engine, pings, calm_db
    engine.dispose()


def backend_pid(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()


@on_postgresql
def test_a_connection_back_in_a_moment_is_used_without_a_ping(pooled):
    engine, statements, _ = pooled
    first = backend_pid(engine)
    assert backend_pid(engine) == first  # the same pooled connection, and nothing else sent
    assert statements == ["SELECT pg_backend_pid()"] * 2


@on_postgresql
def test_a_connection_the_server_dropped_while_idle_is_replaced(pooled, monkeypatch):
    engine, _, url = pooled
    first = backend_pid(engine)
    server = url.set(database=None).render_as_string(hide_password=False)
    postgres_server.end_sessions(server, url.database)  # as a server restart would
    monkeypatch.setattr(idle_ping, "IDLE_BEFORE_PING", 0.0)
    assert backend_pid(engine) != first  # pinged, found gone, and a new one opened
