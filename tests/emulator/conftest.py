"""Fixtures for the Wonde emulator contract tests: real HTTP against an in-process emulator."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from wonde_emulator import Emulator

APP_TOKEN = "test-app-token"


class WondeClient:
    """A thin requests wrapper for Wonde paths (``/v1.0`` relative)."""

    def __init__(self, emu: Emulator, token: str = APP_TOKEN) -> None:
        self.emu = emu
        self.http = requests.Session()
        self.http.trust_env = False  # never route loopback calls through a proxy
        self.http.headers["Authorization"] = f"Bearer {token}"

    def url(self, path: str, host: str | None = None) -> str:
        """Absolute URL of a Wonde path, optionally on another host name."""
        base = f"http://{host}:{self.emu.port}/v1.0" if host else self.emu.api_url
        return base + path

    def get(self, path: str, host: str | None = None, **kwargs) -> requests.Response:
        """GET a Wonde path."""
        return self.http.get(self.url(path, host), timeout=10, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        """POST to a Wonde path."""
        return self.http.post(self.url(path), timeout=10, **kwargs)

    def delete(self, path: str, **kwargs) -> requests.Response:
        """DELETE a Wonde path."""
        return self.http.delete(self.url(path), timeout=10, **kwargs)

    def pages(self, path: str, host: str | None = None, **params) -> list[dict]:
        """Every page of a collection, following ``meta.pagination.next`` verbatim."""
        answer = self.get(path, host=host, params=params)
        answer.raise_for_status()
        pages = [answer.json()]
        while pages[-1]["meta"]["pagination"]["next"]:
            if len(pages) > 10_000:
                raise AssertionError("pagination does not terminate")
            answer = self.http.get(pages[-1]["meta"]["pagination"]["next"], timeout=10)
            answer.raise_for_status()
            pages.append(answer.json())
        return pages

    def all(self, path: str, host: str | None = None, **params) -> list[dict]:
        """The union of the ``data`` of every page."""
        return [item for page in self.pages(path, host=host, **params) for item in page["data"]]


@pytest.fixture
def emu():
    """A fresh small emulator for tests that change state."""
    with Emulator(
        schools=40,
        staff_per_school=20,
        students_per_school=10,
        seed=7,
        token=APP_TOKEN,
        max_per_page=200,
        approved=3,
    ) as emulator:
        yield emulator


@pytest.fixture
def client(emu) -> WondeClient:
    """A client of the fresh emulator using the application token."""
    return WondeClient(emu)


@pytest.fixture(scope="module")
def shared_emu():
    """A larger emulator shared by read-only tests of one module."""
    with Emulator(
        schools=237,
        staff_per_school=20,
        students_per_school=0,
        seed=3,
        token=APP_TOKEN,
        max_per_page=200,
        approved=5,
    ) as emulator:
        yield emulator


@pytest.fixture
def shared(shared_emu) -> WondeClient:
    """A client of the shared read-only emulator."""
    return WondeClient(shared_emu)


class _Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802
        """Record the delivery and answer with the configured status."""
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received.append({"path": self.path, "body": json.loads(body or b"null")})
        self.send_response(self.server.answer_status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        """Keep test output quiet."""
        pass


@pytest.fixture
def webhook_receiver():
    """A tiny local HTTP server that records every POST it gets."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.daemon_threads = True
    server.received = []
    server.answer_status = 200
    server.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/wonde"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
