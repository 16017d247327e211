"""Sync History says how a run was started and which window of changes it imported.

Revision ID: 004_sync_run_context
Revises: 003_connection_lifecycle
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from wonde_sync.core.migrations.columns import timestamps

revision = "004_sync_run_context"
down_revision = "003_connection_lifecycle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for column in (
        # scheduled, manual, backfill or approval (a run started by a connection's approval);
        # NULL for runs started outside Airflow and for the runs recorded before this revision.
        sa.Column("run_type", sa.Text()),
        # The changes an import read: Wonde's updated_after (NULL: everyone, a full read) up
        # to the import's start, which is where the site's watermark moves.
        *timestamps("window_start", "window_end"),
    ):
        op.add_column("wonde_sync_runs", column)
