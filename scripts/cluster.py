"""The production topology on one machine, with real processes, checked end to end.

Starts PostgreSQL (two databases: Airflow's metadata and ``calm_db``), Redis, the Wonde
emulator, and Airflow with the CeleryExecutor: api-server, scheduler, dag-processor,
triggerer and two Celery workers, all on 127.0.0.1. Then, through Airflow's REST API:

1. runs ``wonde_schools_full_sync`` (the catalog);
2. connects ``--sites`` sites (admin CLI) and has their schools approve in the emulator,
   whose ``schoolApproved`` webhooks reach the receiver in the api-server; the approval
   watch (in the triggerer) starts ``wonde_incremental_sync``, and the time from each
   approval to that site's people being in ``calm_db`` is measured (at most a minute);
3. changes the MIS (one person suspended, one added) and runs ``wonde_incremental_sync``;
4. checks ``calm_db`` against the emulator's ground truth, prints the runs, the tasks per
   worker (task instances' ``hostname``), the delays and the checks.

Everything it started is stopped at the end, on failure and on Ctrl-C. Exit 0 only when
every check passed; 1 when one failed or something did not start; 130 when interrupted.

    .venv/bin/python scripts/cluster.py [--sites 2] [--schools 40] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The test harness's PostgreSQL server and emulator control client are reused from here.
sys.path.insert(0, str(REPO))

from cluster_airflow import (  # noqa: E402
    AirflowApi,
    airflow_cli,
    airflow_env,
    start_services,
    write_password,
)
from cluster_checks import (  # noqa: E402
    Check,
    active_people,
    check_catalog,
    check_site,
    importable_people,
    print_report,
)
from cluster_processes import ClusterError, Processes, postgres_server  # noqa: E402

from tests.support.emulator_control import EmulatorControl  # noqa: E402

FULL, INCREMENTAL = "wonde_schools_full_sync", "wonde_incremental_sync"
RECONCILE = "wonde_connections_reconcile"
TOKEN = "cluster-app-token"
#: The longest an approval may take to reach the site's people.
APPROVAL_LIMIT_SECONDS = 60.0


class Stop(Exception):
    """SIGINT or SIGTERM arrived."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=2, help="sites whose schools approve")
    parser.add_argument("--schools", type=int, default=40, help="schools in the directory")
    parser.add_argument("--staff", type=int, default=20, help="staff per school")
    parser.add_argument("--pupils", type=int, default=8, help="pupils per school")
    parser.add_argument("--workers", type=int, default=2, help="Celery workers")
    parser.add_argument("--workdir", type=Path, help="logs and data here, kept (default: temp)")
    args = parser.parse_args(argv)
    if not 1 <= args.sites <= args.schools or args.workers < 1:
        parser.error("need 1 <= --sites <= --schools and --workers >= 1")
    return args


def start(args: argparse.Namespace, processes: Processes) -> dict:
    """Start every process; what the steps need (URLs, API client, engine, env)."""
    from wonde_sync.core.database import engine_from_url

    server = processes.postgres()
    metadata_url = postgres_server.create_database(server, "airflow")
    calm_url = postgres_server.create_database(server, "calm")
    broker_url = processes.redis()
    wonde_url = processes.emulator(
        schools=args.schools,
        staff_per_school=args.staff,
        students_per_school=args.pupils,
        seed=11,
        token=TOKEN,
        approved=0,
    )
    home = processes.workdir / "airflow"
    home.mkdir(exist_ok=True)
    env = airflow_env(
        home,
        metadata_url=metadata_url,
        broker_url=broker_url,
        calm_url=calm_url,
        wonde_url=wonde_url,
        token=TOKEN,
    )
    password = write_password(env)
    airflow_cli(env, "db", "migrate")
    workers = start_services(processes, env, args.workers)
    api_url = env["AIRFLOW__API__BASE_URL"]
    processes.wait_for_http(f"{api_url}/api/v2/monitor/health")
    print("Processes: " + ", ".join(f"{n} (pid {p})" for n, p in processes.pids().items()))
    print(f"Airflow: {api_url}/ (user admin, password {password}); logs: {processes.logs}/")
    api = AirflowApi(api_url, password, processes)
    pool = {"name": "wonde_api", "slots": 2, "description": "Calls to Wonde"}
    api.call("POST", "pools", json=pool)
    api.wait_for_dags([FULL, INCREMENTAL, RECONCILE])
    control = EmulatorControl(wonde_url)
    control.configure(
        webhook_url=f"{api_url}/wonde/webhooks/wonde", webhook_secret=env["WONDE_WEBHOOK_SECRET"]
    )
    print("Waiting for the scheduled runs Airflow starts on unpausing ...", flush=True)
    api.wait_for_first_runs([FULL, INCREMENTAL, RECONCILE])
    return dict(
        api=api,
        control=control,
        env=env,
        workers=workers,
        wonde_url=wonde_url,
        calm_url=calm_url,
        engine=engine_from_url(calm_url),
    )


def admin(env: dict[str, str], calm_url: str, *args: str) -> None:
    """``python -m wonde_sync --db calm_url *args``; ClusterError when it fails."""
    done = subprocess.run(
        [sys.executable, "-m", "wonde_sync", "--db", calm_url, *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise ClusterError(f"wonde_sync {' '.join(args)} failed: {done.stderr.strip()}")


def connect_sites(cluster: dict, count: int) -> dict[str, str]:
    """``count`` sites request access to the catalog's first schools; site id -> school."""
    import sqlalchemy as sa

    from wonde_sync.core.database import table

    schools = table("wonde_schools")
    with cluster["engine"].connect() as conn:
        ids = conn.execute(sa.select(schools.c.id).order_by(schools.c.id).limit(count)).scalars()
        chosen = {f"site-{n}": school for n, school in enumerate(ids, start=1)}
    for site_id, school_id in chosen.items():
        admin(cluster["env"], cluster["calm_url"], "add-site", site_id, "--name", site_id)
        admin(
            cluster["env"],
            cluster["calm_url"],
            "request-access",
            site_id,
            school_id,
            "--first-name",
            "Ann",
            "--last-name",
            "O'Neill",
            "--email",
            "ann@school.example",
        )
    return chosen


def approve_and_wait(cluster: dict, sites: dict[str, str], timeout: float = 180) -> dict:
    """The schools approve (webhooks); seconds until each site's staff are all in calm_db."""
    control, engine = cluster["control"], cluster["engine"]
    approved_at = {}
    for site_id, school_id in sites.items():
        approved_at[site_id] = time.monotonic()
        answer = control.approve(school_id)
        if answer["webhook_status"] != 200:
            raise ClusterError(f"The webhook for {school_id} was not accepted: {answer}")
    expected = {s: importable_people(control, school) for s, school in sites.items()}
    delays: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(delays) < len(sites):
        cluster["api"].processes.check_alive()
        for site_id in set(sites) - set(delays):
            if active_people(engine, site_id) == expected[site_id]:
                delays[site_id] = time.monotonic() - approved_at[site_id]
        if time.monotonic() > deadline:
            raise ClusterError(
                f"No import after the approval of {sorted(set(sites) - set(delays))}"
            )
        time.sleep(0.5)
    return dict(sorted(delays.items()))


def change_mis(control: EmulatorControl, school_id: str) -> None:
    """One active staff member is suspended and one joins: the incremental sync's work."""
    person = sorted(importable_people(control, school_id))[0]
    control.edit_person(school_id, person, mis_status="suspended")
    control.add_person(school_id, forename="Nia", surname="Jones", email="nia.jones@school.example")


def run(args: argparse.Namespace, processes: Processes) -> bool:
    """Start the cluster, do the four steps, print the report; whether every check passed."""
    cluster = start(args, processes)
    api, control = cluster["api"], cluster["control"]
    print(f"Running {FULL} ...", flush=True)
    api.wait_for_run(FULL, api.trigger(FULL))
    sites = connect_sites(cluster, args.sites)
    print(f"Approving {len(sites)} school(s) in the emulator ...", flush=True)
    delays = approve_and_wait(cluster, sites)
    api.wait_until_idle(INCREMENTAL)
    change_mis(control, next(iter(sites.values())))
    print(f"Running {INCREMENTAL} ...", flush=True)
    api.wait_for_run(INCREMENTAL, api.trigger(INCREMENTAL))
    # Unpausing a DAG also makes Airflow run its latest scheduled interval at once
    # (catchup=False): those runs are part of what the workers did.
    runs, hosts = [], Counter()
    finished = [r for dag_id in (FULL, INCREMENTAL, RECONCILE) for r in api.wait_until_idle(dag_id)]
    for run_ in finished:
        instances = api.task_instances(run_["dag_id"], run_["dag_run_id"])
        ran = [ti for ti in instances if ti.get("hostname")]
        hosts.update(ti["hostname"] for ti in ran)
        runs.append({**run_, "tasks": len(ran)})
    started_by_approvals = sum(r["run_type"] == "asset_triggered" for r in runs)
    checks = [
        Check(
            all(r["state"] == "success" for r in runs),
            f"{len(runs)} DAG runs succeeded ({started_by_approvals} started by approvals)",
        ),
        Check(
            all(hosts[w] > 0 for w in cluster["workers"]),
            f"every worker ran tasks ({', '.join(cluster['workers'])})",
        ),
        Check(
            max(delays.values()) <= APPROVAL_LIMIT_SECONDS,
            f"approval -> import within {APPROVAL_LIMIT_SECONDS:.0f} s "
            f"(slowest {max(delays.values()):.1f} s)",
        ),
        check_catalog(cluster["engine"], cluster["wonde_url"], TOKEN),
        *(check_site(cluster["engine"], control, s, school) for s, school in sites.items()),
    ]
    cluster["engine"].dispose()
    print_report(runs, hosts, cluster["workers"], delays, checks)
    return all(c.passed for c in checks)


def _raise_stop(signum, frame) -> None:
    raise Stop


def main(argv: list[str] | None = None) -> int:
    """Run the cluster check; the exit code."""
    args = parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="calm-cluster-"))
    processes = Processes(workdir.resolve())
    signal.signal(signal.SIGINT, _raise_stop)
    signal.signal(signal.SIGTERM, _raise_stop)
    code = 1
    try:
        passed = run(args, processes)
        code = 0 if passed else 1
        print("All checks passed." if passed else "Some checks FAILED.")
    except Stop:
        print("\nInterrupted.", flush=True)
        code = 130
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
    finally:
        # A second Ctrl-C must not cut the clean-up short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        processes.stop_all()
        print("Stopped every process it started.", flush=True)
    if code == 0 and args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    elif code:
        print(f"Logs: {processes.logs}/", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
