"""The schema as the numbered SQL files made it before Alembic: fixtures for adoption tests.

One folder per dialect; the runner of that time applied each file once, in order, and
listed it in ``schema_migrations``. :func:`create` does the same.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from wonde_sync.core.database import utcnow
from wonde_sync.core.migrations import LEGACY_FILES, LEGACY_TABLE

HERE = Path(__file__).resolve().parent


def create(engine: sa.Engine, count: int = len(LEGACY_FILES)) -> None:
    """Apply the first ``count`` SQL files for the engine's dialect, as the runner did."""
    with engine.begin() as conn:
        conn.exec_driver_sql(
            f"CREATE TABLE {LEGACY_TABLE} (name TEXT PRIMARY KEY, applied_at TIMESTAMP NOT NULL)"
        )
        for name in LEGACY_FILES[:count]:
            for statement in _statements((HERE / engine.dialect.name / name).read_text()):
                conn.exec_driver_sql(statement)
            record(conn, name)


def record(conn: sa.Connection, name: str) -> None:
    """List ``name`` in the legacy table, as applied."""
    conn.execute(
        sa.text(f"INSERT INTO {LEGACY_TABLE} (name, applied_at) VALUES (:n, :t)"),
        {"n": name, "t": utcnow()},
    )


def _statements(script: str) -> list[str]:
    # The files hold no semicolons inside literals.
    lines = [line for line in script.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
