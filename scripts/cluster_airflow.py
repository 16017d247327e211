"""Airflow for ``scripts/cluster.py``: the services' settings, and a client of its REST API.

CeleryExecutor with Redis as broker and result store, PostgreSQL for the metadata; every
service on 127.0.0.1. Task logs are files in the shared Airflow home (one machine),
so no log server is started; each worker still gets its own ``worker_log_server_port``, as
it would need on a shared host.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import requests
import sqlalchemy as sa
from cluster_processes import ClusterError, Processes, free_port
from loopback_airflow import loopback_env

SCRIPTS = Path(__file__).resolve().parent
USER = "admin"
#: How the cluster runs ``airflow``: this venv's, whatever is on PATH.
AIRFLOW = (sys.executable, "-m", "airflow")
SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer")
FINISHED = ("success", "failed")


def calm_db_json(url: str) -> str:
    """The Airflow connection ``calm_db`` (postgres) for a SQLAlchemy URL."""
    u = sa.make_url(url)
    return json.dumps(
        {
            "conn_type": "postgres",
            "host": u.host,
            "port": u.port,
            "login": u.username,
            "password": u.password or "",
            "schema": u.database,
        }
    )


def airflow_env(
    home: Path, *, metadata_url: str, broker_url: str, calm_url: str, wonde_url: str, token: str
) -> dict[str, str]:
    """Every setting the services share (connections, executor, loopback addresses)."""
    env = loopback_env(
        home=home,
        port=free_port(),
        user=USER,
        passwords=home / "passwords.json",
        wonde_url=wonde_url,
        token=token,
        drop="AIRFLOW",  # the host's connections and variables too: a cluster of its own
    )
    env.update(
        AIRFLOW_CONN_CALM_DB=calm_db_json(calm_url),
        WONDE_TOKEN_KEY=_fernet_key(),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=metadata_url,
        AIRFLOW__CORE__EXECUTOR="CeleryExecutor",
        AIRFLOW__CELERY__BROKER_URL=broker_url,
        # Results in Redis too: Celery needs no tables of its own in the metadata database.
        AIRFLOW__CELERY__RESULT_BACKEND=broker_url.rsplit("/", 1)[0] + "/1",
        AIRFLOW__CELERY__WORKER_CONCURRENCY="1",
        # Unpaused from their first parse, which is when Airflow registers the Asset's
        # watcher with the triggerer (it skips the watchers of paused DAGs).
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
        # Two shared cores: the api-server may answer a task's call slowly, not never.
        AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT="30",
        # The DAG files do not change while the cluster runs: parse them once.
        AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL="600",
    )
    return env


def worker_env(env: dict[str, str], name: str) -> dict[str, str]:
    """A Celery worker's settings: its own host name for its tasks and log server port."""
    path = os.pathsep.join(p for p in (str(SCRIPTS), env.get("PYTHONPATH")) if p)
    return {
        **env,
        "PYTHONPATH": path,
        "CALM_WORKER_HOSTNAME": name,
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "cluster_worker.worker_hostname",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
    }


def write_password(env: dict[str, str]) -> str:
    """Make up the admin's password before the api-server starts (or it makes up its own)."""
    password = secrets.token_urlsafe(12)
    path = Path(env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
    path.write_text(json.dumps({USER: password}))
    path.chmod(0o600)
    return password


def airflow_cli(env: dict[str, str], *args: str, timeout: float = 300) -> None:
    """Run ``airflow *args``; raise :class:`ClusterError` with its output when it fails."""
    done = subprocess.run(
        [*AIRFLOW, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode:
        raise ClusterError(
            f"airflow {' '.join(args)} failed:\n{(done.stdout + done.stderr)[-3000:]}"
        )


def start_services(processes: Processes, env: dict[str, str], workers: int) -> list[str]:
    """api-server, scheduler, dag-processor, triggerer and ``workers`` Celery workers."""
    for name in SERVICES:
        args = [*AIRFLOW, name]
        if name == "api-server":
            args += ["--host", "127.0.0.1", "--port", env["AIRFLOW__API__PORT"], "--workers", "1"]
        if name in ("scheduler", "triggerer"):
            args.append("--skip-serve-logs")
        processes.spawn(name, args, env)
    names = [f"worker-{n}" for n in range(1, workers + 1)]
    for name in names:
        args = [
            *AIRFLOW,
            "celery",
            "worker",
            "--skip-serve-logs",
            "--celery-hostname",
            f"{name}@127.0.0.1",
            "--concurrency",
            "1",
        ]
        processes.spawn(name, args, worker_env(env, name))
    return names


class AirflowApi:
    """Airflow's REST API (``/api/v2``) as the simple auth manager's admin."""

    def __init__(self, base_url: str, password: str, processes: Processes) -> None:
        self.base_url = base_url
        self.processes = processes
        self.http = requests.Session()
        self.http.trust_env = False  # loopback: never through a proxy
        answer = self.http.post(
            f"{base_url}/auth/token", json={"username": USER, "password": password}, timeout=30
        )
        if not answer.ok:
            raise ClusterError(f"Signing in to Airflow failed: {answer.status_code} {answer.text}")
        self.http.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"

    def call(self, method: str, path: str, **kwargs) -> dict:
        """One REST call; the JSON answer, or :class:`ClusterError`."""
        answer = self.http.request(method, f"{self.base_url}/api/v2/{path}", timeout=30, **kwargs)
        if not answer.ok:
            raise ClusterError(f"{method} /api/v2/{path}: {answer.status_code} {answer.text}")
        return answer.json() if answer.content else {}

    def wait_for_dags(self, dag_ids: list[str], timeout: float = 180) -> None:
        """Wait until the dag-processor has parsed the DAGs (unpaused from the start)."""
        deadline = time.monotonic() + timeout
        while True:
            self.processes.check_alive()
            found = {d["dag_id"] for d in self.call("GET", "dags", params={"limit": 100})["dags"]}
            if set(dag_ids) <= found:
                return
            if time.monotonic() > deadline:
                raise ClusterError(f"DAGs not parsed in time: {sorted(set(dag_ids) - found)}")
            time.sleep(0.5)

    def trigger(self, dag_id: str) -> str:
        """Start a run of ``dag_id`` now; its run id."""
        body = {"logical_date": None, "conf": {}}
        return self.call("POST", f"dags/{dag_id}/dagRuns", json=body)["dag_run_id"]

    def runs(self, dag_id: str) -> list[dict]:
        """The DAG's runs, oldest first."""
        answer = self.call("GET", f"dags/{dag_id}/dagRuns", params={"limit": 100})
        return sorted(answer["dag_runs"], key=lambda r: r["run_after"])

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 300) -> dict:
        """Wait until the run has finished; the run."""
        return self.wait_until_idle(dag_id, timeout, run_ids={run_id})[0]

    def wait_for_first_runs(self, dag_ids: list[str], appear: float = 60) -> None:
        """Wait for the run each newly unpaused DAG gets at once (its latest scheduled
        interval, as ``catchup=False`` does) to appear and finish, so that they do not
        compete with the runs that are measured."""
        deadline = time.monotonic() + appear
        waiting = set(dag_ids)
        while waiting and time.monotonic() < deadline:
            self.processes.check_alive()
            waiting = {d for d in waiting if not self.runs(d)}
            time.sleep(0.5)
        for dag_id in set(dag_ids) - waiting:
            self.wait_until_idle(dag_id)

    def wait_until_idle(
        self, dag_id: str, timeout: float = 300, run_ids: set[str] | None = None
    ) -> list[dict]:
        """Wait until every run of ``dag_id`` (or those of ``run_ids``) has finished; them."""
        deadline = time.monotonic() + timeout
        while True:
            self.processes.check_alive()
            runs = [r for r in self.runs(dag_id) if not run_ids or r["dag_run_id"] in run_ids]
            if all(r["state"] in FINISHED for r in runs) and (runs or not run_ids):
                return runs
            if time.monotonic() > deadline:
                states = {r["dag_run_id"]: r["state"] for r in runs}
                raise ClusterError(f"Runs of {dag_id} not finished in time: {states}")
            time.sleep(1)

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        """The run's task instances (task_id, map_index, state, hostname, …)."""
        path = f"dags/{dag_id}/dagRuns/{run_id}/taskInstances"
        return self.call("GET", path, params={"limit": 100})["task_instances"]


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()
