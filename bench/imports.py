"""Benchmark: staff imports, full and incremental, on PostgreSQL, against raw baselines.

200 schools with 150 staff each (the emulator in another process, every school approved),
one CalmCompliance site per school. For the full pass (every site's first import) and the
incremental one (after 1% of all staff changed in the MIS) it prints, side by side:

- ``raw_fetch``: the requests each site's import sends (for staff and for pupils: the
  deletions feed, the list, or its changes for the incremental, and the deletions feed
  again when the list had anyone), sent with ``requests`` and decoded, nothing stored;
- ``naive``: the same fetch, then one ``INSERT … ON CONFLICT DO UPDATE`` per person;
- ``project``: the sync DAGs' import path: sites in batches of 25, each batch imported
  ``WONDE_CONCURRENCY`` sites at a time (``wonde_sync.tasks.import_steps.import_sites``).

Columns: sites, HTTP requests, seconds, the time against the raw fetch, employees fetched.
Usage: ``python bench/imports.py [--schools 200] [--staff 150] [--changed-pct 1]
[--latency 0]``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import requests
from site_world import connect_sites, sites_world

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


NAIVE_TABLE = """CREATE TABLE naive_staff (
    school_id TEXT, external_id TEXT, forename TEXT, surname TEXT, email TEXT, status TEXT,
    PRIMARY KEY (school_id, external_id))"""
NAIVE_UPSERT = """INSERT INTO naive_staff VALUES (%s, %s, %s, %s, %s, %s)
    ON CONFLICT (school_id, external_id) DO UPDATE SET forename = excluded.forename,
    surname = excluded.surname, email = excluded.email, status = excluded.status"""


def fetch_school(school_host: str, school: str, token: str, since: str | None):
    """The requests a site's import sends, done bare: (requests, staff).

    For staff and for pupils: the deletions feed, every page of the list (changed since
    ``since``), and, when the list had anyone, the deletions feed again.
    """
    from wonde_sync.people.importer import FEEDS

    session = requests.Session()
    session.trust_env = False
    session.headers["Authorization"] = f"Bearer {token}"
    window = {"updated_after": since} if since else {}
    sent, staff = 0, []

    def pages(url: str, params: dict) -> list[dict]:
        nonlocal sent
        found = []
        while url:
            body = session.get(url, params=params if not found else None, timeout=60).json()
            sent += 1
            found += body["data"]
            url = body["meta"]["pagination"]["next"]
            params = None
        return found

    school_url = f"{school_host}/v1.0/schools/{school}"
    for record_type, path, include in FEEDS:
        deletions = {"type": record_type, "per_page": 200, **window}
        pages(f"{school_url}/deletions", deletions)
        listed = pages(f"{school_url}/{path}", {"include": include, "per_page": 200, **window})
        if listed:
            pages(f"{school_url}/deletions", deletions)
        if path == "employees":
            staff = listed
    return sent, staff


def main() -> None:
    """Run the full and the incremental pass of each mode and print both tables."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--schools", type=int, default=200)
    parser.add_argument("--staff", type=int, default=150)
    parser.add_argument("--changed-pct", type=float, default=1.0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per Wonde answer")
    args = parser.parse_args()

    with sites_world(args.schools, args.staff, args.latency, "bench_imports") as world:
        import sqlalchemy as sa

        from wonde_sync.tasks import import_steps, site_batches
        from wonde_sync.tasks.defaults import DEFAULT_BATCH_SIZE
        from wonde_sync.wonde.urls import replace_host

        wonde_url = world.wonde_url
        admin = sa.create_engine(f"{world.pg_base}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql("CREATE DATABASE bench_naive")
        admin.dispose()
        naive = sa.create_engine(f"{world.pg_base}/bench_naive")
        with naive.begin() as conn:
            conn.exec_driver_sql(NAIVE_TABLE)

        school_ids = [s["id"] for s in world.schools]
        # Each school's data is served on its region's domain (as the importer reads it).
        hosts = {s["id"]: replace_host(wonde_url, s["region"]["domain"]) for s in world.schools}
        tokens = connect_sites(world)
        batches = site_batches.batches(
            import_steps.sites_to_import(refresh=False), DEFAULT_BATCH_SIZE
        )

        def sent() -> int:
            return requests.get(f"{wonde_url}/_emulator/requests", timeout=10).json()["total"]

        def raw(since: str | None) -> tuple[int, int]:
            fetched = [fetch_school(hosts[s], s, tokens[s], since) for s in school_ids]
            return sum(n for n, _ in fetched), sum(len(p) for _, p in fetched)

        def naive_run(since: str | None) -> tuple[int, int]:
            total = people = 0
            raw_conn = naive.raw_connection()
            try:
                with raw_conn.cursor() as cur:
                    for school in school_ids:
                        n, staff = fetch_school(hosts[school], school, tokens[school], since)
                        total, people = total + n, people + len(staff)
                        for p in staff:
                            emails = (p.get("contact_details") or {}).get("data", {})
                            status = (p.get("employment_details") or {}).get("data", {})
                            cur.execute(
                                NAIVE_UPSERT,
                                (
                                    school,
                                    p["id"],
                                    p.get("forename"),
                                    p.get("surname"),
                                    (emails.get("emails") or {}).get("email"),
                                    status.get("status"),
                                ),
                            )
                            raw_conn.commit()
            finally:
                raw_conn.close()
            return total, people

        def project(run: str) -> tuple[int, int]:
            before = sent()
            fetched = 0
            for batch in batches:
                summaries = import_steps.import_sites(
                    batch["site_ids"], full=False, dag_id="bench", dag_run_id=run
                )
                fetched += sum(s["fetched_count"] for s in summaries.values())
            return sent() - before, fetched

        def measure(label: str, work) -> None:
            started = time.perf_counter()
            requests_sent, fetched = work()
            seconds = time.perf_counter() - started
            results.setdefault(phase, {})[label] = seconds
            ratio = seconds / results[phase]["raw_fetch"]
            print(
                f"{label:<12}{len(school_ids):>7}{requests_sent:>10}{seconds:>10.2f}"
                f"{ratio:>13.2f}{fetched:>10}",
                flush=True,
            )

        results: dict[str, dict[str, float]] = {}
        header = f"{'mode':<12}{'sites':>7}{'requests':>10}{'seconds':>10}{'x raw fetch':>13}"
        phase = "full"
        print(f"\nfull import ({args.latency * 1000:.0f} ms per answer)\n{header}{'fetched':>10}")
        measure("raw_fetch", lambda: raw(None))
        measure("naive", lambda: naive_run(None))
        measure("project", lambda: project("full"))

        since = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
        rng = random.Random(5)
        changes = round(args.schools * args.staff * args.changed_pct / 100)
        for _ in range(changes):
            school_id = rng.choice(school_ids)
            people = requests.get(
                f"{wonde_url}/_emulator/schools/{school_id}/people",
                params={"type": "employee"},
                timeout=10,
            ).json()["data"]
            person = rng.choice(people)
            requests.patch(
                f"{wonde_url}/_emulator/schools/{school_id}/employees/{person['id']}",
                json={"surname": person["surname"] + "-Smith"},
                timeout=10,
            )
        phase = "incremental"
        print(
            f"\nincremental after {changes} employees changed in the MIS\n{header}{'fetched':>10}"
        )
        measure("raw_fetch", lambda: raw(since))
        measure("naive", lambda: naive_run(since))
        measure("project", lambda: project("incremental"))
        share = results["incremental"]["project"] / results["full"]["project"]
        print(f"\nproject: incremental / full = {share:.2f}")


if __name__ == "__main__":
    main()
