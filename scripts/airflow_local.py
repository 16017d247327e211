"""A local Airflow on the demo's data (``make airflow``), stopped with Ctrl-C.

Run after ``make demo``. Starts the Wonde emulator as the demo did (same seed, size and
port, so the catalog's ``region.domain`` values reach it, with the sites' access restored
from ``calm.db``), then Airflow's api-server, scheduler, dag-processor and triggerer on
127.0.0.1 with the demo's Airflow home (``.demo/airflow``, whose SQLite metadata holds the
demo's DAG runs) and ``calm_db`` = ``.demo/calm.db``. Sign-in: Airflow's simple auth manager,
user ``admin`` with the password kept in ``.demo/airflow/passwords.json``.

Options: ``--port`` (default 8080, or ``$AIRFLOW_PORT``), ``--metadata-url`` (a PostgreSQL
SQLAlchemy URL instead of the demo's SQLite file; the demo's runs are not in it). The demo
folder is ``$DEMO_DIR`` (default ``.demo``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from loopback_airflow import loopback_env

REPO = Path(__file__).resolve().parents[1]
DEMO = Path(os.environ.get("DEMO_DIR", REPO / ".demo")).resolve()
CALM_DB = DEMO / "calm.db"
AIRFLOW_HOME = DEMO / "airflow"
EMULATOR_OPTIONS = DEMO / "emulator.json"
PASSWORDS = AIRFLOW_HOME / "passwords.json"
LOGS = AIRFLOW_HOME / "service-logs"
VENV_BIN = Path(sys.executable).parent
USER = "admin"
SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer")
#: Imported once by the executor's fork server, so each task process starts quickly.
PRELOAD = (
    "airflow.sdk.execution_time.task_runner",
    "airflow.providers.http.hooks.http",
    "wonde_sync.tasks.import_steps",
    "wonde_sync.tasks.catalog_steps",
)


class Stop(Exception):
    """SIGINT or SIGTERM arrived."""


def port_free(port: int) -> bool:
    """Whether nothing listens on 127.0.0.1:``port``."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def spawn(
    args: list[str], log: Path, env: dict[str, str] | None = None, mode: str = "ab"
) -> subprocess.Popen:
    """Start a process in its own process group (Ctrl-C reaches only this script)."""
    with log.open(mode) as out:
        return subprocess.Popen(
            args,
            env=env,
            cwd=AIRFLOW_HOME,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def start_emulator() -> tuple[subprocess.Popen, str, dict]:
    """The emulator with the demo's options, on the demo's port when it is free."""
    options = json.loads(EMULATOR_OPTIONS.read_text())
    if not port_free(options["port"]):
        print(
            f"warning: port {options['port']} (the demo's emulator) is taken; the catalog's "
            "school domains name it, so run wonde_schools_full_sync before any import.",
            file=sys.stderr,
        )
        options = {**options, "port": 0}
    args = [sys.executable, "-m", "wonde_emulator", "--approved", "0"]
    for name in ("port", "schools", "staff_per_school", "students_per_school", "seed", "token"):
        args += [f"--{name.replace('_', '-')}", str(options[name])]
    log = LOGS / "emulator.log"
    proc = spawn(args, log, mode="wb")  # a new log: its first URL is this emulator's
    deadline = time.monotonic() + 60
    while not (found := re.search(r"http://\S+", log.read_text(errors="replace"))):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_all({"emulator": proc})
            sys.exit(f"The Wonde emulator did not start; see {log}")
        time.sleep(0.2)
    return proc, found.group(0), options


def restore_access(wonde_url: str, token: str) -> None:
    """Give the new emulator the access states ``calm.db`` holds (it starts with none).

    Approving a school again yields the next of its deterministic tokens, so a school is
    approved until the emulator hands out the token the site keeps.
    """
    from wonde_sync.core.database import engine_from_url, table
    from wonde_sync.school_access import token_vault

    engine = engine_from_url(f"sqlite:///{CALM_DB}", create_missing=False)
    accesses = table("wonde_connections")
    with engine.connect() as conn:
        rows = conn.execute(accesses.select()).mappings().all()
    engine.dispose()
    control = f"{wonde_url}/_emulator/schools"
    for row in rows:
        school, status = row["school_id"], row["status"]
        requests.post(
            f"{wonde_url}/v1.0/schools/{school}/request-access",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ).raise_for_status()
        if status in ("declined", "revoked"):
            requests.post(f"{control}/{school}/{status[:-1]}", timeout=10).raise_for_status()
        elif status == "approved":
            held = row["school_token_ciphertext"]
            wanted = token_vault.decrypt(held) if held else None
            for _ in range(50):
                answer = requests.post(f"{control}/{school}/approve", timeout=10)
                answer.raise_for_status()
                if wanted in (None, answer.json()["school_token"]):
                    break
            else:
                print(f"warning: {row['site_id']}'s school token is unknown to the emulator")


def airflow_env(port: int, wonde_url: str, token: str, metadata_url: str) -> dict[str, str]:
    """Every setting the four services share."""
    env = loopback_env(
        home=AIRFLOW_HOME,
        port=port,
        user=USER,
        passwords=PASSWORDS,
        wonde_url=wonde_url,
        token=token,
    )
    env.update(
        CALM_ENVIRONMENT=env.get("CALM_ENVIRONMENT", "demo"),  # the demo's token key
        AIRFLOW_CONN_CALM_DB=json.dumps({"conn_type": "sqlite", "host": str(CALM_DB)}),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=metadata_url,
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__MP_START_METHOD="forkserver",
        AIRFLOW__CORE__MP_FORKSERVER_PRELOAD=",".join(PRELOAD),
    )
    return env


def password() -> str:
    """The admin's password: kept in the passwords file, made up on the first start."""
    known = json.loads(PASSWORDS.read_text()) if PASSWORDS.exists() else {}
    if USER not in known:
        known[USER] = secrets.token_urlsafe(12)
        PASSWORDS.write_text(json.dumps(known))
        PASSWORDS.chmod(0o600)
    return known[USER]


def airflow_cli(env: dict[str, str], *args: str) -> None:
    """Run ``airflow *args``; exit with its output when it fails."""
    done = subprocess.run(
        [str(VENV_BIN / "airflow"), *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        sys.exit(f"airflow {' '.join(args)} failed:\n{(done.stdout + done.stderr)[-3000:]}")


def start_service(name: str, env: dict[str, str]) -> subprocess.Popen:
    """One Airflow service, bound to loopback; task logs are read from files, so the
    scheduler and triggerer serve none (their log server would listen on every interface)."""
    args = [str(VENV_BIN / "airflow"), name]
    if name == "api-server":
        args += ["--host", "127.0.0.1", "--port", env["AIRFLOW__API__PORT"], "--workers", "1"]
    if name in ("scheduler", "triggerer"):
        args.append("--skip-serve-logs")
    return spawn(args, LOGS / f"{name}.log", env)


def stop_all(processes: dict[str, subprocess.Popen], grace: float = 20) -> None:
    """SIGTERM every process group, wait, then SIGKILL what is left of each group."""
    for proc in processes.values():
        _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in processes.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        # Task processes and executor workers share the group; none may survive it.
        _signal_group(proc, signal.SIGKILL)
        proc.wait()
        _wait_until_group_gone(proc.pid)


def _wait_until_group_gone(pgid: int, timeout: float = 10) -> None:
    """Wait (bounded) until no process of group ``pgid`` is left, reaped ones included: a
    killed member is gone only once the process that inherits it has reaped it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.05)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _raise_stop(signum, frame) -> None:
    raise Stop


def main() -> None:
    """Start everything, print how to sign in, and stop everything on Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("AIRFLOW_PORT", 8080)))
    parser.add_argument(
        "--metadata-url", default=f"sqlite:///{AIRFLOW_HOME / 'airflow.db'}", metavar="URL"
    )
    args = parser.parse_args()
    if not CALM_DB.exists() or not EMULATOR_OPTIONS.exists():
        sys.exit(f"No demo in {DEMO}: run `make demo` first.")
    if not port_free(args.port):
        sys.exit(f"Port {args.port} is in use: pass --port or set AIRFLOW_PORT.")
    LOGS.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("CALM_ENVIRONMENT", "demo")
    signal.signal(signal.SIGINT, _raise_stop)
    signal.signal(signal.SIGTERM, _raise_stop)
    processes: dict[str, subprocess.Popen] = {}
    try:
        processes["emulator"], wonde_url, options = start_emulator()
        try:
            restore_access(wonde_url, options["token"])
        except requests.RequestException as exc:
            raise SystemExit(
                f"Could not restore the sites' access on the emulator: {exc}"
            ) from None
        env = airflow_env(args.port, wonde_url, options["token"], args.metadata_url)
        sign_in = password()  # before the api-server starts, or it makes up its own
        airflow_cli(env, "db", "migrate")
        airflow_cli(env, "pools", "set", "wonde_api", "2", "Calls to Wonde")
        for name in SERVICES:
            processes[name] = start_service(name, env)
        api_url = env["AIRFLOW__API__BASE_URL"]
        wait_for_api(api_url, processes)
        # Approvals made with the emulator's control API now reach the webhook receiver.
        requests.post(
            f"{wonde_url}/_emulator/config",
            json={
                "webhook_url": f"{api_url}/wonde/webhooks/wonde",
                "webhook_secret": env["WONDE_WEBHOOK_SECRET"],
            },
            timeout=10,
        ).raise_for_status()
        print_banner(api_url, wonde_url, sign_in, processes)
        while True:
            check_alive(processes)
            time.sleep(1)
    except Stop:
        print("\nStopping...", flush=True)
    finally:
        # A second Ctrl-C must not cut the clean-up short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop_all(processes)
    print("Stopped the emulator and Airflow.")


def wait_for_api(api_url: str, processes: dict[str, subprocess.Popen]) -> None:
    """Wait (at most 3 minutes) until the api-server answers its health check."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        check_alive(processes)
        try:
            if requests.get(f"{api_url}/api/v2/monitor/health", timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise SystemExit(f"The api-server did not answer in time; see {LOGS / 'api-server.log'}")


def check_alive(processes: dict[str, subprocess.Popen]) -> None:
    """Exit (stopping the others) when a service has died."""
    for name, proc in processes.items():
        if proc.poll() is not None:
            log = LOGS / f"{name}.log"
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
            raise SystemExit(f"{name} exited with code {proc.returncode}; end of {log}:\n{tail}")


def print_banner(
    api_url: str, wonde_url: str, sign_in: str, processes: dict[str, subprocess.Popen]
) -> None:
    """Where to go, how to sign in, what runs."""
    print(f"\nAirflow:      {api_url}/  (the Wonde page: {api_url}/wonde/ui/)")
    print(f"Sign in:      {USER} / {sign_in}  (simple auth manager; {PASSWORDS})")
    print(f"Emulator:     {wonde_url}  (control API: {wonde_url}/_emulator/)")
    print(f"CalmCompliance database: {CALM_DB}")
    print(f"Logs:         {LOGS}/")
    print("Processes:    " + ", ".join(f"{n} (pid {p.pid})" for n, p in processes.items()))
    print("Press Ctrl-C to stop.", flush=True)


if __name__ == "__main__":
    main()
