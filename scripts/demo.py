"""The main job end to end on the embedded default (``make demo``).

Starts the bundled Wonde emulator, prepares a SQLite Airflow home under ``.demo/``, runs
the full schools sync with ``airflow dags test`` into ``.demo/calm.db``, and prints a
summary. Environment knobs: DEMO_SCHOOLS (default 5000), DEMO_STAFF (default 40).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / ".demo"
CALM_DB = DEMO / "calm.db"
AIRFLOW_HOME = DEMO / "airflow"
TOKEN = "demo-app-token"
VENV_BIN = Path(sys.executable).parent


def start_emulator(schools: int, staff: int) -> tuple[subprocess.Popen, str]:
    """Start the emulator on a free port; return the process and its base URL."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wonde_emulator",
            "--port",
            "0",
            "--schools",
            str(schools),
            "--staff-per-school",
            str(staff),
            "--seed",
            "7",
            "--token",
            TOKEN,
            "--approved",
            "3",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    found = re.search(r"http://\S+", line)
    if not found:
        proc.kill()
        sys.exit(f"The Wonde emulator did not start: {line!r}")
    return proc, found.group(0)


def airflow_env(wonde_url: str) -> dict[str, str]:
    """Environment for an isolated Airflow home wired to the emulator and the demo database."""
    env = dict(os.environ)
    env.update(
        AIRFLOW_HOME=str(AIRFLOW_HOME),
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(REPO / "plugins"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__PARALLELISM="4",
        AIRFLOW__LOGGING__LOGGING_LEVEL="WARNING",
        AIRFLOW_CONN_WONDE_DEFAULT=json.dumps(
            {
                "conn_type": "http",
                "host": f"{wonde_url}/v1.0",
                "extra": {"Authorization": f"Bearer {TOKEN}"},
            }
        ),
        AIRFLOW_CONN_CALM_DB=json.dumps({"conn_type": "sqlite", "host": str(CALM_DB)}),
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def run(cmd: list[str], env: dict[str, str], log: Path) -> None:
    """Run a command with its output in a log file; show the log's end if it fails."""
    with log.open("w") as out:
        result = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        tail = log.read_text().splitlines()[-40:]
        sys.exit(
            f"{' '.join(cmd[:4])} failed (exit {result.returncode}); end of {log}:\n"
            + "\n".join(tail)
        )


def main() -> None:
    """Run the demo and print its summary."""
    schools = int(os.environ.get("DEMO_SCHOOLS", "5000"))
    staff = int(os.environ.get("DEMO_STAFF", "40"))
    DEMO.mkdir(exist_ok=True)
    emulator, wonde_url = start_emulator(schools, staff)
    try:
        env = airflow_env(wonde_url)
        print(f"Wonde emulator: {wonde_url} ({schools} schools)")
        run([str(VENV_BIN / "airflow"), "db", "migrate"], env, DEMO / "airflow-db-migrate.log")
        started = time.monotonic()
        run(
            [str(VENV_BIN / "airflow"), "dags", "test", "wonde_schools_full_sync"],
            env,
            DEMO / "wonde_schools_full_sync.log",
        )
        took = time.monotonic() - started
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)

    from wonde_sync import catalog, sync_history
    from wonde_sync.database import engine_from_url

    engine = engine_from_url(f"sqlite:///{CALM_DB}")
    run_row = sync_history.list_runs(engine, kind="catalog", limit=1)[0]
    print()
    print("Full schools sync (wonde_schools_full_sync)")
    print(f"  schools in the catalog: {catalog.catalog_count(engine)}")
    print(f"  time taken:             {took:.1f} s (airflow dags test, incl. start-up)")
    print(f"  Sync History #{run_row.id}:        {run_row.status} - {run_row.message}")
    print(f"  database:               {CALM_DB.relative_to(REPO)}")
    print(f"  logs:                   {DEMO.relative_to(REPO)}/*.log")
    if run_row.status != "Completed":
        sys.exit(1)


if __name__ == "__main__":
    main()
