"""The clients of a process share one connection pool: each school's client reuses the
connections of the ones before it, and still sends its own school's token."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.support.forked import exit_code_in_child

from .conftest import use_connection


class KeepAliveServer:
    """A real HTTP/1.1 server that counts the connections it accepts."""

    def __init__(self) -> None:
        self.connections = 0
        self.authorizations: list[str | None] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep the connection open between requests

            def setup(self) -> None:
                super().setup()
                server.connections += 1

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                server.authorizations.append(self.headers.get("Authorization"))
                body = json.dumps({"data": {"id": "A1"}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()


@pytest.fixture
def server(monkeypatch):
    found = KeepAliveServer()
    use_connection(monkeypatch, f"http://{found.host}/v1.0")
    yield found
    found.http.shutdown()
    found.http.server_close()


def test_school_clients_reuse_the_pool_with_their_own_tokens(server, make_client):
    app = make_client()
    for school, token in (("A1", "school-token-one"), ("A2", "school-token-two")):
        client = app.for_school({"id": school, "region": {"domain": server.host}}, token)
        client.get(f"schools/{school}")
        client.get(f"schools/{school}")
        client.close()
    assert (
        server.authorizations == ["Bearer school-token-one"] * 2 + ["Bearer school-token-two"] * 2
    )
    assert server.connections == 1


def test_school_clients_share_their_application_clients_connection_look_up(
    server, make_client, monkeypatch
):
    from airflow.providers.http.hooks.http import HttpHook

    looked_up = []
    real = HttpHook.get_connection.__func__

    def counted(cls, conn_id):
        looked_up.append(conn_id)
        return real(cls, conn_id)

    monkeypatch.setattr(HttpHook, "get_connection", classmethod(counted))
    app = make_client()
    for school in ("A1", "A2", "A3"):
        app.for_school({"id": school, "region": {"domain": server.host}}, "t").get("x")
    assert looked_up == [app.conn_id]  # once, for three schools' clients
    make_client().for_school({"id": "A4", "region": {"domain": server.host}}, "t").get("x")
    assert looked_up == [app.conn_id] * 2  # another application client looks it up again


def test_a_forked_process_gets_a_pool_of_its_own(server, make_client):
    """Two processes reading one inherited socket would mix up each other's answers."""
    from wonde_sync.wonde.connection_pool import shared_adapter

    make_client().for_school({"id": "A1", "region": {"domain": server.host}}, "t").get("x")
    assert len(shared_adapter().poolmanager.pools) >= 1  # the parent's open connection
    assert exit_code_in_child(lambda: len(shared_adapter().poolmanager.pools)) == 0
    assert len(shared_adapter().poolmanager.pools) >= 1
