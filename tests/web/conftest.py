"""Fixtures for the integration details: seeded databases (both backends) and the app."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.web.seed import Seeded, seed


@pytest.fixture(autouse=True)
def details_env(monkeypatch):
    """The published development token key; the default health thresholds."""
    monkeypatch.setenv("CALM_ENVIRONMENT", "test")
    monkeypatch.delenv("WONDE_TOKEN_KEY", raising=False)
    monkeypatch.delenv("WONDE_STALE_AFTER_HOURS", raising=False)
    monkeypatch.delenv("WONDE_CATALOG_STALE_AFTER_HOURS", raising=False)


@dataclass
class World:
    """A seeded database, the emulator it was seeded from, and what the seed made."""

    engine: object
    emu: object
    seeded: Seeded

    def auth(self, user: str) -> dict[str, str]:
        """The header that carries ``user``'s service token."""
        return {"Authorization": f"Bearer {self.seeded.tokens[user]}"}


@pytest.fixture
def world(engine, start_emulator) -> World:
    """A catalog, seven sites in different states, real imports (see tests/ui/seed.py)."""
    emu = start_emulator(
        schools=8, staff_per_school=40, students_per_school=30, seed=11, approved=6
    )
    return World(engine, emu, seed(engine, emu))


@pytest.fixture
def client(world):
    """A TestClient on the details app, on the seeded database."""
    from fastapi.testclient import TestClient

    from wonde_sync.web.ui import create_app

    with TestClient(create_app(engine=world.engine)) as test_client:
        yield test_client
