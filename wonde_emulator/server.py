"""The HTTP server: request parsing, dispatch to the Wonde or control API, fault injection.

Built on ``http.server`` so every byte on the wire is under our control: HTTP/1.1 with
keep-alive, a Content-Length on every answer, and faults that lie about that length or drop
the connection without a word.
"""

from __future__ import annotations

import math
import random
import re
import socket
import struct
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from .control import ControlApi
from .faults import Fault, FaultBook
from .messages import HttpError, Request, Response
from .page_cache import PageCache
from .pagination import lenient_paging, pagination_meta
from .wonde_api import WondeApi
from .world import World

CONTROL_PREFIX = "/_emulator/"
_PERSON_PATH = re.compile(r"^/v1\.0/schools/[^/]+/(employees|students)/[^/]+/?$")

_REASONS = {
    429: ("too_many_requests", "Too many requests, slow down."),
    500: ("server_error", "Internal server error."),
    503: ("service_unavailable", "Service temporarily unavailable."),
}
# A gateway error comes from the load balancer, not the application, so it is HTML.
_BAD_GATEWAY = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
)


class EmulatorServer(ThreadingHTTPServer):
    """A threaded HTTP server holding the APIs it serves."""

    daemon_threads = True
    allow_reuse_address = True
    # Clients open many keep-alive connections in bursts (e.g. parallel tests).
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        world: World,
        faults: FaultBook,
        max_per_page: int,
        verbose: bool = False,
        *,
        latency: float = 0.0,
        jitter: float = 0.0,
    ) -> None:
        self.world = world
        self.faults = faults
        self.max_per_page = max_per_page
        self.verbose = verbose
        #: Seconds each Wonde API answer waits (plus up to ``jitter``), as over the internet.
        self.latency = latency
        self.jitter = jitter
        self.pages = PageCache()
        self.wonde = WondeApi(world, max_per_page)
        self.control = ControlApi(world, faults)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, RequestHandler)

    def process_request(self, request, client_address) -> None:
        """Track the connection so ``close_connections`` can end it."""
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        """Forget the connection once its handler is done."""
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End every open keep-alive connection, so a stopped emulator serves nothing more."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address) -> None:
        """Stay quiet about clients that went away; report anything else."""
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class RequestHandler(BaseHTTPRequestHandler):
    """Parses one request, applies faults, dispatches, and writes the answer."""

    server: EmulatorServer
    protocol_version = "HTTP/1.1"
    server_version = "WondeEmulator/1.0"
    sys_version = ""
    # Idle keep-alive connections are closed after this many seconds.
    timeout = 120

    def do_GET(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        """Serve GET."""
        self._serve()

    def do_POST(self) -> None:  # noqa: N802
        """Serve POST."""
        self._serve()

    def do_PATCH(self) -> None:  # noqa: N802
        """Serve PATCH."""
        self._serve()

    def do_PUT(self) -> None:  # noqa: N802
        """Serve PUT (no route uses it; answered 405/404)."""
        self._serve()

    def do_DELETE(self) -> None:  # noqa: N802
        """Serve DELETE."""
        self._serve()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        """Log to stderr only in verbose mode."""
        if self.server.verbose:
            super().log_message(format, *args)

    def _serve(self) -> None:
        try:
            request = self._read_request()
        except ValueError:
            self.close_connection = True  # the body length is unknown, so is the next request
            self._send(HttpError(400, "bad_request", "Invalid Content-Length.").response())
            return
        server = self.server
        if request.path.startswith(CONTROL_PREFIX):
            response = self._answer(server.control.dispatch, request)
            server.pages.clear()  # the world may have changed
            self._send(response)
            return
        server.world.count_request(request.path)
        if server.latency or server.jitter:
            time.sleep(server.latency + random.uniform(0, server.jitter))
        fault = server.faults.take(request.path)
        if fault is None or fault.kind in ("slow", "truncate"):
            if fault is not None and fault.kind == "slow":
                time.sleep(fault.delay)
            truncate = fault is not None and fault.kind == "truncate"
            response = self._wonde_answer(request)
            if response.status < 400 and not truncate:
                # Before the answer is written, so the client's next request sees the change.
                if server.control.mis_changes.answered(request.path):
                    server.pages.clear()
            self._send(response, truncate=truncate)
        elif fault.kind == "status":
            self._send(_status_response(fault))
        elif fault.kind == "empty":
            self._send(self._empty_page(request))
        else:
            self._reset()

    def _wonde_answer(self, request: Request) -> Response:
        """The Wonde API's answer, from the page cache when a GET was answered before."""
        server = self.server
        if request.method != "GET" or server.control.mis_changes.pending():
            response = self._answer(server.wonde.dispatch, request)
            if request.method != "GET":
                server.pages.clear()
            return response
        key = server.pages.key(request)
        cached = server.pages.get(key)
        if cached is not None:
            return cached
        generation = server.pages.generation()
        response = self._answer(server.wonde.dispatch, request)
        if response.status == 200:
            server.pages.put(key, response, generation)
        return response

    def _read_request(self) -> Request:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        return Request(
            method=self.command,
            path=url.path,
            query=parse_qsl(url.query, keep_blank_values=True),
            headers=self.headers,
            body=body,
            host=(self.headers.get("Host") or "").strip().lower(),
        )

    def _answer(self, dispatch, request: Request) -> Response:
        """Run a dispatcher, turning errors into JSON error responses."""
        try:
            return dispatch(request)
        except HttpError as exc:
            return exc.response()
        except Exception as exc:  # noqa: BLE001 - a bug must answer 500, not kill the thread
            traceback.print_exc(file=sys.stderr)
            return Response(500, {"error": "server_error", "message": repr(exc)})

    def _empty_page(self, request: Request) -> Response:
        if _PERSON_PATH.match(request.path):
            # A school whose lists are empty has nobody to look up either.
            return HttpError(404, "not_found", "No such person at this school.").response()
        page, per_page = lenient_paging(request, self.server.max_per_page)
        link_host = self.server.world.link_host(request.host)
        meta = pagination_meta(request, page, per_page, False, link_host)
        return Response(200, {"data": [], "meta": {"pagination": meta, "includes": []}})

    def _send(self, response: Response, truncate: bool = False) -> None:
        """Write status line, headers and body in one send, so Nagle never delays a reply."""
        payload = response.payload()
        declared = len(payload)
        headers = dict(response.headers)
        if truncate:
            # Promise more than we send, then hang up mid-body.
            declared = len(payload) + max(64, len(payload))
            payload = payload[: len(payload) // 2]
            self.close_connection = True
        headers["Content-Type"] = response.content_type
        headers["Content-Length"] = str(declared)
        if self.close_connection:
            headers["Connection"] = "close"
        reason = self.responses.get(response.status, ("",))[0]
        head = [
            f"{self.protocol_version} {response.status} {reason}",
            f"Server: {self.server_version}",
            f"Date: {self.date_time_string()}",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        self.log_request(response.status)
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload)
        self.wfile.flush()

    def _reset(self) -> None:
        """Drop the connection without answering; linger 0 makes the close abortive (RST)."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass


def _status_response(fault: Fault) -> Response:
    status = fault.status or 500
    headers = {}
    if fault.retry_after is not None and status in (429, 503):
        # The header only allows whole seconds.
        headers["Retry-After"] = str(math.ceil(fault.retry_after))
    if status == 502:
        return Response(status, _BAD_GATEWAY, headers, content_type="text/html")
    error, message = _REASONS.get(status, ("error", "Request failed."))
    return Response(status, {"error": error, "message": message}, headers)
