"""Revision 005 upgrades databases that hold a school active for several sites."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from tests.core.schema_state import REVISIONS, describe, history_until
from wonde_sync.core import migrations
from wonde_sync.core.database import apply_schema, table

EARLY = datetime(2025, 1, 1, tzinfo=UTC)
LATE = datetime(2025, 2, 1, tzinfo=UTC)

# site -> (school, status, token ciphertext, requested_at, approved_at)
ROWS = {
    "s1": ("A", "pending", None, EARLY, None),
    "s2": ("A", "approved", "cipher-A", EARLY, EARLY),  # approved with a token: keeps A
    "s3": ("A", "pending", None, LATE, None),
    "s4": ("B", "pending", None, EARLY, None),
    "s5": ("B", "pending", None, LATE, None),  # the latest request: keeps B
    "s6": ("B", "declined", None, LATE, None),  # not active: untouched
    "s7": ("C", "approved", "cipher-C", EARLY, EARLY),  # alone: untouched
}


def seed(engine) -> None:
    with engine.begin() as conn:
        for site, (school, status, cipher, requested, approved) in ROWS.items():
            conn.execute(table("sites").insert().values(site_id=site, name=site))
            conn.execute(
                table("wonde_connections")
                .insert()
                .values(
                    site_id=site,
                    school_id=school,
                    status=status,
                    school_token_ciphertext=cipher,
                    requested_at=requested,
                    approved_at=approved,
                )
            )


def test_005_keeps_one_active_site_per_school_and_journals_the_others(
    bare_engine, other_engine, tmp_path
):
    migrations.upgrade(bare_engine, history_until(tmp_path, "004_sync_run_context"))
    seed(bare_engine)

    assert apply_schema(bare_engine) == REVISIONS[4:]

    with bare_engine.connect() as conn:
        found = {r.site_id: r for r in conn.execute(sa.select(table("wonde_connections"))).all()}
        journal = conn.execute(
            sa.select(table("wonde_connection_history")).order_by("site_id")
        ).all()
    assert {s: r.status for s, r in found.items()} == {
        "s1": "revoked",
        "s2": "approved",
        "s3": "revoked",
        "s4": "revoked",
        "s5": "pending",
        "s6": "declined",
        "s7": "approved",
    }
    for site in ("s1", "s3", "s4"):
        assert "another site holds this school" in found[site].status_reason
        assert found[site].school_token_ciphertext is None
        assert found[site].lifecycle_version == 1
    assert found["s2"].school_token_ciphertext == "cipher-A"
    assert [(j.site_id, j.change, j.from_status, j.to_status, j.source) for j in journal] == [
        (site, "deduplicated", "pending", "revoked", "migration") for site in ("s1", "s3", "s4")
    ]
    assert journal[0].detail == "school kept by site s2"
    apply_schema(other_engine)
    assert describe(bare_engine) == describe(other_engine)


def test_after_005_a_second_active_site_is_refused(bare_engine):
    assert apply_schema(bare_engine) == REVISIONS
    seed_one = {"site_id": "s1", "school_id": "A", "status": "approved"}
    with bare_engine.begin() as conn:
        for site in ("s1", "s2"):
            conn.execute(table("sites").insert().values(site_id=site, name=site))
        conn.execute(table("wonde_connections").insert().values(seed_one))
    with pytest.raises(sa.exc.IntegrityError), bare_engine.begin() as conn:
        conn.execute(
            table("wonde_connections")
            .insert()
            .values(site_id="s2", school_id="A", status="pending")
        )
