"""Seed data for the integration details: a real catalog sync and real importer.

The catalog and the imports run through the project's own code against the Wonde emulator,
so counts, filter reasons and record issues are what production would record. Only what
the emulator cannot stage is written directly: connection rows in each state, and one run
moved three days back in time (a stale site).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from tests.support.emulator_control import EmulatorControl
from tests.support.import_targets import catalog_target
from wonde_sync.admin import api_tokens, sites
from wonde_sync.catalog import rebuild
from wonde_sync.core import sync_history
from wonde_sync.core.database import table, utcnow
from wonde_sync.people import importer
from wonde_sync.school_access import token_vault
from wonde_sync.wonde.errors import WondeError

#: site id → (name, connection state, school index or None); the order the page lists them.
SITES = {
    "ashdown": ("Ashdown Academy", "approved", 0),
    "beacon": ("Beacon School", "approved", 1),
    "cedar": ("Cedar Primary", "approved", 2),
    "dale": ("Dale High", "pending", 3),
    "elm": ("Elm Park School", "already_approved", 4),
    "fern": ("Fern Infants", None, None),
    "glen": ("Glen Academy", "disabled", 5),
}
EXPECTED_HEALTH = {
    "ashdown": "ok",
    "beacon": "failing",
    "cedar": "stale",
    "dale": "not_importing",
    "elm": "not_importing",
    "fern": "not_importing",
    "glen": "not_importing",
}
EXPECTED_CONNECTION = {
    "ashdown": "Approved",
    "beacon": "Approved",
    "cedar": "Approved",
    "dale": "Pending approval",
    "elm": "School Already Approved",
    "fern": "Not connected",
    "glen": "Approved",
}
IMPORT_DAG = "wonde_incremental_sync"
CATALOG_DAG = "wonde_schools_full_sync"
#: A DAG run id with the characters Airflow puts in them (":" and "+") to quote in links.
IMPORT_DAG_RUN = "manual__2026-03-02T03:00:00+00:00"
BAD_EMAIL = "not-an-email"


@dataclass
class Seeded:
    """What the seed made: run ids by purpose, service tokens by user, the ground truth."""

    catalog_run: int = 0
    ashdown_run: int = 0
    beacon_good_run: int = 0
    beacon_failed_run: int = 0
    cedar_run: int = 0
    tokens: dict[str, str] = field(default_factory=dict)
    ashdown_filtered: dict[tuple[str, str], int] = field(default_factory=dict)
    ashdown_active_staff: int = 0
    ashdown_bad_email_id: str = ""
    school_count: int = 0


def _connect(engine, site_id: str, school_id: str, state: str, token: str | None) -> None:
    """A connection row in the given product state (as the lifecycle would leave it)."""
    now = utcnow()
    values = {
        "site_id": site_id,
        "school_id": school_id,
        "status": "pending" if state == "pending" else "approved",
        "enabled": state != "disabled",
        "requested_at": now - timedelta(days=10),
        "status_changed_at": now - timedelta(days=9),
        "created_at": now - timedelta(days=10),
        "updated_at": now - timedelta(days=9),
        "contact_first_name": "Ann",
        "contact_last_name": "O'Neill",
        "contact_email": "ann.oneill@school.example.org",
    }
    if state in ("approved", "disabled"):
        values.update(school_token_ciphertext=token_vault.encrypt(token), approved_at=now)
    with engine.begin() as conn:
        conn.execute(sa.insert(table("wonde_connections")).values(**values))


def replay_emulator_changes(emu, seeded: Seeded) -> None:
    """What the seed changes at Wonde (an unusable email), on an emulator of its options."""
    school_id = emu.school_ids()[SITES["ashdown"][2]]
    EmulatorControl(emu).edit_person(school_id, seeded.ashdown_bad_email_id, email=BAD_EMAIL)


def seed(engine, emu) -> Seeded:
    """Fill an empty, migrated database: catalog, seven sites, imports, users."""
    from wonde_sync.wonde.client import WondeClient

    out = Seeded()
    client = WondeClient(backoff_initial=0.01, backoff_max=0.05)
    school_ids = emu.school_ids()
    control = EmulatorControl(emu)

    out.catalog_run = sync_history.start_run(
        engine, "catalog", dag_id=CATALOG_DAG, dag_run_id="scheduled__2026-03-01T01:00:00+00:00"
    )
    staged = rebuild.stage(
        engine, out.catalog_run, (p.records for p in client.iter_pages("schools/all"))
    )
    out.school_count = rebuild.publish(
        engine, out.catalog_run, started_at=datetime.now(UTC), dag_run_id=None
    )
    sync_history.complete_run(
        engine,
        out.catalog_run,
        f"Catalog rebuilt: {out.school_count} schools.",
        fetched_count=staged.fetched,
        created_count=out.school_count,
    )

    tokens = {}
    for site_id, (name, state, school) in SITES.items():
        sites.add_site(engine, site_id, name)
        if state is None:
            continue
        school_id = school_ids[school]
        tokens[site_id] = control.school_token(school_id)
        _connect(engine, site_id, school_id, state, tokens[site_id])

    def run(site_id: str, token: str | None = None) -> int:
        target = catalog_target(
            engine, site_id, school_ids[SITES[site_id][2]], token or tokens[site_id]
        )
        options = importer.ImportOptions(full=True, dag_id=IMPORT_DAG, dag_run_id=IMPORT_DAG_RUN)
        try:
            return importer.import_site(engine, client, target, options)["run_id"]
        except WondeError:
            return sync_history.list_runs(engine, site_id=site_id, limit=1)[0].id

    # Ashdown: one person with an unusable email (imported without it, reported).
    ashdown_school = school_ids[SITES["ashdown"][2]]
    staff = control.people(ashdown_school)
    person = next(p for p in staff if p["mis_status"] == "active")
    out.ashdown_bad_email_id = person["id"]
    replay_emulator_changes(emu, out)
    out.ashdown_run = run("ashdown")
    for kind in ("employee", "student"):
        truth = control.people(ashdown_school, kind)
        for p in truth:
            if p["mis_status"] != "active":
                key = (kind, p["mis_status"])
                out.ashdown_filtered[key] = out.ashdown_filtered.get(key, 0) + 1
        if kind == "employee":
            out.ashdown_active_staff = sum(p["mis_status"] == "active" for p in truth)

    # Beacon: imported once, then Wonde refuses the school token: the last run failed.
    out.beacon_good_run = run("beacon")
    out.beacon_failed_run = run("beacon", token="a-token-wonde-does-not-know")

    # Cedar: its only import completed three days ago (stale after the default 36 hours).
    out.cedar_run = run("cedar")
    runs = table("wonde_sync_runs")
    back = utcnow() - timedelta(days=3)
    with engine.begin() as conn:
        conn.execute(
            sa.update(runs)
            .where(runs.c.id == out.cedar_run)
            .values(started_at=back - timedelta(minutes=2), finished_at=back)
        )

    for user, admin_of in (("ann", ["ashdown"]), ("bea", ["beacon", "cedar"]), ("eve", [])):
        out.tokens[user] = api_tokens.create_api_token(engine, user).token
        for site_id in admin_of:
            api_tokens.grant_site_admin(engine, user, site_id)
    return out
