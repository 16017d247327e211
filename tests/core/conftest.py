"""Fixtures for schema tests: databases without the schema applied."""

from __future__ import annotations

import pytest

from tests.support import postgres_server
from wonde_sync.core.database import engine_from_url


@pytest.fixture
def bare_engine(calm_db):
    """An engine on ``calm_db``, still empty."""
    eng = engine_from_url(calm_db)
    yield eng
    eng.dispose()


@pytest.fixture
def other_engine(request, calm_db, tmp_path):
    """An engine on a second empty database, on the same backend as ``calm_db``."""
    if calm_db.get_backend_name() == "sqlite":
        eng = engine_from_url(calm_db.set(database=str(tmp_path / "other.db")))
        yield eng
        eng.dispose()
        return
    server = request.getfixturevalue("postgres_url")
    # Named after calm_db's database, so the run's check for leftovers covers it too.
    name = f"{calm_db.database}_other"
    eng = engine_from_url(postgres_server.create_database(server, name))
    yield eng
    eng.dispose()
    postgres_server.drop_database(server, name)
