"""One connection pool to Wonde per process, shared by every client's session.

Each school has its own client (its own token and host), and a site's import is a few
requests: with a pool per client, every site would open new connections, and TLS
sessions, of its own. Sessions mount this one adapter instead; urllib3's pools are
thread-safe, and a session only borrows a connection for each request.

A forked process starts with a pool of its own: the connections it inherited are its
parent's, and two processes reading one socket would mix up each other's answers.
"""

from __future__ import annotations

import os
import threading

from requests_toolbelt.adapters.socket_options import TCPKeepAliveAdapter

#: Connections kept per host: the sites imported at once and their read-ahead pages.
POOL_SIZE = 32

_adapter: TCPKeepAliveAdapter | None = None
_lock = threading.Lock()


def _forget_after_fork() -> None:
    global _adapter, _lock
    _adapter = None  # left to the parent: closing it here would not free its sockets there
    _lock = threading.Lock()  # a lock held by another thread at the fork stays held


os.register_at_fork(after_in_child=_forget_after_fork)


def shared_adapter() -> TCPKeepAliveAdapter:
    """The process's adapter (TCP keep-alive on, as ``HttpHook``'s own default)."""
    global _adapter
    with _lock:
        if _adapter is None:
            _adapter = TCPKeepAliveAdapter(
                idle=120, count=20, interval=30, pool_connections=8, pool_maxsize=POOL_SIZE
            )
        return _adapter
