"""Undoing an import from its change log, on PostgreSQL and SQLite."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa

from tests.support.people_rows import personnel
from wonde_sync.core import sync_history
from wonde_sync.core.database import table
from wonde_sync.people.importer import ImportOptions, import_site
from wonde_sync.people.undo import UndoRefused, undo_run


def people_hash(world, site_id: str) -> str:
    """A digest of every column of the site's staff and pupils rows."""
    digest = hashlib.sha256()
    for name in ("personnel", "pupils"):
        t = table(name)
        with world.engine.connect() as conn:
            rows = conn.execute(sa.select(t).where(t.c.site_id == site_id).order_by(t.c.id))
            for row in rows:
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def active_people(world, school_id: str, kind: str = "employee") -> list[dict]:
    return [
        p for p in world.truth(school_id, kind) if p["mis_status"] == "active" and not p["deleted"]
    ]


def test_undo_restores_the_tables_byte_for_byte(world):
    target = world.targets[0]
    school, control = target.school_id, world.control
    import_site(world.engine, world.client, target, ImportOptions())
    before = people_hash(world, target.site_id)
    active = active_people(world, school)
    control.edit_person(school, active[0]["id"], surname="Renamed")
    control.edit_person(school, active[1]["id"], mis_status="suspended")
    control.delete_person(school, active[2]["id"])
    pupil = active_people(world, school, "student")[0]
    control.edit_person(school, pupil["id"], "student", email="new.pupil@school.example")
    run_id = import_site(world.engine, world.client, target, ImportOptions())["run_id"]
    after_run = people_hash(world, target.site_id)
    assert after_run != before

    report = undo_run(world.engine, run_id)
    assert (report.reverted, report.archived, report.refused) == (4, 0, [])
    assert people_hash(world, target.site_id) == before
    undo = sync_history.get_run(world.engine, report.undo_run_id)
    assert (undo.kind, undo.status) == ("undo", "Completed")
    assert undo.message.startswith(f"Undid run #{run_id}: 4 change(s) reverted")
    with pytest.raises(UndoRefused, match=f"undone already, by run #{report.undo_run_id}"):
        undo_run(world.engine, run_id)

    # The MIS still says so: the next import changes them again, and says why.
    again = import_site(world.engine, world.client, target, ImportOptions(full=True))
    assert "4 of these changes reapply what an undo had reverted" in again["message"]
    assert people_hash(world, target.site_id) != before


def test_created_people_are_archived_as_undone(world):
    target = world.targets[1]
    import_site(world.engine, world.client, target, ImportOptions())
    hired = world.control.add_person(
        target.school_id, forename="New", surname="Starter", email="new@school.example"
    )
    run_id = import_site(world.engine, world.client, target, ImportOptions())["run_id"]
    report = undo_run(world.engine, run_id)
    assert (report.reverted, report.archived) == (1, 1)
    row = personnel(world, target.site_id)[hired["id"]]
    assert (row["status"], row["archived_reason"]) == ("archived", "undone")


def test_people_changed_since_are_left_alone_with_the_reason(world):
    target = world.targets[2]
    school, control = target.school_id, world.control
    import_site(world.engine, world.client, target, ImportOptions())
    first, second, third = active_people(world, school)[:3]
    for person in (first, second, third):
        control.edit_person(school, person["id"], surname="Changed")
    run_id = import_site(world.engine, world.client, target, ImportOptions())["run_id"]
    control.edit_person(school, first["id"], surname="Changed Again")
    later = import_site(world.engine, world.client, target, ImportOptions())["run_id"]
    staff_table = table("personnel")
    with world.engine.begin() as conn:  # an edit in CalmCompliance itself
        conn.execute(
            sa.update(staff_table)
            .where(
                staff_table.c.site_id == target.site_id, staff_table.c.external_id == second["id"]
            )
            .values(surname="Typed In")
        )

    report = undo_run(world.engine, run_id)
    assert report.reverted == 1
    assert {(ext, why) for _, ext, _, why in report.refused} == {
        (first["id"], f"run #{later} changed them later"),
        (second["id"], "their surname changed since"),
    }
    rows = personnel(world, target.site_id)
    assert rows[third["id"]]["surname"] == third["surname"]
    assert rows[first["id"]]["surname"] == "Changed Again"
    assert rows[second["id"]]["surname"] == "Typed In"


def test_only_a_completed_import_can_be_undone(world):
    target = world.targets[0]
    import_site(world.engine, world.client, target, ImportOptions())
    preview = import_site(world.engine, world.client, target, ImportOptions(dry_run=True))
    with pytest.raises(UndoRefused, match="only a completed full or incremental import"):
        undo_run(world.engine, preview["run_id"])
    with pytest.raises(UndoRefused, match="There is no run #999999"):
        undo_run(world.engine, 999999)
