"""Fixtures for the school-access tests.

A real emulator (Wonde), a real database on both backends (``engine``), the catalog read
from the emulator's directory, two sites with one admin each plus an outsider, the FastAPI
app driven by a TestClient, and a real uvicorn server on loopback that receives the
emulator's webhooks.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from tests.support.emulator_control import EmulatorControl

#: Contains '+' and '/' on purpose: Wonde secrets may, and form decoding would break them.
WEBHOOK_SECRET = "wh+s3cr3t/with==padding"

CONTACT = {
    "first_name": "Ann",
    "last_name": "O'Neill",
    "email": "ann.oneill@school.example.org",
    "phone": "01234 567890",
    "notes": "Data protection lead",
}


@pytest.fixture(autouse=True)
def lifecycle_env(monkeypatch):
    """The test environment: the published dev token key, no secrets from the host."""
    monkeypatch.setenv("CALM_ENVIRONMENT", "test")
    monkeypatch.delenv("WONDE_TOKEN_KEY", raising=False)
    monkeypatch.delenv("WONDE_WEBHOOK_SECRET", raising=False)


@dataclass
class World:
    """One test's emulator, database, sites, users and their API tokens."""

    emu: Any
    control: EmulatorControl
    engine: sa.Engine
    schools: list[str]
    tokens: dict[str, str] = field(default_factory=dict)

    def client(self):
        from wonde_sync.wonde.client import WondeClient

        return WondeClient(backoff_initial=0.01, backoff_max=0.05, timeout=10.0)

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def row(self, site_id: str) -> dict | None:
        from wonde_sync.core.database import table

        accesses = table("wonde_connections")
        with self.engine.connect() as conn:
            found = (
                conn.execute(sa.select(accesses).where(accesses.c.site_id == site_id))
                .mappings()
                .first()
            )
        return dict(found) if found else None

    def snapshot(self) -> dict[str, list[tuple]]:
        """Every lifecycle table, to assert that nothing changed."""
        from wonde_sync.core.database import table

        tables = (
            "wonde_connections",
            "wonde_connection_history",
            "wonde_webhook_events",
            "wonde_site_admins",
        )
        taken = {}
        with self.engine.connect() as conn:
            for name in tables:
                t = table(name)
                key = list(t.primary_key.columns) or list(t.c)
                taken[name] = [tuple(r) for r in conn.execute(sa.select(t).order_by(*key))]
        return taken

    def history(self, site_id: str) -> list[str]:
        from wonde_sync.core.database import table

        history = table("wonde_connection_history")
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    sa.select(history.c.change)
                    .where(history.c.site_id == site_id)
                    .order_by(history.c.id)
                ).scalars()
            )


def load_catalog(engine, client) -> None:
    """Publish the emulator's directory as the catalog."""
    from wonde_sync.catalog import rebuild
    from wonde_sync.core import sync_history

    run_id = sync_history.start_run(engine, "catalog")
    rebuild.stage(engine, run_id, (page.records for page in client.iter_pages("schools/all")))
    rebuild.publish(engine, run_id, started_at=datetime.now(UTC), dag_run_id=None)


@pytest.fixture
def world(seeded, engine, start_emulator) -> World:
    """30 schools (the first 2 already approved for the app), sites a and b, three users."""
    return build_world(seeded, engine, start_emulator, schools=30)


def build_world(seeded, engine, start_emulator, *, schools: int) -> World:
    """An emulator of ``schools`` schools (the first 2 approved), its directory as the
    catalog, sites a and b, and three users with API tokens: ``ann@site-a`` and
    ``bob@site-b`` (admins of their sites), ``eve`` (of none)."""
    emu = start_emulator(schools=schools, staff_per_school=2, seed=4, approved=2)
    world = World(emu=emu, control=EmulatorControl(emu), engine=engine, schools=emu.school_ids())
    key = f"school-access-{schools}"
    world.tokens.update(seeded(key, lambda e: _fill(e, world.client()), emulator=emu))
    return world


def _fill(engine, client) -> dict[str, str]:
    """The catalog, the sites and the users of :func:`build_world`; the users' tokens."""
    from wonde_sync.admin import api_tokens, sites

    load_catalog(engine, client)
    sites.add_site(engine, "site-a", "Ashdown Academy")
    sites.add_site(engine, "site-b", "Beacon School")
    tokens = {}
    for user, site in (("ann@site-a", "site-a"), ("bob@site-b", "site-b"), ("eve", None)):
        tokens[user] = api_tokens.create_api_token(engine, user).token
        if site:
            api_tokens.grant_site_admin(engine, user, site)
    return tokens


@pytest.fixture
def two_sites(engine) -> sa.Engine:
    """Sites a and b on an empty catalog, without the emulator; returns the engine."""
    from wonde_sync.admin import sites

    sites.add_site(engine, "site-a", "Ashdown Academy")
    sites.add_site(engine, "site-b", "Beacon School")
    return engine


@pytest.fixture
def api(world):
    """A TestClient on the API wired to the test database and the emulator."""
    from fastapi.testclient import TestClient

    from wonde_sync.web.api import create_app

    app = create_app(
        engine=world.engine, client_factory=world.client, webhook_secret=WEBHOOK_SECRET
    )
    with TestClient(app) as client:
        yield client


class Receiver:
    """The API served by uvicorn on a free loopback port."""

    def __init__(self, app) -> None:
        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhooks/wonde"

    def start(self) -> None:
        self.thread.start()
        # Wait for readiness by asking the server, not by sleeping a fixed time.
        for _ in range(500):
            if self.server.started:
                return
            self.thread.join(0.01)
        raise RuntimeError("the webhook receiver did not start")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@pytest.fixture
def receiver(world):
    """A real HTTP receiver for the emulator's webhooks (secret appended by the emulator)."""
    from wonde_sync.web.api import create_app

    app = create_app(
        engine=world.engine, client_factory=world.client, webhook_secret=WEBHOOK_SECRET
    )
    server = Receiver(app)
    server.start()
    world.control.configure(webhook_url=server.webhook_url, webhook_secret=WEBHOOK_SECRET)
    yield server
    world.control.configure(webhook_url=None, webhook_secret=None)
    server.stop()
