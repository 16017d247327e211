"""The admin tools act on the world of the school-access tests, so their fixtures are those.

An emulator, the catalog read from it, sites a and b with one admin each plus an outsider,
and the API on a TestClient: see :mod:`tests.school_access.conftest`.
"""

from tests.school_access.conftest import api, lifecycle_env, two_sites, world

__all__ = ["api", "lifecycle_env", "two_sites", "world"]
