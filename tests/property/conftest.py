"""The hypothesis profile of the property tests: reproducible, and quick enough for CI.

``derandomize`` makes every run try the same examples, so a failure in CI is a failure on
a laptop too; no example database is kept. ``HYPOTHESIS_PROFILE=thorough`` explores more,
at random, when hunting for bugs locally.
"""

from __future__ import annotations

import os
import tempfile

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir

# Hypothesis keeps caches (and failure patches) in a folder of its own: not in the tree.
set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "calm-hypothesis"))

settings.register_profile(
    "ci",
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    # Database-backed properties build their world once per test and send every example
    # to it; they restore nothing because a refused input changes nothing.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    parent=settings.get_profile("ci"),
    max_examples=1000,
    derandomize=False,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# -- worlds for the database-backed properties ---------------------------------------------


@pytest.fixture
def quiet_env(monkeypatch):
    """The published development token key, no secrets or thresholds from the host."""
    monkeypatch.setenv("CALM_ENVIRONMENT", "test")
    for name in ("WONDE_TOKEN_KEY", "WONDE_WEBHOOK_SECRET", "WONDE_STALE_AFTER_HOURS"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def access_world(quiet_env, seeded, engine, start_emulator):
    """The school-access world of tests/school_access, on a smaller directory."""
    from tests.school_access.conftest import build_world

    return build_world(seeded, engine, start_emulator, schools=12)


@pytest.fixture
def details_world(quiet_env, seeded, engine, start_emulator):
    """The seeded world of the integration details (tests/monitoring/seed.py)."""
    from tests.monitoring.conftest import World, seeded_details

    emu = start_emulator(schools=8, staff_per_school=10, students_per_school=5, seed=11, approved=6)
    return World(engine, emu, seeded_details(seeded, emu, "details-small"))


def table_counts(engine) -> dict[str, int]:
    """Rows in every table of the database."""
    import sqlalchemy as sa

    names = sa.inspect(engine).get_table_names()
    with engine.connect() as conn:
        return {
            name: conn.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar_one()
            for name in names
        }
