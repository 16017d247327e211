"""A pooled PostgreSQL connection is checked before use only after it sat idle a while.

SQLAlchemy's ``pool_pre_ping`` sends ``SELECT 1`` at every checkout. A site's import checks
out a few connections, each returned to the pool milliseconds before: those pings were a
tenth of an incremental import's time. Here a connection idle for less than
:data:`IDLE_BEFORE_PING` seconds is used as it is; one idle longer (when a server restart
or an idle-connection timeout may have closed it) is pinged first, and replaced by a new
connection when the ping fails.
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from sqlalchemy.engine import Engine

#: Seconds a pooled connection may sit idle and still be used without a ping.
IDLE_BEFORE_PING = 5.0


def ping_when_idle(engine: Engine) -> None:
    """Ping ``engine``'s pooled connections at checkout when idle for long enough."""

    def note_checkin(_dbapi_conn, record) -> None:
        record.info["idle_since"] = time.monotonic()

    def ping_if_idle(dbapi_conn, record, _proxy) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < IDLE_BEFORE_PING:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            # The pool discards this connection and checks out a new one.
            raise sa.exc.DisconnectionError(f"pooled connection is gone: {exc}") from exc

    sa.event.listen(engine, "checkin", note_checkin)
    sa.event.listen(engine, "checkout", ping_if_idle)
