"""The step every DAG starts with: bring ``calm_db``'s schema up to date."""

from __future__ import annotations


def prepare_database() -> list[str]:
    """Apply pending schema migrations to ``calm_db``; return the names applied now."""
    from wonde_sync.core.database import apply_schema, engine_for

    return apply_schema(engine_for())
