"""One site's import against the emulator, on PostgreSQL and SQLite."""

from __future__ import annotations

from collections import Counter

import pytest
import sqlalchemy as sa

from tests.support.people_rows import personnel
from wonde_sync.core import sync_history
from wonde_sync.core.database import table
from wonde_sync.people.importer import ImportOptions, import_site
from wonde_sync.people.store import MassArchiveBlocked


def test_full_import_matches_ground_truth(world):
    target = world.targets[0]
    summary = import_site(world.engine, world.client, target, ImportOptions())
    truth = world.truth(target.school_id)
    by_status = Counter(p["mis_status"] for p in truth)
    rows = personnel(world, target.site_id)
    assert set(rows) == {p["id"] for p in truth if p["mis_status"] == "active"}
    assert all(r["status"] == "active" and r["source"] == "wonde" for r in rows.values())
    assert summary["filtered"]["employee"] == {s: n for s, n in by_status.items() if s != "active"}
    run = sync_history.get_run(world.engine, summary["run_id"])
    assert run.status == "Completed" and run.kind == "full_import"
    assert run.counts["created_count"] == by_status["active"] + len(
        [p for p in world.truth(target.school_id, "student") if p["mis_status"] == "active"]
    )
    print(run.message)


def test_students_filtered_by_reason_match_ground_truth(world):
    target = world.targets[1]
    summary = import_site(world.engine, world.client, target, ImportOptions())
    truth = world.truth(target.school_id, "student")
    expected = Counter(p["mis_status"] for p in truth if p["mis_status"] != "active")
    assert summary["filtered"]["student"] == dict(expected)
    t = table("pupils")
    with world.engine.connect() as conn:
        ids = set(
            conn.execute(sa.select(t.c.external_id).where(t.c.site_id == target.site_id)).scalars()
        )
    assert ids == {p["id"] for p in truth if p["mis_status"] == "active"}
    reasons = table("wonde_sync_run_reasons")
    with world.engine.connect() as conn:
        stored = {
            (r.record_type, r.reason): r.count
            for r in conn.execute(
                sa.select(reasons).where(reasons.c.sync_run_id == summary["run_id"])
            )
        }
    assert {k[1]: v for k, v in stored.items() if k[0] == "student"} == dict(expected)


def test_rerun_changes_nothing(world):
    target = world.targets[0]
    import_site(world.engine, world.client, target, ImportOptions())
    before = personnel(world, target.site_id)
    again = import_site(world.engine, world.client, target, ImportOptions(full=True))
    assert (again["created_count"], again["updated_count"], again["archived_count"]) == (0, 0, 0)
    assert again["unchanged_count"] == len(before) + len(
        [p for p in world.truth(target.school_id, "student") if p["mis_status"] == "active"]
    )
    assert personnel(world, target.site_id) == before


def test_incremental_picks_up_changes_deletions_and_restores(world):
    target = world.targets[0]
    import_site(world.engine, world.client, target, ImportOptions())
    active = [p for p in world.truth(target.school_id) if p["mis_status"] == "active"]
    renamed, deleted, suspended = active[0], active[1], active[2]
    school, control = target.school_id, world.control
    control.edit_person(school, renamed["id"], surname="O'Connor-Ní Bhriain")
    control.delete_person(school, deleted["id"])
    control.edit_person(school, suspended["id"], mis_status="suspended")
    hired = control.add_person(
        school, forename="Zoë", surname="D'Souza", email="z.dsouza@school.example"
    )

    summary = import_site(world.engine, world.client, target, ImportOptions())
    assert summary["kind"] == "incremental_import"
    assert summary["fetched_count"] < 10  # only what changed since the watermark
    rows = personnel(world, target.site_id)
    assert rows[renamed["id"]]["surname"] == "O'Connor-Ní Bhriain"
    assert rows[deleted["id"]]["status"] == "archived"
    assert rows[deleted["id"]]["archived_reason"] == "deleted_in_mis"
    assert rows[suspended["id"]]["status"] == "archived"
    assert rows[suspended["id"]]["archived_reason"] == "suspended"
    assert rows[hired["id"]]["status"] == "active" and rows[hired["id"]]["forename"] == "Zoë"
    assert summary["archived_count"] == 2 and summary["created_count"] == 1

    control.restore_person(school, deleted["id"])
    import_site(world.engine, world.client, target, ImportOptions())
    restored = personnel(world, target.site_id)[deleted["id"]]
    assert restored["status"] == "active" and restored["archived_reason"] is None


def add_hand_made(world, site_id: str, **values) -> int:
    t = table("personnel")
    with world.engine.begin() as conn:
        return conn.execute(
            sa.insert(t)
            .values(site_id=site_id, source="manual", status="active", **values)
            .returning(t.c.id)
        ).scalar_one()


def test_hand_made_records_untouched_and_matches_linked(world):
    target = world.targets[2]
    active = [
        p for p in world.truth(target.school_id) if p["mis_status"] == "active" and p["email"]
    ]
    match_id = add_hand_made(
        world, target.site_id, forename="Typed", surname="By Hand", email=active[0]["email"].upper()
    )
    other_id = add_hand_made(
        world, target.site_id, forename="Visiting", surname="Governor", email="governor@example.org"
    )
    import_site(world.engine, world.client, target, ImportOptions())
    t = table("personnel")
    with world.engine.connect() as conn:
        rows = {
            r["id"]: r
            for r in conn.execute(sa.select(t).where(t.c.site_id == target.site_id)).mappings()
        }
    linked = rows[match_id]
    assert (linked["source"], linked["external_id"], linked["linked_from_source"]) == (
        "wonde",
        active[0]["id"],
        "manual",
    )
    assert linked["forename"] == active[0]["forename"]
    assert sum(1 for r in rows.values() if r["external_id"] == active[0]["id"]) == 1
    other = rows[other_id]
    assert (other["source"], other["forename"], other["status"]) == ("manual", "Visiting", "active")
    # A full import archives people missing from Wonde, but never a hand-made record.
    import_site(world.engine, world.client, target, ImportOptions(full=True))
    with world.engine.connect() as conn:
        assert (
            conn.execute(sa.select(t.c.status).where(t.c.id == other_id)).scalar_one() == "active"
        )


def test_mass_archive_guard_then_approval(world):
    target = world.targets[0]
    import_site(world.engine, world.client, target, ImportOptions())
    before = personnel(world, target.site_id)
    world.control.fault(kind="empty", path_contains="/employees", times=None)
    with pytest.raises(MassArchiveBlocked, match=r"would archive .* more than the 10% allowed"):
        import_site(world.engine, world.client, target, ImportOptions(full=True))
    assert personnel(world, target.site_id) == before
    failed = sync_history.list_runs(world.engine, site_id=target.site_id)[0]
    assert failed.status == "Failed" and "approve_mass_archive" in failed.message

    summary = import_site(
        world.engine, world.client, target, ImportOptions(full=True, approve_mass_archive=True)
    )
    assert summary["archived_count"] == len(before)
    after = personnel(world, target.site_id)
    assert {r["status"] for r in after.values()} == {"archived"}
    assert {r["archived_reason"] for r in after.values()} == {"not_in_mis"}


def test_changed_school_details_are_refreshed(world):
    from wonde_sync.catalog import rebuild

    school_id = world.targets[0].school_id
    schools = table("wonde_schools")
    with world.engine.begin() as conn:
        conn.execute(
            sa.update(schools).where(schools.c.id == school_id).values(name="Old Name", mis=None)
        )
    fresh = world.client.get(f"schools/{school_id}")
    assert rebuild.refresh_schools(world.engine, [fresh]) == 1
    with world.engine.connect() as conn:
        row = conn.execute(sa.select(schools).where(schools.c.id == school_id)).mappings().one()
    assert (row["name"], row["mis"]) == (fresh["name"], fresh["mis"])
    assert rebuild.refresh_schools(world.engine, [fresh]) == 0


def test_first_import_is_full_even_with_a_since_date(world):
    from datetime import UTC, datetime

    target = world.targets[1]
    summary = import_site(
        world.engine, world.client, target, ImportOptions(since=datetime.now(UTC))
    )
    assert summary["kind"] == "full_import"
    active = {p["id"] for p in world.truth(target.school_id) if p["mis_status"] == "active"}
    assert set(personnel(world, target.site_id)) == active


def test_text_no_database_can_hold_is_made_storable(world):
    """JSON may carry NUL and lone surrogates; the import stores the rest of the name."""
    target = world.targets[0]
    person = next(p for p in world.truth(target.school_id) if p["mis_status"] == "active")
    world.control.edit_person(
        target.school_id, person["id"], forename="An\x00n", surname="O\ud800Neill"
    )
    summary = import_site(world.engine, world.client, target, ImportOptions())
    assert sync_history.get_run(world.engine, summary["run_id"]).status == "Completed"
    row = personnel(world, target.site_id)[person["id"]]
    assert (row["forename"], row["surname"]) == ("Ann", "O\ufffdNeill")


def test_an_incremental_with_nothing_changed_writes_only_its_bookkeeping(world):
    from tests.support.crash_points import count_statements

    target = world.targets[0]
    import_site(world.engine, world.client, target, ImportOptions())
    summaries = []
    statements = count_statements(
        lambda: summaries.append(import_site(world.engine, world.client, target, ImportOptions()))
    )
    assert summaries[0]["kind"] == "incremental_import" and summaries[0]["fetched_count"] == 0
    assert sync_history.get_run(world.engine, summaries[0]["run_id"]).status == "Completed"
    # The watermark read, the Processing row, the school's region, and one transaction that
    # moves the watermark and completes the run: nothing staged, applied or discarded.
    print(f"{statements} statements and commits")
    assert statements <= 10


def test_an_empty_list_reads_the_deletions_feed_once(world):
    """Nothing listed, nothing can shift: the deletions read before the list stands, and a
    deletion in it is applied."""
    target, control = world.targets[0], world.control
    import_site(world.engine, world.client, target, ImportOptions())
    control.reset_request_counts()
    import_site(world.engine, world.client, target, ImportOptions())
    assert control.requests_to("/deletions") == 2  # staff and pupils, once each
    assert control.requests_to(f"/schools/{target.school_id}/") == 4

    gone = next(p for p in control.people(target.school_id) if p["mis_status"] == "active")
    control.delete_person(target.school_id, gone["id"])
    control.reset_request_counts()
    summary = import_site(world.engine, world.client, target, ImportOptions())
    assert control.requests_to("/deletions") == 2
    assert summary["archived_count"] == 1
    row = personnel(world, target.site_id)[gone["id"]]
    assert (row["status"], row["archived_reason"]) == ("archived", "deleted_in_mis")
