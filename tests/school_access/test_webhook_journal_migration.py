"""Revision 006 on a journal written before it: every row kept, ``rejected`` now allowed."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from wonde_sync.core import migrations
from wonde_sync.core.database import apply_schema, engine_from_url

T = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)
JOURNAL = sa.table(
    "wonde_webhook_events",
    *map(sa.column, ("id", "payload_type", "school_id", "dedupe_key", "effect", "site_ids")),
    sa.column("detail"),
    sa.column("received_at", sa.TIMESTAMP(timezone=True)),
)
ROWS = [
    {"payload_type": "schoolApproved", "school_id": "A1", "dedupe_key": "ab" * 32,
     "effect": "applied", "site_ids": "s1"},
    {"payload_type": "schoolApproved", "school_id": "A1", "effect": "duplicate",
     "detail": "approval already received"},
    {"payload_type": "accessRevoked", "school_id": "A1", "effect": "no_change", "site_ids": "s1"},
    {"payload_type": "accessDeclined", "school_id": "B2", "effect": "unmatched"},
]  # fmt: skip


def history_before_006(folder) -> str:
    """A copy of the schema history without revision 006 and later ones."""
    location = folder / "migrations"
    shutil.copytree(
        migrations.SCRIPT_LOCATION, location, ignore=shutil.ignore_patterns("__pycache__")
    )
    for later in (location / "versions").glob("[0-9]*.py"):
        if later.stem >= "006":
            later.unlink()
    return location


def journal(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(JOURNAL).order_by(JOURNAL.c.id))]


def test_the_journal_keeps_its_rows_and_may_say_rejected(calm_db, tmp_path):
    engine = engine_from_url(calm_db)
    try:
        migrations.upgrade(engine, history_before_006(tmp_path))
        with engine.begin() as conn:
            for row in ROWS:  # one by one: rows name different columns
                conn.execute(sa.insert(JOURNAL).values(received_at=T, **row))
        before = journal(engine)

        assert apply_schema(engine)[0] == "006_webhook_journal"

        assert journal(engine) == before
        with engine.begin() as conn:
            digests = conn.execute(sa.text("SELECT payload_digest FROM wonde_webhook_events"))
            assert digests.scalars().all() == [None] * len(ROWS)
            conn.execute(
                sa.insert(JOURNAL).values(
                    received_at=T, payload_type="schoolApproved", effect="rejected"
                )
            )
        assert [row[0] for row in journal(engine)] == [1, 2, 3, 4, 5]  # ids go on
        for wrong in ({"effect": "lost"}, {"effect": "applied", "dedupe_key": "ab" * 32}):
            with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
                conn.execute(
                    sa.insert(JOURNAL).values(received_at=T, payload_type="schoolApproved", **wrong)
                )
        indexes = sa.inspect(engine).get_indexes("wonde_webhook_events")
        assert "wonde_webhook_events_school_idx" in [index["name"] for index in indexes]
    finally:
        engine.dispose()
