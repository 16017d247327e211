"""People an import read from Wonde but never imported: why, and when they were last seen.

A person the filters leave out from their first sight (suspended, left, archived in the MIS)
never gets a ``personnel`` or ``pupils`` row, so the change log, which records what imports
did to rows, has nothing on them. This table keeps one row per such person and site: the
rule that filtered them out, the names Wonde gave, and the first and latest run that read
them. The row goes when the person is imported.

Revision ID: 008_not_imported
Revises: 007_person_changes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from wonde_sync.core.migrations.columns import TIMESTAMPTZ, texts

revision = "008_not_imported"
down_revision = "007_person_changes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wonde_people_not_imported",
        sa.Column("site_id", sa.Text(), sa.ForeignKey("sites.site_id"), nullable=False),
        sa.Column("record_type", sa.Text(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=False),
        *texts("mis_id", "forename", "surname"),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("first_sync_run_id", sa.BigInteger(), nullable=False),
        sa.Column("last_sync_run_id", sa.BigInteger(), nullable=False),
        sa.Column("first_seen_at", TIMESTAMPTZ, nullable=False),
        sa.Column("last_seen_at", TIMESTAMPTZ, nullable=False),
        sa.PrimaryKeyConstraint("site_id", "record_type", "external_id"),
    )
    op.create_index(
        "wonde_people_not_imported_age_idx", "wonde_people_not_imported", ["last_seen_at"]
    )


def downgrade() -> None:
    op.drop_table("wonde_people_not_imported")
