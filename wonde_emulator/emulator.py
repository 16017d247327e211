"""``Emulator``: builds the synthetic world and serves it on a loopback port."""

from __future__ import annotations

import threading

from .directory import Directory
from .faults import FaultBook
from .server import EmulatorServer
from .world import World


class Emulator:
    """A local fake of the Wonde REST API plus its control API.

    ``approved=N`` makes the first N directory schools approved and audited, each with a
    deterministic per-school token. ``domain`` is the ``region.domain`` of GBR schools
    (default ``<host>:<port>``, with 127.0.0.1 for a wildcard host) and ``aus_domain`` that
    of AUS schools (default ``localhost:<port>``); both must reach this server.
    ``latency`` seconds (plus up to ``jitter`` more, at random) delay every Wonde API answer,
    as the real Wonde is far away.
    """

    def __init__(
        self,
        schools: int = 100,
        staff_per_school: int = 20,
        students_per_school: int = 0,
        seed: int = 1,
        token: str = "app-token",
        max_per_page: int = 200,
        approved: int = 3,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        domain: str | None = None,
        aus_domain: str | None = None,
        verbose: bool = False,
        latency: float = 0.0,
        jitter: float = 0.0,
    ) -> None:
        if max_per_page < 1:
            raise ValueError("max_per_page must be at least 1")
        self.host = host
        self.max_per_page = max_per_page
        self.verbose = verbose
        self.latency = latency
        self.jitter = jitter
        self._requested_port = port
        self._domain = domain
        self._aus_domain = aus_domain
        self.directory = Directory(schools, seed)
        self.faults = FaultBook()
        self.world = World(
            self.directory,
            seed=seed,
            staff_per_school=staff_per_school,
            students_per_school=students_per_school,
            token=token,
            approved=approved,
        )
        self._server: EmulatorServer | None = None
        self._port: int | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Emulator:
        """Bind the port and serve in a daemon thread; returns self."""
        if self._server is not None:
            raise RuntimeError("emulator already started")
        server = EmulatorServer(
            (self.host, self._requested_port),
            self.world,
            self.faults,
            self.max_per_page,
            verbose=self.verbose,
            latency=self.latency,
            jitter=self.jitter,
        )
        self._server = server
        self._port = server.server_address[1]
        url_host = self._url_host()
        self.world.gbr_domain = self._domain or f"{url_host}:{self.port}"
        default_aus = "127.0.0.1" if url_host == "localhost" else "localhost"
        self.world.aus_domain = self._aus_domain or f"{default_aus}:{self.port}"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"wonde-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (after ``start``; kept after ``stop``)."""
        if self._port is None:
            raise RuntimeError("emulator not started")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://host:port`` without ``/v1.0``."""
        return f"http://{self._url_host()}:{self.port}"

    @property
    def api_url(self) -> str:
        """``http://host:port/v1.0``."""
        return f"{self.base_url}/v1.0"

    @property
    def control_url(self) -> str:
        """``http://host:port/_emulator``."""
        return f"{self.base_url}/_emulator"

    def school_ids(self) -> list[str]:
        """All directory school ids, in directory order."""
        return self.directory.ids()

    def _url_host(self) -> str:
        # A wildcard bind is reachable through loopback.
        return "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
