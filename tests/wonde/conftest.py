"""Fixtures for the Wonde client tests: a real in-process emulator, the Airflow connection,
a client factory with tiny backoffs, and a guard that the token never leaks."""

from __future__ import annotations

import json
import logging
import threading
import traceback
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from wonde_emulator import Emulator
from wonde_sync.wonde.client import WondeClient

APP_TOKEN = "app-token-5f3c9e1d7a"
CONN_ID = "wonde_default"


def use_connection(monkeypatch: pytest.MonkeyPatch, base_url: str) -> None:
    """Point ``wonde_default`` at ``base_url`` (with the version path), with the app token."""
    connection = {
        "conn_type": "http",
        "host": base_url,
        "extra": {"Authorization": f"Bearer {APP_TOKEN}"},
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(connection))


def _start(monkeypatch: pytest.MonkeyPatch, **options: Any) -> Iterator[Emulator]:
    settings = {
        "schools": 60,
        "staff_per_school": 12,
        "seed": 1,
        "token": APP_TOKEN,
        "max_per_page": 200,
        "approved": 3,
        "port": 0,
    }
    settings.update(options)
    with Emulator(**settings) as emu:
        use_connection(monkeypatch, emu.api_url)
        yield emu


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """A small emulator (60 schools, 12 staff each, 3 approved) wired to ``wonde_default``."""
    yield from _start(monkeypatch)


@pytest.fixture
def other_host(emu: Emulator) -> str:
    """Another name of ``emu``'s host (``localhost:<port>``): the AUS schools' region domain."""
    return f"localhost:{emu.port}"


@pytest.fixture
def big_emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """An emulator with 1,000 schools in the directory."""
    yield from _start(monkeypatch, schools=1000, staff_per_school=2)


@pytest.fixture
def make_client() -> Callable[..., WondeClient]:
    """Build clients with test-sized backoffs (no real waiting) and a short timeout."""
    created: list[WondeClient] = []

    def factory(**overrides: Any) -> WondeClient:
        options: dict[str, Any] = {
            "conn_id": CONN_ID,
            "per_page": 50,
            "timeout": 5.0,
            "max_attempts": 4,
            "backoff_initial": 0.01,
            "backoff_max": 0.05,
        }
        options.update(overrides)
        client = WondeClient(**options)
        created.append(client)
        return client

    yield factory
    for client in created:
        client.close()


class SecretWatch:
    """Collects everything observable (logs at DEBUG, stdout/stderr, texts) for a secret check."""

    def __init__(self, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture) -> None:
        self.caplog = caplog
        self.capsys = capsys
        self.secrets: set[str] = {APP_TOKEN}

    def add(self, secret: str) -> None:
        self.secrets.add(secret)

    def warnings(self) -> list[str]:
        return [
            record.getMessage()
            for record in self.caplog.records
            if record.levelno >= logging.WARNING and record.name.startswith("wonde_sync")
        ]

    def assert_clean(self, *objects: Any) -> None:
        """Assert no secret in captured logs/output, nor in str/repr/traceback of ``objects``."""
        captured = self.capsys.readouterr()
        texts = [self.caplog.text, captured.out, captured.err]
        texts += [record.getMessage() for record in self.caplog.records]
        texts += [repr(record.args) for record in self.caplog.records]
        for obj in objects:
            texts += [str(obj), repr(obj)]
            if isinstance(obj, BaseException):
                texts.append("".join(traceback.format_exception(obj)))
                texts.append(repr(vars(obj)))
        for secret in self.secrets:
            leaks = [text for text in texts if secret in text]
            assert not leaks, f"secret leaked into: {leaks[0][:500]}"


@pytest.fixture
def secret_watch(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture) -> SecretWatch:
    """Capture logs at DEBUG (all loggers) so tests can assert the token never shows up."""
    caplog.set_level(logging.DEBUG)
    return SecretWatch(caplog, capsys)


class StubServer:
    """A tiny real HTTP server answering scripted responses, for shapes the emulator never
    sends (a pagination loop, ``more: false`` beside a non-null ``next``, a 200 with an empty
    or non-JSON body). Each path answers its scripted responses in turn, repeating the last."""

    def __init__(self) -> None:
        self.routes: dict[str, list[tuple[int, dict[str, str], bytes]]] = {}
        self.hits: list[str] = []
        self.authorizations: list[str | None] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                stub.hits.append(self.path)
                stub.authorizations.append(self.headers.get("Authorization"))
                script = stub.routes.get(self.path) or [(404, {}, b'{"error":"x"}')]
                status, headers, body = script.pop(0) if len(script) > 1 else script[0]
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_DELETE = _serve  # noqa: N815 (http.server's naming)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def json(self, path: str, body: Any, status: int = 200, **headers: str) -> None:
        """Answer ``path`` with this JSON from now on."""
        self.routes[path] = [(status, headers, json.dumps(body).encode())]

    def then(self, path: str, raw: bytes, status: int = 200) -> None:
        """Add a raw response to the script of ``path`` (answered after the earlier ones)."""
        self.routes.setdefault(path, []).append((status, {}, raw))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[StubServer]:
    """A scripted server wired to ``wonde_default`` (base URL ``<stub>/v1.0``)."""
    server = StubServer()
    use_connection(monkeypatch, f"{server.url}/v1.0")
    yield server
    server.close()
