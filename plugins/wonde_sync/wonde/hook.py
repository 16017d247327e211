"""The HTTP hook of the Wonde clients: Airflow's ``HttpHook`` on the shared connection pool,
looking its Airflow connection up once.

``HttpHook`` looks the connection up each time it makes a session; in a task process that
lookup may be a call to Airflow's API server. A school's client is made per site from the
application client, whose connection it shares: a batch of sites looks ``wonde_default`` up
once, not once a site.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from airflow.providers.http.hooks.http import HttpHook

from wonde_sync.wonde.connection_pool import shared_adapter

if TYPE_CHECKING:
    from airflow.sdk import Connection


class WondeHook(HttpHook):
    """``HttpHook`` (GET by default) on :func:`shared_adapter`, looking its connection up on
    first use only; ``app_hook``: the hook whose look-up it shares (a school's client's)."""

    def __init__(self, conn_id: str, app_hook: WondeHook | None = None) -> None:
        super().__init__(method="GET", http_conn_id=conn_id, adapter=shared_adapter())
        self._app_hook = app_hook if app_hook and app_hook.http_conn_id == conn_id else None
        self._connection: Connection | None = None
        self._lookup = threading.Lock()

    def get_connection(self, conn_id: str) -> Connection:  # type: ignore[override]
        """This hook's connection, looked up once (another id: looked up each time)."""
        if conn_id != self.http_conn_id:
            return super().get_connection(conn_id)
        with self._lookup:
            if self._connection is None:
                self._connection = (
                    self._app_hook.get_connection(conn_id)
                    if self._app_hook
                    else super().get_connection(conn_id)
                )
            return self._connection
