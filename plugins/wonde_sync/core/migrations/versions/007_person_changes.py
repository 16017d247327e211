"""The change log: one row per person an import created, updated, archived, reactivated or
linked, with the reason and the person's fields before and after.

``before_*`` holds every column the import may write, so that a change can be shown field by
field and undone exactly; ``after_*`` holds the fields an admin reads. ``planned`` marks the
rows of a preview or of a run held by the mass-archive guard: changes not applied (yet).
An undo's rows are changes too, each naming the change it reverted (``undoes_change_id``);
so are an approval's, each naming the planned change it applied (``applies_change_id``).

Revision ID: 007_person_changes
Revises: 006_webhook_journal
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from wonde_sync.core.migrations.columns import TIMESTAMPTZ, identity, status, texts, timestamp_now

revision = "007_person_changes"
down_revision = "006_webhook_journal"
branch_labels = None
depends_on = None

SHOWN = ("mis_id", "forename", "surname", "email", "year_group", "status", "archived_reason")
RESTORED = ("source", "external_id", "content_hash", "linked_from_source")


def upgrade() -> None:
    op.create_table(
        "wonde_person_changes",
        identity(),
        sa.Column(
            "sync_run_id", sa.BigInteger(), sa.ForeignKey("wonde_sync_runs.id"), nullable=False
        ),
        sa.Column("site_id", sa.Text(), nullable=False),
        sa.Column("record_type", sa.Text(), nullable=False),
        # The personnel or pupils row (NULL for a person a plan would create).
        sa.Column("person_id", sa.BigInteger()),
        sa.Column("external_id", sa.Text(), nullable=False),
        status("action", "created", "updated", "archived", "reactivated", "linked"),
        sa.Column("reason", sa.Text()),
        sa.Column("planned", sa.Boolean(), nullable=False, server_default=sa.false()),
        *texts(*(f"before_{c}" for c in (*SHOWN, *RESTORED))),
        sa.Column("before_archived_at", TIMESTAMPTZ),
        sa.Column("before_updated_at", TIMESTAMPTZ),
        sa.Column("before_last_sync_run_id", sa.BigInteger()),
        *texts(*(f"after_{c}" for c in SHOWN)),
        timestamp_now("created_at"),
        # The fingerprint the import writes, so an approved plan is applied as the import would.
        sa.Column("after_content_hash", sa.Text()),
        # An undo's rows name the change each one reverted; an approval's, the planned
        # change each one applied.
        sa.Column("undoes_change_id", sa.BigInteger()),
        sa.Column("applies_change_id", sa.BigInteger()),
        sqlite_autoincrement=True,
    )
    op.create_index("wonde_person_changes_run_idx", "wonde_person_changes", ["sync_run_id"])
    op.create_index(
        "wonde_person_changes_person_idx",
        "wonde_person_changes",
        ["site_id", "record_type", "external_id"],
    )
    op.create_index("wonde_person_changes_age_idx", "wonde_person_changes", ["created_at"])
