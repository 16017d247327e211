"""Fixtures for the web apps: the seeded world of the integration details, and its app."""

from __future__ import annotations

import pytest

# The same seeded database as the monitoring tests, and the same environment.
from tests.monitoring.conftest import details_env, world

__all__ = ["client", "details_env", "world"]


@pytest.fixture
def client(world):
    """A TestClient on the details app, on the seeded database."""
    from fastapi.testclient import TestClient

    from wonde_sync.web.ui import create_app

    with TestClient(create_app(engine=world.engine)) as test_client:
        yield test_client
