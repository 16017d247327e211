"""Staff and pupil imports: personnel bookkeeping, pupils, staging, per-run filter reasons
and record issues, per-site watermarks.

Revision ID: 002_imports
Revises: 001_initial
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from wonde_sync.core.migrations.columns import (
    TIMESTAMPTZ,
    identity,
    key,
    status,
    texts,
    timestamp_now,
)

revision = "002_imports"
down_revision = "001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Who manages a row: source 'wonde' rows are created or matched by the integration;
    # any other source (e.g. 'manual') is never changed by it, except when a matching
    # hand-made record is linked on first sight (linked_from_source keeps its origin).
    for column in (
        sa.Column("mis_id", sa.Text()),
        sa.Column("archived_at", TIMESTAMPTZ),
        *texts("archived_reason", "content_hash", "linked_from_source"),
        sa.Column("last_sync_run_id", sa.BigInteger()),
    ):
        op.add_column("personnel", column)
    op.create_index("personnel_site_email_idx", "personnel", ["site_id", sa.text("lower(email)")])

    op.create_table(
        "pupils",
        identity(),
        sa.Column("site_id", sa.Text(), sa.ForeignKey("sites.site_id"), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        *texts("external_id", "mis_id", "forename", "surname", "email", "year_group"),
        status("status", "active", "archived", default="active"),
        sa.Column("archived_at", TIMESTAMPTZ),
        *texts("archived_reason", "content_hash", "linked_from_source"),
        sa.Column("last_sync_run_id", sa.BigInteger()),
        timestamp_now("created_at"),
        timestamp_now("updated_at"),
        sa.UniqueConstraint("site_id", "source", "external_id"),
        sqlite_autoincrement=True,
    )

    # One import's transformed people, before they are applied in one transaction.
    op.create_table(
        "wonde_people_staging",
        sa.Column("sync_run_id", sa.BigInteger(), nullable=False),
        sa.Column("record_type", sa.Text(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=False),
        *texts("mis_id", "forename", "surname", "email", "year_group"),
        sa.Column("desired_status", sa.Text(), nullable=False),
        *texts("reason", "content_hash"),
    )
    op.create_index(
        "wonde_people_staging_run_idx",
        "wonde_people_staging",
        ["sync_run_id", "record_type", "external_id"],
    )

    # Why people were filtered out, per run: explains "fewer users than expected".
    op.create_table(
        "wonde_sync_run_reasons",
        sa.Column(
            "sync_run_id", sa.BigInteger(), sa.ForeignKey("wonde_sync_runs.id"), nullable=False
        ),
        sa.Column("record_type", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("sync_run_id", "record_type", "reason"),
    )

    # Records that could not be imported, one row each, with the reason.
    op.create_table(
        "wonde_sync_issues",
        identity(),
        sa.Column(
            "sync_run_id", sa.BigInteger(), sa.ForeignKey("wonde_sync_runs.id"), nullable=False
        ),
        sa.Column("site_id", sa.Text()),
        sa.Column("record_type", sa.Text(), nullable=False),
        sa.Column("external_id", sa.Text()),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text()),
        timestamp_now("created_at"),
        sqlite_autoincrement=True,
    )
    op.create_index("wonde_sync_issues_run_idx", "wonde_sync_issues", ["sync_run_id"])

    # Per site: where the next incremental import starts (moves only on success).
    op.create_table(
        "wonde_site_watermarks",
        key("site_id", sa.Text(), sa.ForeignKey("sites.site_id")),
        sa.Column("watermark", TIMESTAMPTZ, nullable=False),
        sa.Column("last_full_sync_at", TIMESTAMPTZ),
        sa.Column("last_sync_run_id", sa.BigInteger()),
        timestamp_now("updated_at"),
    )
