"""A run the mass-archive guard held keeps its plan; approving applies exactly that plan."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.support.people_rows import personnel
from wonde_sync.core import sync_history
from wonde_sync.core.database import table
from wonde_sync.people.approval import ApprovalRefused, approve_run
from wonde_sync.people.importer import ImportOptions, import_site
from wonde_sync.people.store import MassArchiveBlocked


def changes_of(world, run_id: int) -> set[tuple]:
    changes = table("wonde_person_changes")
    with world.engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                changes.c.record_type,
                changes.c.external_id,
                changes.c.action,
                changes.c.reason,
                changes.c.planned,
            ).where(changes.c.sync_run_id == run_id)
        )
        return {tuple(r) for r in rows}


def held_run(world, target) -> int:
    """A full import that would archive every member of staff: the guard holds it."""
    world.control.fault(kind="empty", path_contains="/employees", times=None)
    with pytest.raises(MassArchiveBlocked):
        import_site(world.engine, world.client, target, ImportOptions(full=True))
    world.control.clear_faults()
    return sync_history.list_runs(world.engine, site_id=target.site_id)[0].id


def test_approving_a_held_run_applies_exactly_its_plan_once(world):
    target = world.targets[0]
    import_site(world.engine, world.client, target, ImportOptions())
    before = personnel(world, target.site_id)
    run_id = held_run(world, target)
    held = sync_history.get_run(world.engine, run_id)
    assert held.status == "Failed" and f"approve-run {run_id}" in held.message
    # Reviewing the kept plan comes first; a new run that applies what it finds, second.
    assert held.message.index(f"approve-run {run_id}") < held.message.index("approve_mass_archive")
    assert personnel(world, target.site_id) == before
    plan = changes_of(world, run_id)
    assert {(ext, action, reason) for _, ext, action, reason, _ in plan} == {
        (ext, "archived", "not_in_mis") for ext in before
    }
    assert {planned for *_, planned in plan} == {True}

    approval, applied = approve_run(world.engine, run_id)
    assert applied == len(plan) == len(before)
    after = personnel(world, target.site_id)
    assert {(r["status"], r["archived_reason"]) for r in after.values()} == {
        ("archived", "not_in_mis")
    }
    assert {(t, e, a, r) for t, e, a, r, _ in changes_of(world, approval)} == {
        (t, e, a, r) for t, e, a, r, _ in plan
    }
    run = sync_history.get_run(world.engine, approval)
    assert (run.kind, run.status, run.counts["archived_count"]) == (
        "full_import",
        "Completed",
        len(before),
    )
    with pytest.raises(ApprovalRefused, match=f"applied already, by run #{approval}"):
        approve_run(world.engine, run_id)


def test_a_plan_is_refused_once_the_sites_people_changed(world):
    target = world.targets[1]
    import_site(world.engine, world.client, target, ImportOptions())
    run_id = held_run(world, target)
    someone = next(iter(personnel(world, target.site_id).values()))
    staff_table = table("personnel")
    with world.engine.begin() as conn:  # an edit in CalmCompliance itself
        conn.execute(
            sa.update(staff_table).where(staff_table.c.id == someone["id"]).values(surname="Typed")
        )
    with pytest.raises(ApprovalRefused, match=r"changed since run #\d+ made its plan: preview"):
        approve_run(world.engine, run_id)

    with world.engine.begin() as conn:
        conn.execute(
            sa.update(staff_table)
            .where(staff_table.c.id == someone["id"])
            .values(surname=someone["surname"])
        )
    world.control.edit_person(target.school_id, someone["external_id"], surname="Later")
    later = import_site(world.engine, world.client, target, ImportOptions())["run_id"]
    with pytest.raises(ApprovalRefused, match=f"people changed since .* \\(run #{later}\\)"):
        approve_run(world.engine, run_id)
    assert personnel(world, target.site_id)[someone["external_id"]]["status"] == "active"


def test_only_a_held_run_can_be_approved(world):
    target = world.targets[2]
    done = import_site(world.engine, world.client, target, ImportOptions())["run_id"]
    with pytest.raises(ApprovalRefused, match="not an import the mass-archive guard held"):
        approve_run(world.engine, done)
