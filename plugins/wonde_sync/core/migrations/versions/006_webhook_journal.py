"""The webhook journal records refused deliveries and recognises every re-delivery.

* ``effect`` may also be ``rejected``: a delivery refused for what it carries (a school token
  that cannot be sent in an HTTP header), journaled with the reason in ``detail``.
* ``payload_digest``: the SHA-256 of the delivery's fields (canonical JSON), so a re-delivered
  decline, revocation or migration is told apart from a new one. Rows journaled before this
  revision have none.

SQLite cannot change a CHECK constraint in place, so there the table is rebuilt (rows, ids and
AUTOINCREMENT kept); PostgreSQL alters it.

Revision ID: 006_webhook_journal
Revises: 005_one_site_per_school
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from wonde_sync.core.migrations.columns import TIMESTAMPTZ

revision = "006_webhook_journal"
down_revision = "005_one_site_per_school"
branch_labels = None
depends_on = None

TABLE = "wonde_webhook_events"
CHECK = "wonde_webhook_events_effect_check"
EFFECTS = ("applied", "no_change", "duplicate", "unmatched", "rejected")


def upgrade() -> None:
    if op.get_context().dialect.name == "sqlite":
        with op.batch_alter_table(
            TABLE,
            recreate="always",
            copy_from=_table_without_effect_check(),
            table_kwargs={"sqlite_autoincrement": True},
        ) as batch:
            batch.add_column(sa.Column("payload_digest", sa.Text()))
            batch.create_check_constraint(CHECK, _allowed())
        # The rebuild drops the table's indexes; the school index is made again.
        op.create_index("wonde_webhook_events_school_idx", TABLE, ["school_id", "received_at"])
    else:
        inspector = sa.inspect(op.get_bind())
        for check in inspector.get_check_constraints(TABLE):
            if "effect" in check["sqltext"]:
                op.drop_constraint(check["name"], TABLE, type_="check")
        op.create_check_constraint(CHECK, TABLE, _allowed())
        op.add_column(TABLE, sa.Column("payload_digest", sa.Text()))


def _allowed() -> str:
    return "effect IN ({})".format(", ".join(f"'{effect}'" for effect in EFFECTS))


def _table_without_effect_check() -> sa.Table:
    """The journal as revision 003 made it, less the CHECK on ``effect`` that is replaced."""
    return sa.Table(
        TABLE,
        sa.MetaData(),
        sa.Column("id", sa.Integer(), primary_key=True, nullable=True),
        sa.Column("received_at", TIMESTAMPTZ, nullable=False),
        sa.Column("payload_type", sa.Text(), nullable=False),
        sa.Column("school_id", sa.Text()),
        sa.Column("dedupe_key", sa.Text(), unique=True),
        sa.Column("effect", sa.Text(), nullable=False),
        sa.Column("site_ids", sa.Text()),
        sa.Column("detail", sa.Text()),
        sqlite_autoincrement=True,
    )
