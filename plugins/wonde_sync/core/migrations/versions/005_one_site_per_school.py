"""A school is pending or approved for at most one site, enforced by a partial unique index.

Databases written before this revision may hold a school active (pending or approved) for
several sites. Before the index is made, one of them keeps the school: an approved row
before a pending one, then a row holding a school token, then the most recent
``approved_at`` / ``requested_at`` (ties: the lowest ``site_id``). Every other one becomes
``revoked`` with a ``status_reason`` saying why, loses its school token (it is the other
site's school), and the change is journaled in ``wonde_connection_history`` (change
``deduplicated``, source ``migration``), so support can see what was done and for whom.

Revision ID: 005_one_site_per_school
Revises: 004_sync_run_context
"""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import groupby

import sqlalchemy as sa
from alembic import op

from wonde_sync.core.migrations.columns import TIMESTAMPTZ

revision = "005_one_site_per_school"
down_revision = "004_sync_run_context"
branch_labels = None
depends_on = None

ACTIVE = ("pending", "approved")
REASON = (
    "Revoked when one site per school became the rule: another site holds this school. "
    "Contact support if this is your school."
)

_connections = sa.table(
    "wonde_connections",
    *(
        sa.column(name)
        for name in (
            "site_id",
            "school_id",
            "status",
            "status_reason",
            "school_token_ciphertext",
            "revoke_reason",
            "lifecycle_version",
        )
    ),
    # Typed, so that SQLite's text comes back as datetimes.
    *(
        sa.column(name, TIMESTAMPTZ)
        for name in (
            "token_received_at",
            "approved_at",
            "requested_at",
            "revoked_at",
            "status_changed_at",
            "updated_at",
        )
    ),
)
_history = sa.table(
    "wonde_connection_history",
    *(
        sa.column(name)
        for name in (
            "site_id",
            "school_id",
            "change",
            "from_status",
            "to_status",
            "source",
            "detail",
        )
    ),
    sa.column("changed_at", TIMESTAMPTZ),
)


def _keeps(row) -> tuple:
    """Sort key: the row that keeps the school comes first."""
    latest = row.approved_at or row.requested_at
    return (
        row.status != "approved",
        row.school_token_ciphertext is None,
        # Naive and aware timestamps never meet: one backend returns one kind.
        -(latest.timestamp() if latest else float("-inf")),
        row.site_id,
    )


def _state(row) -> str:
    if row.status == "approved" and not row.school_token_ciphertext:
        return "already_approved"
    return row.status


def upgrade() -> None:
    conn = op.get_bind()
    active = conn.execute(sa.select(_connections).where(_connections.c.status.in_(ACTIVE))).all()
    now = datetime.now(UTC)
    for school_id, held in groupby(
        sorted(active, key=lambda r: r.school_id), lambda r: r.school_id
    ):
        keeper, *others = sorted(held, key=_keeps)
        for row in others:
            conn.execute(
                sa.update(_connections)
                .where(_connections.c.site_id == row.site_id)
                .values(
                    status="revoked",
                    status_reason=REASON,
                    revoke_reason=REASON,
                    revoked_at=now,
                    school_token_ciphertext=None,
                    token_received_at=None,
                    status_changed_at=now,
                    updated_at=now,
                    lifecycle_version=row.lifecycle_version + 1,
                )
            )
            conn.execute(
                sa.insert(_history).values(
                    site_id=row.site_id,
                    school_id=school_id,
                    change="deduplicated",
                    from_status=_state(row),
                    to_status="revoked",
                    source="migration",
                    detail=f"school kept by site {keeper.site_id}",
                    changed_at=now,
                )
            )
    op.create_index(
        "wonde_connections_active_school_uq",
        "wonde_connections",
        ["school_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('pending', 'approved')"),
        sqlite_where=sa.text("status IN ('pending', 'approved')"),
    )
