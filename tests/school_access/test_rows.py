"""Access rows: versioned writes, each change journaled, and the rows an event concerns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from wonde_sync.core.database import table
from wonde_sync.school_access import rows
from wonde_sync.school_access.errors import ConcurrentChangeError


def insert(engine, site_id: str = "site-a", **values) -> dict:
    values = {"school_id": "A1", "status": "pending", **values}
    with engine.begin() as conn:
        return rows.insert(
            conn, site_id, change="requested", source=rows.SOURCE_CLI, actor="ops", **values
        )


def write(engine, row: dict, change: str, **values) -> dict:
    with engine.begin() as conn:
        return rows.write(conn, row, change=change, source=rows.SOURCE_RECONCILE, **values)


def journal(engine) -> list[tuple]:
    history = table("wonde_connection_history")
    columns = ("site_id", "change", "from_status", "to_status", "source", "actor")
    with engine.connect() as conn:
        found = conn.execute(sa.select(*(history.c[c] for c in columns)).order_by(history.c.id))
        return [tuple(row) for row in found]


def test_first_write_and_each_change_are_journaled(two_sites):
    row = insert(two_sites)
    assert (row["lifecycle_version"], bool(row["enabled"])) == (0, True)
    after = write(two_sites, row, "declined", status="declined", detail="Not now")
    assert after["lifecycle_version"] == 1
    assert after["status_changed_at"] == after["updated_at"]
    with two_sites.connect() as conn:
        assert rows.read(conn, "site-a", lock=False)["status"] == "declined"
    assert journal(two_sites) == [
        ("site-a", "requested", "not_connected", "pending", "cli", "ops"),
        ("site-a", "declined", "pending", "declined", "reconcile", None),
    ]


def test_a_row_that_changed_since_it_was_read_is_not_written(two_sites):
    seen = insert(two_sites)
    write(two_sites, seen, "disabled", enabled=False)
    with pytest.raises(ConcurrentChangeError, match="changed meanwhile"):
        write(two_sites, seen, "enabled", enabled=True)
    with two_sites.connect() as conn:
        now = rows.read(conn, "site-a", lock=False)
    assert (bool(now["enabled"]), now["lifecycle_version"]) == (False, 1)
    assert [entry[1] for entry in journal(two_sites)] == ["requested", "disabled"]


def test_an_event_concerns_the_active_site_else_the_latest_request(two_sites):
    earlier = datetime.now(UTC) - timedelta(days=2)
    insert(two_sites, "site-a", status="declined", requested_at=earlier + timedelta(days=1))
    insert(two_sites, "site-b", status="pending", requested_at=earlier)
    with two_sites.begin() as conn:
        assert [row["site_id"] for row in rows.for_school(conn, "A1")] == ["site-b"]
        assert rows.for_school(conn, "A2") == []
    with two_sites.connect() as conn:
        site_b = rows.read(conn, "site-b", lock=False)
    write(two_sites, site_b, "revoked", status="revoked")
    with two_sites.begin() as conn:
        assert [row["site_id"] for row in rows.for_school(conn, "A1")] == ["site-a"]
