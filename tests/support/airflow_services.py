"""A real Airflow for tests: api-server, scheduler and dag-processor as loopback subprocesses.

``dag.test()`` runs a DAG in the test process; backfills, the scheduler's decisions and the
UI need the real services. :class:`AirflowServices` prepares an isolated ``AIRFLOW_HOME`` on
a metadata database of its own (PostgreSQL: the services write to it at the same time,
which SQLite does not stand under load), starts the services in their own process groups
with the project's ``dags/`` and ``plugins/``, waits until the API answers, and stops
everything again. Task processes reach the Execution API of the api-server on
``api_url + "/execution/"``; the REST API and the UI are at ``api_url`` (every request is an
admin: ``simple_auth_manager_all_admins``).

The environment of the test process is passed on (so ``AIRFLOW_CONN_WONDE_DEFAULT``,
``AIRFLOW_CONN_CALM_DB`` and ``CALM_ENVIRONMENT`` set by fixtures reach the tasks), except
its own ``AIRFLOW_HOME`` and ``AIRFLOW__…`` settings, which are replaced by the services'.

    with AirflowServices(tmp_path / "airflow", metadata_url=url, unpaused=["my_dag"]) as af:
        af.cli("backfill", "create", "--dag-id", "my_dag", "--from-date", ..., "--to-date", ...)
        runs = af.wait_for_runs("my_dag", run_type="backfill", count=2)

In tests, the fixture ``start_airflow`` (tests/conftest.py) does the same on a copy of a
metadata database migrated once per run.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
FINISHED = frozenset({"success", "failed"})
#: Imported once by the executor's fork server: task processes, forked from its workers,
#: start without importing Airflow's task runner, DAG parsing, the HTTP provider and the
#: project's task modules again.
PRELOAD = (
    "airflow.sdk.execution_time.task_runner",
    "airflow.dag_processing.dagbag",
    "airflow.providers.http.hooks.http",
    "wonde_sync.tasks.access_steps",
    "wonde_sync.tasks.catalog_steps",
    "wonde_sync.tasks.database_steps",
    "wonde_sync.tasks.import_steps",
)


class AirflowServiceError(RuntimeError):
    """A service did not start, died, or something did not finish in time."""


#: Seconds the services get to exit after TERM before they are killed.
STOP_GRACE = 3.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AirflowServices:
    """An isolated Airflow (metadata DB, api-server, scheduler, dag-processor) on loopback.

    ``metadata_url`` is a SQLAlchemy URL for Airflow's own database, which ``start`` migrates
    unless ``migrated``; ``env`` adds or overrides environment variables of every Airflow process;
    ``schedule`` lets the scheduler create scheduled runs (off by default: tests decide
    which runs exist, by backfills or triggers); ``unpaused`` DAGs are waited for (parsed by
    the dag-processor) and unpaused on start, since the scheduler runs nothing of a paused
    DAG, backfills included.
    """

    SERVICES = ("api-server", "scheduler", "dag-processor")

    def __init__(
        self,
        home: Path,
        *,
        metadata_url: str,
        migrated: bool = False,
        env: dict[str, str] | None = None,
        parallelism: int = 2,
        schedule: bool = False,
        unpaused: Iterable[str] = (),
        dags_folder: Path = REPO / "dags",
        plugins_folder: Path = REPO / "plugins",
        services: Iterable[str] = SERVICES,
    ) -> None:
        self.home = Path(home)
        self.services = tuple(services)
        self.home.mkdir(parents=True, exist_ok=True)
        self.log_dir = self.home / "service-logs"
        self.log_dir.mkdir(exist_ok=True)
        self.port = free_port()
        self.api_url = f"http://127.0.0.1:{self.port}"
        self.migrated = migrated
        self.unpaused = tuple(unpaused)
        self.processes: dict[str, subprocess.Popen] = {}
        self.env = self._environment(
            metadata_url,
            parallelism,
            schedule,
            dags_folder,
            plugins_folder,
        )
        self.env.update(env or {})

    def _environment(self, metadata_url, parallelism, schedule, dags_folder, plugins_folder):
        env = {
            k: v
            for k, v in os.environ.items()
            if k != "AIRFLOW_HOME" and not k.startswith("AIRFLOW__")
        }
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__MP_START_METHOD": "forkserver",
                "AIRFLOW__CORE__MP_FORKSERVER_PRELOAD": ",".join(PRELOAD),
                "AIRFLOW__CORE__PARALLELISM": str(parallelism),
                "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(plugins_folder),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__API__BASE_URL": self.api_url,
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": str(schedule),
                # Short turns between a task's end and the next one's start; the DAG files
                # do not change during a test, so they are parsed once.
                "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.2",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs"),
            }
        )
        return env

    # -- life cycle ---------------------------------------------------------------------

    def start(self, timeout: float = 120) -> AirflowServices:
        """Migrate the metadata DB (unless migrated), start the services, wait for the API."""
        deadline = time.monotonic() + timeout
        try:
            if not self.migrated:
                self.cli("db", "migrate", timeout=_left(deadline))
            for service in self.services:
                self._spawn(service)
            self._wait_for_api(deadline)
            if self.unpaused:
                self.wait_for_dags(self.unpaused, timeout=_left(deadline))
                self.unpause(*self.unpaused)
        except BaseException:
            self.stop(show_logs=True)
            raise
        return self

    def _spawn(self, service: str) -> None:
        out = open(self.log_dir / f"{service}.log", "ab")  # noqa: SIM115 - closed with the process
        args = [sys.executable, "-m", "airflow", service]
        if service == "api-server":
            args += ["--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"]
        if service == "scheduler":
            # Task logs are files in this home; no log server on a public port is needed.
            args.append("--skip-serve-logs")
        self.processes[service] = subprocess.Popen(
            args,
            env=self.env,
            cwd=self.home,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()

    def _wait_for_api(self, deadline: float) -> None:
        while True:
            self.check_alive()
            try:
                if requests.get(f"{self.api_url}/api/v2/monitor/health", timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise AirflowServiceError(f"The API at {self.api_url} did not answer in time")
            time.sleep(0.2)

    def check_alive(self) -> None:
        """Raise if a service has exited."""
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                raise AirflowServiceError(f"airflow {name} exited with code {proc.returncode}")

    def stop(self, show_logs: bool = False) -> None:
        """Stop every service's process group (TERM, then KILL); optionally print log tails."""
        if show_logs:
            print(self.log_tail(), file=sys.stderr)
        for proc in self.processes.values():
            _signal_group(proc, signal.SIGTERM)
        # A test's services hold nothing worth a graceful shutdown (their metadata database
        # is dropped next): a few seconds, then KILL.
        deadline = time.monotonic() + STOP_GRACE
        for proc in self.processes.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            # Task runners and executor workers share the group: make sure none survives.
            _signal_group(proc, signal.SIGKILL)
            proc.wait(timeout=10)
        self.processes.clear()

    def __enter__(self) -> AirflowServices:
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        self.stop(show_logs=exc_type is not None)

    # -- talking to Airflow -------------------------------------------------------------

    def cli(
        self, *args: str, timeout: float = 90, check: bool = True
    ) -> subprocess.CompletedProcess:
        """Run ``airflow *args`` against this home; raise with its output when it fails."""
        result = subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=self.env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AirflowServiceError(
                f"airflow {' '.join(args)} exited with {result.returncode}\n"
                f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}"
            )
        return result

    def api(self, method: str, path: str, **kwargs) -> dict:
        """Call the REST API (``path`` under ``/api/v2/``) and return the JSON answer."""
        kwargs.setdefault("timeout", 15)
        response = requests.request(method, f"{self.api_url}/api/v2/{path.lstrip('/')}", **kwargs)
        if not response.ok:
            raise AirflowServiceError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else {}

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        """Trigger a run of ``dag_id`` now (through the REST API); return its run id."""
        body = {"logical_date": None, "conf": conf or {}}
        return self.api("POST", f"dags/{dag_id}/dagRuns", json=body)["dag_run_id"]

    def unpause(self, *dag_ids: str) -> None:
        """Unpause DAGs: the scheduler runs no run, backfill or trigger of a paused DAG."""
        for dag_id in dag_ids:
            self.api("PATCH", f"dags/{dag_id}", json={"is_paused": False})

    def wait_for_dags(self, dag_ids: Iterable[str], timeout: float = 90) -> None:
        """Wait until the dag-processor has parsed and stored the given DAGs."""
        wanted = set(dag_ids)
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            found = {d["dag_id"] for d in self.api("GET", "dags", params={"limit": 100})["dags"]}
            if wanted <= found:
                return
            if time.monotonic() > deadline:
                raise AirflowServiceError(f"DAGs not parsed in time: {sorted(wanted - found)}")
            time.sleep(0.5)

    def dag_runs(self, dag_id: str) -> list[dict]:
        """The DAG's runs as the REST API gives them (dag_run_id, state, run_type, …)."""
        answer = self.api("GET", f"dags/{dag_id}/dagRuns", params={"limit": 100})
        return answer["dag_runs"]

    def wait_for_runs(
        self,
        dag_id: str,
        *,
        run_ids: Iterable[str] | None = None,
        run_type: str | None = None,
        count: int | None = None,
        finished_after: datetime | None = None,
        timeout: float = 120,
        poll: float = 0.5,
    ) -> list[dict]:
        """Wait (polling, bounded) until the DAG's runs have finished; return them, oldest first.

        The runs are those named by ``run_ids``, else those of ``run_type`` (``manual``,
        ``backfill``, …; all when None), of which ``count`` must exist. Runs that ended
        before ``finished_after`` do not count: a cleared run keeps its run id.
        """
        wanted = set(run_ids or ())
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            runs = [
                r
                for r in self.dag_runs(dag_id)
                if (r["dag_run_id"] in wanted if wanted else run_type in (None, r["run_type"]))
            ]
            done = [r for r in runs if _finished(r, finished_after)]
            expected = len(wanted) if wanted else (count or len(runs) or 1)
            if len(runs) >= expected and len(done) == len(runs):
                return sorted(done, key=lambda r: r["run_after"])
            if time.monotonic() > deadline:
                states = {r["dag_run_id"]: r["state"] for r in runs}
                raise AirflowServiceError(
                    f"Runs of {dag_id} not finished in time (want {expected}): {states}"
                )
            time.sleep(poll)

    def close_finished_backfills(self, dag_id: str) -> None:
        """Mark complete each backfill of ``dag_id`` whose runs have all finished.

        The scheduler does it every 30 s (Airflow 3.3), and until then a new backfill of the
        DAG is refused; cancelling one whose runs are all done only sets ``completed_at``.
        """
        backfills = self.api("GET", "backfills", params={"dag_id": dag_id})["backfills"]
        runs = [r for r in self.dag_runs(dag_id) if r["run_type"] == "backfill"]
        if any(r["state"] in ("queued", "running") for r in runs):
            raise AirflowServiceError(f"{dag_id} still has backfill runs going")
        for backfill in backfills:
            if not backfill["completed_at"]:
                self.api("PUT", f"backfills/{backfill['id']}/cancel")

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        """``task_id`` (``[map_index]`` when mapped) → state, for one DAG run."""
        answer = self.api(
            "GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 100}
        )
        return {
            ti["task_id"] + (f"[{ti['map_index']}]" if ti["map_index"] >= 0 else ""): ti["state"]
            for ti in answer["task_instances"]
        }

    def task_log(
        self, dag_id: str, run_id: str, task_id: str, map_index: int = -1, try_number: int = 0
    ) -> list[str]:
        """The messages a task instance logged (its latest try unless ``try_number``)."""
        base = f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"
        if not try_number:
            path = f"{base}/{map_index}" if map_index >= 0 else base
            try_number = self.api("GET", path)["try_number"]
        answer = self.api(
            "GET",
            f"{base}/logs/{try_number}",
            params={"map_index": map_index, "full_content": True},
        )
        return [entry.get("event", "") for entry in answer["content"] if isinstance(entry, dict)]

    def log_tail(self, lines: int = 40, task_logs: int = 4) -> str:
        """The last lines of each service's log and of the newest task logs."""
        parts = []
        files = sorted(self.log_dir.glob("*.log"))
        task_files = sorted(
            (self.home / "logs").glob("dag_id=*/**/*.log"), key=lambda p: p.stat().st_mtime
        )
        for path in [*files, *task_files[-task_logs:]]:
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"----- {path.relative_to(self.home)} -----\n" + "\n".join(text))
        return "\n".join(parts)


def parse_time(value: str | None) -> datetime | None:
    """An ISO timestamp from the REST API (``…Z`` or ``…+00:00``) as an aware datetime."""
    return datetime.fromisoformat(value) if value else None


def _finished(run: dict, after: datetime | None) -> bool:
    if run["state"] not in FINISHED:
        return False
    return after is None or (run["end_date"] is not None and parse_time(run["end_date"]) > after)


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise AirflowServiceError("Airflow did not start in time")
    return left


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
