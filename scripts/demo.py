"""The main job end to end on the embedded default (``make demo``).

Starts the bundled Wonde emulator, prepares a SQLite Airflow home under ``.demo/``, runs
the full schools sync with ``airflow dags test`` into ``.demo/calm.db``, connects three
sites, runs the incremental sync, and prints a summary. Environment knobs: DEMO_SCHOOLS
(default 5000), DEMO_STAFF (default 40), DEMO_DIR (default ``.demo``). The emulator's
options go to ``emulator.json`` there, so ``make airflow`` can serve the same data.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEMO = Path(os.environ.get("DEMO_DIR", REPO / ".demo")).resolve()
CALM_DB = DEMO / "calm.db"
AIRFLOW_HOME = DEMO / "airflow"
TOKEN = "demo-app-token"
VENV_BIN = Path(sys.executable).parent


def start_emulator(schools: int, staff: int) -> tuple[subprocess.Popen, str]:
    """Start the emulator in its own process; return the process and its base URL.

    Its options, port included, are kept in ``emulator.json``: the catalog's school domains
    name that port, and ``make airflow`` starts the same emulator again.
    """
    from wonde_emulator.process import start_process

    options = dict(
        schools=schools, staff_per_school=staff, students_per_school=30, seed=7, token=TOKEN
    )
    proc, url = start_process(**options, approved=0)
    options["port"] = int(url.rsplit(":", 1)[1])
    (DEMO / "emulator.json").write_text(json.dumps(options, indent=2) + "\n")
    return proc, url


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


DEMO_SITES = (
    ("oak-primary", "Oak Primary"),
    ("ash-academy", "Ash Academy"),
    ("elm-high", "Elm High"),
)


def airflow(args: list[str], env: dict[str, str], log: str) -> float:
    """Run an Airflow CLI command; return how long it took."""
    started = time.monotonic()
    run([str(VENV_BIN / "airflow"), *args], env, DEMO / log)
    return time.monotonic() - started


def admin(args: list[str], env: dict[str, str]) -> str:
    """Run the admin CLI (python -m wonde_sync) and return what it printed."""
    result = subprocess.run(
        [sys.executable, "-m", "wonde_sync", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        sys.exit(f"python -m wonde_sync {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def connect_sites(engine, env: dict[str, str], wonde_url: str) -> None:
    """Three sites request access to three schools; the first two schools approve."""
    import requests

    from wonde_sync.school_access.transitions import record_approval

    school_ids = [row["id"] for row in engine_rows(engine)]
    for (site_id, name), school_id in zip(DEMO_SITES, school_ids, strict=True):
        admin(["add-site", site_id, "--name", name], env)
        admin(
            [
                "request-access",
                site_id,
                school_id,
                "--first-name",
                "Siân",
                "--last-name",
                "O'Neill",
                "--email",
                "sian.oneill@calm.example",
            ],
            env,
        )
    for school_id in school_ids[:2]:
        approval = requests.post(
            f"{wonde_url}/_emulator/schools/{school_id}/approve", timeout=10
        ).json()
        # What the schoolApproved webhook receiver does when Wonde delivers the token.
        record_approval(engine, school_id, approval["school_token"])


def engine_rows(engine) -> list[dict]:
    """The first schools of the catalog, by name."""
    import sqlalchemy as sa

    from wonde_sync.core.database import table

    schools = table("wonde_schools")
    with engine.connect() as conn:
        query = sa.select(schools.c.id).order_by(schools.c.name).limit(len(DEMO_SITES))
        return [dict(r) for r in conn.execute(query).mappings()]


def main() -> None:
    """Run the demo and print its summary."""
    schools = int(os.environ.get("DEMO_SCHOOLS", "5000"))
    staff = int(os.environ.get("DEMO_STAFF", "40"))
    DEMO.mkdir(exist_ok=True)
    for leftover in DEMO.glob("calm.db*"):  # each demo starts from an empty database
        leftover.unlink()
    os.environ.setdefault("CALM_ENVIRONMENT", "demo")
    emulator, wonde_url = start_emulator(schools, staff)
    from wonde_sync.core.database import engine_from_url

    engine = engine_from_url(f"sqlite:///{CALM_DB}")
    try:
        env = airflow_env(wonde_url)
        print(f"Wonde emulator: {wonde_url} ({schools} schools, {staff} staff each)")
        airflow(["db", "migrate"], env, "airflow-db-migrate.log")
        airflow(["pools", "set", "wonde_api", "2", "Calls to Wonde"], env, "airflow-pools.log")
        full_took = airflow(
            ["dags", "test", "wonde_schools_full_sync"], env, "wonde_schools_full_sync.log"
        )
        connect_sites(engine, env, wonde_url)
        incremental_took = airflow(
            ["dags", "test", "wonde_incremental_sync"], env, "wonde_incremental_sync.log"
        )
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
    ok = summary(engine, full_took, incremental_took)
    if not ok:
        sys.exit(1)


def summary(engine, full_took: float, incremental_took: float) -> bool:
    """Print what the two DAG runs did; True when every run completed."""
    import sqlalchemy as sa

    from wonde_sync.catalog import queries
    from wonde_sync.core import sync_history
    from wonde_sync.core.database import table
    from wonde_sync.school_access.status import read_statuses

    catalog_run = sync_history.list_runs(engine, kind="catalog", limit=1)[0]
    print()
    print("Full schools sync (wonde_schools_full_sync)")
    print(f"  schools in the catalog: {queries.catalog_count(engine)}")
    print(f"  time taken:             {full_took:.1f} s (airflow dags test, incl. start-up)")
    print(f"  Sync History #{catalog_run.id}:        {catalog_run.status} - {catalog_run.message}")
    print()
    print(f"Incremental sync (wonde_incremental_sync), {incremental_took:.1f} s")
    print("  A site's first import is always full (kind full_import): with no watermark yet")
    print("  there is no 'changed since' to ask Wonde for. Later runs are incremental_import.")
    reasons = table("wonde_sync_run_reasons")
    all_ok = catalog_run.status == "Completed"
    for status in read_statuses(engine):
        enabled = "enabled" if status.enabled else "disabled"
        print(f"  site {status.site_id} -> {status.school_name}: {status.label} ({enabled})")
        runs = sync_history.list_runs(engine, site_id=status.site_id, limit=1)
        if not runs:
            print("    no import (see the connection status above)")
            continue
        run_row = runs[0]
        all_ok = all_ok and run_row.status == "Completed"
        with engine.connect() as conn:
            active = {
                name: conn.execute(
                    sa.select(sa.func.count()).where(
                        people.c.site_id == status.site_id, people.c.status == "active"
                    )
                ).scalar_one()
                for name, people in (
                    ("staff", table("personnel")),
                    ("pupils", table("pupils")),
                )
            }
            filtered = conn.execute(
                sa.select(reasons.c.record_type, reasons.c.reason, reasons.c.count)
                .where(reasons.c.sync_run_id == run_row.id)
                .order_by(reasons.c.record_type, reasons.c.reason)
            ).all()
        print(
            f"    Sync History #{run_row.id} {run_row.kind}: {run_row.status}; "
            f"active: {active['staff']} staff (personnel), {active['pupils']} pupils (pupils)"
        )
        for record_type, label in (("employee", "staff"), ("student", "pupils")):
            counts = [
                f"{count} {reason}" for kind, reason, count in filtered if kind == record_type
            ]
            if counts:
                print(f"    {label} not imported: {', '.join(counts)}")
    print()
    db = CALM_DB.relative_to(REPO) if CALM_DB.is_relative_to(REPO) else CALM_DB
    logs = DEMO.relative_to(REPO) if DEMO.is_relative_to(REPO) else DEMO
    print(f"Database: {db}; logs: {logs}/*.log")
    print("Look further:")
    print("  make airflow    # Airflow's UI on these runs, with the Wonde page")
    print(f"  .venv/bin/python -m wonde_sync --db sqlite:///{db} history")
    return all_ok


if __name__ == "__main__":
    main()
