"""The processes of ``scripts/cluster.py``: PostgreSQL, Redis, the emulator, Airflow.

:class:`Processes` starts each program in its own process group with its output in a log
file under ``<workdir>/logs``, and :meth:`Processes.stop_all` ends every group it started
(SIGTERM, then SIGKILL after a grace period) and the PostgreSQL server (``pg_ctl stop``:
it runs detached) with its data, so nothing is left behind, whatever happened before.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import requests

from tests.support import postgres_server


class ClusterError(RuntimeError):
    """Something did not start, died, or did not finish in time; the message says what."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Processes:
    """Every process the cluster started, by name, and how to stop them all."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.logs = workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.running: dict[str, subprocess.Popen] = {}
        self.postgres_dir: Path | None = None

    def spawn(self, name: str, args: list[str], env: dict[str, str] | None = None):
        """Start ``args`` as ``name`` in its own process group (Ctrl-C reaches only us)."""
        with (self.logs / f"{name}.log").open("ab") as out:
            self.running[name] = subprocess.Popen(
                args,
                env=env,
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self.running[name]

    def check_alive(self) -> None:
        """Raise :class:`ClusterError`, with the end of its log, if a process has exited."""
        for name, proc in self.running.items():
            if proc.poll() is not None:
                raise ClusterError(
                    f"{name} exited with code {proc.returncode}; end of its log:\n"
                    + self.log_tail(name)
                )

    def log_tail(self, name: str, lines: int = 25) -> str:
        """The last ``lines`` lines of a process's log."""
        path = self.logs / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def pids(self) -> dict[str, int]:
        """Process (group) ids by name, the PostgreSQL server's included."""
        found = {name: proc.pid for name, proc in self.running.items()}
        pid_file = self.postgres_dir / "data" / "postmaster.pid" if self.postgres_dir else None
        if pid_file and pid_file.exists():
            found["postgres"] = int(pid_file.read_text().split()[0])
        return found

    # -- the programs ------------------------------------------------------------------

    def postgres(self) -> str:
        """A PostgreSQL server on loopback, in a folder of its own; its base URL.

        Not in the workdir: as root the server runs as the ``postgres`` user, which may not
        be allowed into a private temporary folder.
        """
        self.postgres_dir = Path(tempfile.mkdtemp(prefix="calm-cluster-pg-"))
        return postgres_server.start(self.postgres_dir)

    def redis(self) -> str:
        """Redis on 127.0.0.1 (no persistence), waited for; its URL."""
        if not shutil.which("redis-server"):
            raise ClusterError("redis-server is not installed: apt-get install -y redis-server")
        port = free_port()
        self.spawn(
            "redis",
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ],
        )
        deadline = time.monotonic() + 20
        while True:
            self.check_alive()
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return f"redis://127.0.0.1:{port}/0"
            if time.monotonic() > deadline:
                raise ClusterError("Redis did not listen in time")
            time.sleep(0.1)

    def emulator(self, **options: object) -> str:
        """The Wonde emulator (``python -m wonde_emulator``) with ``options``; its URL."""
        args = [sys.executable, "-m", "wonde_emulator", "--port", "0"]
        for name, value in options.items():
            args += [f"--{name.replace('_', '-')}", str(value)]
        self.spawn("emulator", args)
        deadline = time.monotonic() + 60
        while True:
            self.check_alive()
            found = re.search(r"http://\S+", self.log_tail("emulator"))
            if found:
                return found.group(0)
            if time.monotonic() > deadline:
                raise ClusterError("The Wonde emulator did not start in time")
            time.sleep(0.1)

    def wait_for_http(self, url: str, timeout: float = 180) -> None:
        """Wait until ``url`` answers 2xx, while every process is alive."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            try:
                if requests.get(url, timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise ClusterError(f"{url} did not answer in time")
            time.sleep(0.3)

    # -- stopping ----------------------------------------------------------------------

    def stop_all(self, grace: float = 20) -> None:
        """SIGTERM every process group, wait, SIGKILL what is left, stop PostgreSQL."""
        for proc in self.running.values():
            _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in self.running.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            # Task processes and Celery's pool children share the group: none may survive.
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
        self.running.clear()
        if self.postgres_dir:
            server = self.pids().get("postgres")
            postgres_server.stop(self.postgres_dir)
            if server:
                _wait_gone(server)
            shutil.rmtree(self.postgres_dir, ignore_errors=True)
            self.postgres_dir = None


def _wait_gone(pid: int, timeout: float = 15) -> None:
    """Wait until ``pid`` has exited (pg_ctl returns once the server removed its pid file)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.1)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
