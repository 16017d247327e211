"""Databases made by the SQL files before Alembic are adopted in place, rows and all."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from tests.core import legacy_schema
from tests.core.schema_state import BOOKKEEPING, REVISIONS, describe, history_until, version
from wonde_sync.core import migrations, sync_history
from wonde_sync.core.database import DatabaseConfigError, apply_schema, table
from wonde_sync.core.migrations import LEGACY_FILES, LEGACY_TABLE

T = datetime(2025, 3, 1, 8, 30, tzinfo=UTC)

# Rows for the tables each SQL file creates, in foreign-key order.
SEEDS = [
    {
        "sites": [{"site_id": "s1", "name": "North"}, {"site_id": "s2", "name": "South"}],
        "wonde_sync_runs": [
            {
                "id": 1,
                "kind": "catalog",
                "status": "Completed",
                "started_at": T,
                "finished_at": T,
                "fetched_count": 2,
            },
            {
                "id": 2,
                "site_id": "s1",
                "kind": "staff",
                "status": "Failed",
                "started_at": T,
                "message": "Wonde refused the token",
            },
        ],
        "wonde_schools": [
            {
                "id": "A1",
                "name": "Alpha School",
                "urn": "100001",
                "postcode": "AB1 2CD",
                "sync_run_id": 1,
            },
            {"id": "B2", "name": "Beta Academy", "mis": "SIMS", "sync_run_id": 1},
        ],
        "wonde_schools_staging": [{"sync_run_id": 1, "id": "A1", "name": "Alpha School"}],
        "wonde_connections": [
            {"site_id": "s1", "school_id": "A1", "status": "approved"},
            {
                "site_id": "s2",
                "school_id": "B2",
                "status": "pending",
                "enabled": False,
                "requested_at": T,
            },
        ],
        "personnel": [
            {
                "site_id": "s1",
                "source": "wonde",
                "external_id": "E1",
                "forename": "Ada",
                "surname": "Lovelace",
                "email": "Ada@Example.org",
            },
            {"site_id": "s1", "source": "manual", "surname": "Hopper", "status": "archived"},
        ],
        "wonde_full_sync_metadata": [
            {"sync_run_id": 1, "started_at": T, "finished_at": T, "school_count": 2}
        ],
    },
    {
        "pupils": [{"site_id": "s1", "source": "wonde", "external_id": "P1", "year_group": "7"}],
        "wonde_people_staging": [
            {
                "sync_run_id": 2,
                "record_type": "employee",
                "external_id": "E1",
                "desired_status": "active",
            }
        ],
        "wonde_sync_run_reasons": [
            {"sync_run_id": 2, "record_type": "employee", "reason": "suspended", "count": 3}
        ],
        "wonde_sync_issues": [
            {"sync_run_id": 2, "site_id": "s1", "record_type": "employee", "reason": "no_name"}
        ],
        "wonde_site_watermarks": [{"site_id": "s1", "watermark": T, "last_sync_run_id": 2}],
    },
    {
        "wonde_api_tokens": [{"user_id": "u1", "token_sha256": "ab" * 32, "created_at": T}],
        "wonde_site_admins": [{"user_id": "u1", "site_id": "s1", "granted_at": T}],
        "wonde_webhook_events": [
            {
                "received_at": T,
                "payload_type": "schoolApproved",
                "school_id": "A1",
                "dedupe_key": "cd" * 32,
                "effect": "applied",
                "site_ids": "s1",
            }
        ],
        "wonde_connection_history": [
            {
                "site_id": "s1",
                "school_id": "A1",
                "change": "status",
                "from_status": "pending",
                "to_status": "approved",
                "source": "webhook",
                "changed_at": T,
            }
        ],
    },
]


def seed(engine, count: int) -> None:
    with engine.begin() as conn:
        for tables in SEEDS[:count]:
            for name, rows in tables.items():
                for row in rows:  # one by one: rows name different columns
                    conn.execute(table(name).insert().values(row))


def data_columns(engine) -> dict[str, list[str]]:
    """The columns of every data table."""
    inspector = sa.inspect(engine)
    return {
        t: [c["name"] for c in inspector.get_columns(t)]
        for t in set(inspector.get_table_names()) - BOOKKEEPING
    }


def rows(engine, columns: dict[str, list[str]]) -> dict[str, list[tuple]]:
    """The ``columns`` of every row of each table, sorted."""
    with engine.connect() as conn:
        return {
            t: sorted(
                conn.execute(sa.select(*map(sa.column, cols)).select_from(sa.table(t))), key=repr
            )
            for t, cols in columns.items()
        }


@pytest.mark.parametrize("count", [1, 2, 3], ids=lambda n: f"at_{LEGACY_FILES[n - 1]}")
def test_adoption_keeps_every_row_and_upgrades(bare_engine, other_engine, count):
    legacy_schema.create(bare_engine, count)
    seed(bare_engine, count)
    columns = data_columns(bare_engine)
    before = rows(bare_engine, columns)

    assert apply_schema(bare_engine) == REVISIONS[count:]

    assert rows(bare_engine, columns) == before
    seeded = sum(len(r) for tables in SEEDS[:count] for r in tables.values())
    assert sum(map(len, before.values())) == seeded
    assert version(bare_engine) == [REVISIONS[-1]]
    apply_schema(other_engine)
    assert describe(bare_engine) == describe(other_engine)
    # The legacy record stays as it was, for a release that predates Alembic.
    with bare_engine.connect() as conn:
        recorded = conn.execute(sa.text(f"SELECT name FROM {LEGACY_TABLE}")).scalars()
        assert sorted(recorded) == list(LEGACY_FILES[:count])


def test_adopted_rows_get_the_new_defaults(bare_engine):
    legacy_schema.create(bare_engine, 1)
    seed(bare_engine, 1)
    apply_schema(bare_engine)
    with bare_engine.connect() as conn:
        versions = conn.execute(sa.text("SELECT lifecycle_version FROM wonde_connections"))
        assert versions.scalars().all() == [0, 0]


def test_a_record_that_is_no_prefix_is_refused(bare_engine):
    with bare_engine.begin() as conn:
        conn.exec_driver_sql(
            f"CREATE TABLE {LEGACY_TABLE} (name TEXT PRIMARY KEY, applied_at TIMESTAMP NOT NULL)"
        )
        legacy_schema.record(conn, LEGACY_FILES[1])

    with pytest.raises(DatabaseConfigError, match="not a prefix"):
        apply_schema(bare_engine)

    assert sa.inspect(bare_engine).get_table_names() == [LEGACY_TABLE]


RUN_CONTEXT = {"run_type", "window_start", "window_end"}


def test_runs_recorded_before_004_read_without_run_type_or_window(bare_engine):
    legacy_schema.create(bare_engine, len(LEGACY_FILES))
    seed(bare_engine, len(LEGACY_FILES))

    assert apply_schema(bare_engine) == REVISIONS[3:]

    columns = {c["name"] for c in sa.inspect(bare_engine).get_columns("wonde_sync_runs")}
    assert RUN_CONTEXT <= columns
    catalog, failed = sync_history.get_run(bare_engine, 1), sync_history.get_run(bare_engine, 2)
    assert (failed.run_type, failed.window_start, failed.window_end) == (None, None, None)
    assert (failed.status, failed.message) == ("Failed", "Wonde refused the token")
    assert sync_history.run_type_label(failed.run_type) == "-"
    assert sync_history.window_label(failed) == "-"
    assert sync_history.duration_label(failed) == "-"
    assert sync_history.duration_label(catalog) == "0.0 s"


def test_004_upgrades_a_database_alembic_left_at_003(bare_engine, other_engine, tmp_path):
    migrations.upgrade(bare_engine, history_until(tmp_path, "003_connection_lifecycle"))
    seed(bare_engine, len(LEGACY_FILES))
    columns = data_columns(bare_engine)
    before = rows(bare_engine, columns)
    assert not RUN_CONTEXT & set(columns["wonde_sync_runs"])

    assert apply_schema(bare_engine) == REVISIONS[3:]

    assert rows(bare_engine, columns) == before
    assert version(bare_engine) == [REVISIONS[-1]]
    apply_schema(other_engine)
    assert describe(bare_engine) == describe(other_engine)
