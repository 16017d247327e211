"""Connection lifecycle: request contacts, outcomes, encrypted school tokens, the API's
service tokens and site admins, the webhook journal and the connection history.

Revision ID: 003_connection_lifecycle
Revises: 002_imports
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from wonde_sync.core.migrations.columns import (
    TIMESTAMPTZ,
    identity,
    status,
    texts,
    timestamps,
)

revision = "003_connection_lifecycle"
down_revision = "002_imports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for column in (
        # School tokens are stored ONLY as Fernet ciphertext (key from WONDE_TOKEN_KEY); the
        # column school_token of 001 is plaintext-named: never written, it stays NULL.
        # 'approved' without a ciphertext is the "School Already Approved" case.
        sa.Column("school_token_ciphertext", sa.Text()),
        sa.Column("token_received_at", TIMESTAMPTZ),
        # The contact sent to the school with the latest access request.
        *texts(
            "contact_first_name",
            "contact_last_name",
            "contact_email",
            "contact_phone",
            "contact_notes",
            "requested_by",
        ),
        # When each outcome last happened, and the school's reasons (as the webhooks give them).
        *timestamps("approved_at", "declined_at"),
        sa.Column("decline_reason", sa.Text()),
        sa.Column("revoked_at", TIMESTAMPTZ),
        sa.Column("revoke_reason", sa.Text()),
        # The school's latest change of MIS (schoolMigration webhook).
        *texts("mis_migration_from", "mis_migration_to"),
        # When the change of MIS happened; when the reconciling DAG announced this approval
        # (Asset wonde_connection_approved); when it last compared the row with Wonde's lists.
        *timestamps("mis_migration_at", "approval_announced_at", "wonde_checked_at"),
        # Bumped by every lifecycle write: the reconciling DAG only overwrites a row that did
        # not change while it was reading Wonde's lists (optimistic concurrency).
        sa.Column("lifecycle_version", sa.Integer(), nullable=False, server_default=sa.text("0")),
    ):
        op.add_column("wonde_connections", column)
    op.create_index("wonde_connections_school_idx", "wonde_connections", ["school_id"])

    # Service tokens of the connection-lifecycle API. Only the SHA-256 (hex) of a token is
    # kept; the token itself is shown once, when it is created.
    op.create_table(
        "wonde_api_tokens",
        identity(),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("token_sha256", sa.Text(), nullable=False, unique=True),
        sa.Column("label", sa.Text()),
        sa.Column("created_at", TIMESTAMPTZ, nullable=False),
        *timestamps("last_used_at", "revoked_at"),
        sqlite_autoincrement=True,
    )
    op.create_index("wonde_api_tokens_user_idx", "wonde_api_tokens", ["user_id"])

    # Who administers which site: only they may manage or read that site's connection.
    op.create_table(
        "wonde_site_admins",
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("site_id", sa.Text(), sa.ForeignKey("sites.site_id"), nullable=False),
        sa.Column("granted_at", TIMESTAMPTZ, nullable=False),
        sa.PrimaryKeyConstraint("user_id", "site_id"),
    )

    # Every accepted Wonde webhook delivery and what it did. The raw body is never stored (it
    # carries the school token). dedupe_key is set for schoolApproved only (SHA-256 of school
    # id and token), so a re-delivered approval is recognised and never applied twice.
    op.create_table(
        "wonde_webhook_events",
        identity(),
        sa.Column("received_at", TIMESTAMPTZ, nullable=False),
        sa.Column("payload_type", sa.Text(), nullable=False),
        sa.Column("school_id", sa.Text()),
        sa.Column("dedupe_key", sa.Text(), unique=True),
        status("effect", "applied", "no_change", "duplicate", "unmatched"),
        *texts("site_ids", "detail"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "wonde_webhook_events_school_idx", "wonde_webhook_events", ["school_id", "received_at"]
    )

    # Every change of a connection (status, token, school, enabled), who or what made it, and
    # why: wonde_connections holds only the latest state. from_status and to_status hold the
    # product state: not_connected, pending, approved, already_approved (approved without a
    # token), declined or revoked.
    op.create_table(
        "wonde_connection_history",
        identity(),
        sa.Column("site_id", sa.Text(), nullable=False),
        sa.Column("school_id", sa.Text()),
        sa.Column("change", sa.Text(), nullable=False),
        *texts("from_status", "to_status"),
        sa.Column("source", sa.Text(), nullable=False),
        *texts("actor", "detail"),
        sa.Column("changed_at", TIMESTAMPTZ, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "wonde_connection_history_site_idx",
        "wonde_connection_history",
        ["site_id", "changed_at"],
    )
