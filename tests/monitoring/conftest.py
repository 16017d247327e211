"""Fixtures for the integration details: a seeded database (both backends), its emulator."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.monitoring.seed import Seeded, replay_emulator_changes, seed


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
def world(seeded, engine, start_emulator) -> World:
    """A catalog, seven sites in different states, real imports (see tests/monitoring/seed.py)."""
    emu = start_emulator(
        schools=8, staff_per_school=40, students_per_school=30, seed=11, approved=6
    )
    return World(engine, emu, seeded_details(seeded, emu, "details"))


def seeded_details(seeded, emu, key: str) -> Seeded:
    """The seed's database (built once per ``key``), and its changes at Wonde on ``emu``."""
    built: list[bool] = []
    made = seeded(key, lambda engine: built.append(True) or seed(engine, emu), emulator=emu)
    if not built:
        replay_emulator_changes(emu, made)
    return made
