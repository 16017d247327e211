"""Column kinds the revisions share, declared as the SQL files before Alembic declared them.

Applied revisions depend on these: never change one, add a new one instead.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

#: TIMESTAMPTZ on PostgreSQL; TIMESTAMP on SQLite, which stores the UTC value as text.
TIMESTAMPTZ = sa.TIMESTAMP(timezone=True)


def identity(name: str = "id") -> sa.Column:
    """A generated key: BIGINT IDENTITY on PostgreSQL, INTEGER PRIMARY KEY AUTOINCREMENT on
    SQLite (the table needs ``sqlite_autoincrement=True``)."""
    # SQLite's rowid alias was declared without NOT NULL (it never holds NULL either way);
    # PostgreSQL rejects an explicit NULL next to IDENTITY, which is NOT NULL anyway.
    sqlite = op.get_context().dialect.name == "sqlite"
    return sa.Column(
        name,
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        sa.Identity(),
        primary_key=True,
        nullable=sqlite,
    )


def key(name: str, type_: sa.types.TypeEngine, *args) -> sa.Column:
    """A single-column primary key without NOT NULL, as declared before: PostgreSQL makes a
    key NOT NULL regardless; SQLite keeps accepting what it accepted."""
    return sa.Column(name, type_, *args, primary_key=True, nullable=True, autoincrement=False)


def timestamp_now(name: str) -> sa.Column:
    """A NOT NULL timestamp that defaults to the time of the insert."""
    # func.now() renders now() on PostgreSQL and CURRENT_TIMESTAMP on SQLite.
    return sa.Column(name, TIMESTAMPTZ, nullable=False, server_default=sa.func.now())


def status(name: str, *values: str, default: str | None = None) -> sa.Column:
    """A NOT NULL text column limited to ``values`` by a CHECK constraint."""
    allowed = ", ".join(f"'{v}'" for v in values)
    return sa.Column(
        name,
        sa.Text(),
        sa.CheckConstraint(f"{name} IN ({allowed})"),
        nullable=False,
        server_default=default,
    )


def texts(*names: str) -> list[sa.Column]:
    """Nullable TEXT columns."""
    return [sa.Column(n, sa.Text()) for n in names]


def timestamps(*names: str) -> list[sa.Column]:
    """Nullable timestamp columns."""
    return [sa.Column(n, TIMESTAMPTZ) for n in names]
