"""One connection pool to Wonde per process, shared by every client's session.

Each school has its own client (its own token and host), and a site's import is a few
requests: with a pool per client, every site would open new connections, and TLS
sessions, of its own. Sessions mount this one adapter instead; urllib3's pools are
thread-safe, and a session only borrows a connection for each request.
"""

from __future__ import annotations

import threading

from requests_toolbelt.adapters.socket_options import TCPKeepAliveAdapter

#: Connections kept per host: the sites imported at once and their read-ahead pages.
POOL_SIZE = 32

_adapter: TCPKeepAliveAdapter | None = None
_lock = threading.Lock()


def shared_adapter() -> TCPKeepAliveAdapter:
    """The process's adapter (TCP keep-alive on, as ``HttpHook``'s own default)."""
    global _adapter
    with _lock:
        if _adapter is None:
            _adapter = TCPKeepAliveAdapter(
                idle=120, count=20, interval=30, pool_connections=8, pool_maxsize=POOL_SIZE
            )
        return _adapter
