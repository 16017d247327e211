"""CalmCompliance tables for the Wonde integration: sites, the school catalog, connections,
personnel and Sync History.

Revision ID: 001_initial
Revises:
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
    timestamps,
)

revision = "001_initial"
down_revision = None
branch_labels = None
depends_on = None

# The catalog's fields after id and name, in Wonde's order; staging holds the same.
_SCHOOL_FIELDS = (
    "urn",
    "la_code",
    "establishment_number",
    "phase_of_education",
    "mis",
    "address_line_1",
    "address_line_2",
    "address_town",
    "postcode",
    "country_code",
    "country_name",
    "region_code",
    "region_domain",
    "timezone",
)
_RUN_COUNTS = ("fetched", "created", "updated", "unchanged", "archived", "filtered", "rejected")


def upgrade() -> None:
    op.create_table(
        "sites",
        key("site_id", sa.Text()),
        sa.Column("name", sa.Text(), nullable=False),
        timestamp_now("created_at"),
    )

    # The local copy of Wonde's school directory; replaced as a whole by each full sync.
    op.create_table(
        "wonde_schools",
        key("id", sa.Text()),
        sa.Column("name", sa.Text(), nullable=False),
        *texts(*_SCHOOL_FIELDS),
        sa.Column("sync_run_id", sa.BigInteger()),
    )
    op.create_index("wonde_schools_urn_idx", "wonde_schools", ["urn"])
    if op.get_context().dialect.name == "postgresql":
        # Search matches prefixes of the normalised postcode and the lower-cased name;
        # text_pattern_ops lets LIKE 'prefix%' use the index whatever the collation.
        op.create_index(
            "wonde_schools_postcode_idx",
            "wonde_schools",
            [sa.text("upper(replace(postcode, ' ', '')) text_pattern_ops")],
        )
        op.create_index(
            "wonde_schools_name_idx", "wonde_schools", [sa.text("lower(name) text_pattern_ops")]
        )
    else:
        op.create_index("wonde_schools_postcode_idx", "wonde_schools", ["postcode"])
        op.create_index("wonde_schools_name_idx", "wonde_schools", [sa.text("name COLLATE NOCASE")])

    # Rows of a rebuild in progress, keyed by its sync run; no constraints, so that
    # validation can see (and report) duplicates and missing fields before the swap.
    op.create_table(
        "wonde_schools_staging",
        sa.Column("sync_run_id", sa.BigInteger(), nullable=False),
        *texts("id", "name", *_SCHOOL_FIELDS),
    )
    op.create_index("wonde_schools_staging_run_idx", "wonde_schools_staging", ["sync_run_id"])

    op.create_table(
        "wonde_connections",
        key("site_id", sa.Text(), sa.ForeignKey("sites.site_id")),
        sa.Column("school_id", sa.Text(), nullable=False),
        status("status", "pending", "approved", "declined", "revoked"),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.text("TRUE")),
        *texts("school_token", "status_reason"),
        *timestamps("requested_at", "status_changed_at"),
        timestamp_now("created_at"),
        timestamp_now("updated_at"),
    )

    op.create_table(
        "personnel",
        identity(),
        sa.Column("site_id", sa.Text(), sa.ForeignKey("sites.site_id"), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        *texts("external_id", "forename", "surname", "email"),
        status("status", "active", "archived", default="active"),
        timestamp_now("created_at"),
        timestamp_now("updated_at"),
        sa.UniqueConstraint("site_id", "source", "external_id"),
        sqlite_autoincrement=True,
    )

    # Sync History: one row per run (per site for imports; site_id NULL for catalog runs).
    op.create_table(
        "wonde_sync_runs",
        identity(),
        sa.Column("site_id", sa.Text()),
        sa.Column("kind", sa.Text(), nullable=False),
        status("status", "Processing", "Completed", "Failed"),
        sa.Column("started_at", TIMESTAMPTZ, nullable=False),
        sa.Column("finished_at", TIMESTAMPTZ),
        *(
            sa.Column(f"{c}_count", sa.Integer(), nullable=False, server_default=sa.text("0"))
            for c in _RUN_COUNTS
        ),
        *texts("message", "dag_id", "dag_run_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("wonde_sync_runs_site_idx", "wonde_sync_runs", ["site_id", "started_at"])

    # One row per completed full catalog sync; the newest row's started_at is the watermark
    # the incremental sync starts from.
    op.create_table(
        "wonde_full_sync_metadata",
        key("sync_run_id", sa.BigInteger(), sa.ForeignKey("wonde_sync_runs.id")),
        sa.Column("started_at", TIMESTAMPTZ, nullable=False),
        sa.Column("finished_at", TIMESTAMPTZ, nullable=False),
        sa.Column("school_count", sa.Integer(), nullable=False),
        sa.Column("dag_run_id", sa.Text()),
    )
