"""What ``scripts/cluster.py`` checks and prints: calm_db against the emulator's ground truth.

Ground truth: the school directory the emulator serves (``/v1.0/schools/all``, page by
page) and, per school, its people as the MIS holds them (the control API); a person should
be active in CalmCompliance exactly when the MIS has them ``active`` and not deleted.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

import requests
import sqlalchemy as sa

from tests.support.emulator_control import EmulatorControl
from wonde_sync.core.database import table

#: Which calm_db table holds each kind of Wonde person.
PEOPLE_TABLES = {"employee": "personnel", "student": "pupils"}


@dataclass(frozen=True)
class Check:
    """One check: whether it passed, what it compared, and how many rows it read."""

    passed: bool
    text: str
    rows: int = 0


def directory_ids(wonde_url: str, token: str) -> set[str]:
    """Every school id the emulator's directory lists."""
    http = requests.Session()
    http.trust_env = False
    http.headers["Authorization"] = f"Bearer {token}"
    url, ids = f"{wonde_url}/v1.0/schools/all?per_page=200", set()
    while url:
        page = http.get(url, timeout=30)
        page.raise_for_status()
        body = page.json()
        ids |= {school["id"] for school in body["data"]}
        url = (body.get("meta") or {}).get("pagination", {}).get("next")
    return ids


def check_catalog(engine: sa.Engine, wonde_url: str, token: str) -> Check:
    """``wonde_schools`` holds exactly the directory's school ids."""
    expected = directory_ids(wonde_url, token)
    schools = table("wonde_schools")
    with engine.connect() as conn:
        found = set(conn.execute(sa.select(schools.c.id)).scalars())
    missing, extra = len(expected - found), len(found - expected)
    text = f"catalog: {len(found)} school ids in wonde_schools, directory lists {len(expected)}"
    if missing or extra:
        text += f" ({missing} missing, {extra} not in the directory)"
    return Check(found == expected, text, len(found))


def active_people(engine: sa.Engine, site_id: str, kind: str = "employee") -> set[str]:
    """Wonde ids of the site's active people of ``kind`` in calm_db."""
    people = table(PEOPLE_TABLES[kind])
    with engine.connect() as conn:
        query = sa.select(people.c.external_id).where(
            people.c.site_id == site_id, people.c.source == "wonde", people.c.status == "active"
        )
        return set(conn.execute(query).scalars())


def importable_people(control: EmulatorControl, school_id: str, kind: str = "employee") -> set:
    """Ground truth: ids of the school's people the MIS has active and not deleted."""
    return {
        p["id"]
        for p in control.people(school_id, kind)
        if p["mis_status"] == "active" and not p["deleted"]
    }


def check_site(engine, control: EmulatorControl, site_id: str, school_id: str) -> Check:
    """The site's active staff and pupils are exactly the school's importable people, and
    its first import was started by the approval."""
    passed, parts, rows = True, [], 0
    for kind, label in (("employee", "staff"), ("student", "pupils")):
        found = active_people(engine, site_id, kind)
        expected = importable_people(control, school_id, kind)
        passed = passed and found == expected
        parts.append(f"{len(found)} active {label} (MIS: {len(expected)})")
        rows += len(found)
    first = first_import_run_type(engine, site_id)
    parts.append(f"first import's run type: {first}")
    return Check(
        passed and first == "approval", f"{site_id} ({school_id}): " + ", ".join(parts), rows
    )


def first_import_run_type(engine: sa.Engine, site_id: str) -> str | None:
    """Sync History's run type of the site's first import (``approval`` when one started it)."""
    runs = table("wonde_sync_runs")
    with engine.connect() as conn:
        query = (
            sa.select(runs.c.run_type)
            .where(runs.c.site_id == site_id)
            .order_by(runs.c.started_at, runs.c.id)
            .limit(1)
        )
        return conn.execute(query).scalar()


def took(run: dict) -> float | None:
    """A run's duration in seconds, from the REST API's start and end dates."""
    if not (run.get("start_date") and run.get("end_date")):
        return None
    start, end = (datetime.fromisoformat(run[k]) for k in ("start_date", "end_date"))
    return (end - start).total_seconds()


def print_report(
    runs: list[dict],
    hosts: Counter,
    workers: list[str],
    delays: dict[str, float],
    checks: list[Check],
) -> None:
    """The tables: runs and their times, tasks per worker, approval delays, checks."""
    print("\nDAG runs")
    print(f"  {'dag':<28} {'run type':<16} {'state':<8} {'took':>8}  tasks")
    for run in runs:
        seconds = took(run)
        shown = f"{seconds:.1f} s" if seconds is not None else "-"
        print(
            f"  {run['dag_id']:<28} {run['run_type']:<16} {run['state']:<8} {shown:>8}  "
            f"{run['tasks']}"
        )
    print("\nTasks per worker (task instances' hostname)")
    for name in [*workers, *sorted(set(hosts) - set(workers))]:
        print(f"  {name:<28} {hosts.get(name, 0)}")
    print("\nApproval -> that site's people in calm_db")
    for site_id, seconds in delays.items():
        print(f"  {site_id:<28} {seconds:.1f} s")
    print("\nChecks")
    for check in checks:
        print(f"  {'PASS' if check.passed else 'FAIL'}  {check.text}")
    print(f"\nRows checked: {sum(c.rows for c in checks)}")
