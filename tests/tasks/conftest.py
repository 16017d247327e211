"""The import tests' world (an emulator with approved schools, a catalog, three sites)."""

from tests.people.conftest import world

__all__ = ["world"]
