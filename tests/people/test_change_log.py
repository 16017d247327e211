"""The change log says, per person, what each import did and why: the emulator's ground
truth diffed against the people rows before the run is what the log holds after it."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from tests.support.people_rows import TARGETS, people_rows
from wonde_sync.core import sync_history
from wonde_sync.core.database import table, utcnow
from wonde_sync.people import change_log
from wonde_sync.people.importer import ImportOptions, import_site

FIELDS = ("forename", "surname", "email")


def wanted(person: dict) -> tuple[str, str | None]:
    """The status and reason the MIS asks for."""
    if person["deleted"]:
        return "archived", "deleted_in_mis"
    if person["mis_status"] != "active":
        return "archived", person["mis_status"]
    return "active", None


def known(person: dict) -> tuple[str, ...]:
    """The fields the ground truth settles: without a school address, the import may use a
    home one, which the ground truth does not show."""
    return FIELDS if person["email"] else FIELDS[:2]


def ground_truth_diff(world, target, record_type: str, rows: dict) -> dict[str, tuple]:
    """{Wonde id: (action, reason, {field: (before, after)})} from the MIS and the rows."""
    diff = {}
    for person in world.truth(target.school_id, record_type):
        status, reason = wanted(person)
        row = rows.get(person["id"])
        if row is None:
            if status == "active":
                diff[person["id"]] = (
                    "created",
                    None,
                    {f: (None, person[f]) for f in known(person)},
                )
        elif status == "archived" and row["status"] == "active":
            diff[person["id"]] = ("archived", reason, {"status": ("active", "archived")})
        elif status == "active" and row["status"] == "archived":
            diff[person["id"]] = ("reactivated", "reactivated", {"status": ("archived", "active")})
        elif status == "active":
            fields = {f: (row[f], person[f]) for f in known(person) if row[f] != person[f]}
            if fields:
                diff[person["id"]] = ("updated", None, fields)
    return diff


def logged(world, run_id: int, record_type: str) -> dict[str, tuple]:
    changes = table(change_log.CHANGES)
    with world.engine.connect() as conn:
        rows = conn.execute(
            sa.select(changes).where(
                changes.c.sync_run_id == run_id, changes.c.record_type == record_type
            )
        ).mappings()
        return {
            r["external_id"]: (
                r["action"],
                r["reason"],
                {
                    f: (r[f"before_{f}"], r[f"after_{f}"])
                    for f in (*FIELDS, "status")
                    if r[f"before_{f}"] != r[f"after_{f}"]
                },
            )
            for r in rows
        }


def run_and_compare(world, target, options: ImportOptions) -> int:
    before = {t: people_rows(world, target.site_id, t) for t in TARGETS}
    expected = {t: ground_truth_diff(world, target, t, before[t]) for t in TARGETS}
    run_id = import_site(world.engine, world.client, target, options)["run_id"]
    for record_type in TARGETS:
        got = logged(world, run_id, record_type)
        for external_id, (action, _, fields) in got.items():
            if action == "created":  # from nothing to active: the diff names the fields
                fields.pop("status")
            if "email" not in expected[record_type].get(external_id, ("", "", {"email": 0}))[2]:
                fields.pop("email", None)
        assert got == expected[record_type], record_type
    return run_id


def test_the_change_log_is_the_ground_truth_diff_of_every_run(world):
    target = world.targets[0]
    school, control = target.school_id, world.control
    first = run_and_compare(world, target, ImportOptions())
    assert len(logged(world, first, "employee")) > 10

    active = [p for p in world.truth(school) if wanted(p)[0] == "active"]
    control.edit_person(school, active[0]["id"], surname="O'Connor-Ní Bhriain")
    control.edit_person(school, active[1]["id"], email="new.address@school.example")
    control.delete_person(school, active[2]["id"])
    control.edit_person(school, active[3]["id"], mis_status="suspended")
    control.edit_person(school, active[4]["id"], mis_status="archived")
    control.add_person(school, forename="Zoë", surname="D'Souza", email="z.dsouza@school.example")
    pupil = next(p for p in world.truth(school, "student") if wanted(p)[0] == "active")
    control.edit_person(school, pupil["id"], "student", forename="Siân")
    second = run_and_compare(world, target, ImportOptions())
    assert {a for a, _, _ in logged(world, second, "employee").values()} == {
        "created",
        "updated",
        "archived",
    }

    control.restore_person(school, active[2]["id"])
    control.edit_person(school, active[3]["id"], mis_status="active")
    third = run_and_compare(world, target, ImportOptions(full=True))
    assert [a for a, _, _ in logged(world, third, "employee").values()] == ["reactivated"] * 2


def test_each_change_points_at_its_person_and_keeps_the_row_as_it_was(world):
    target = world.targets[1]
    run_id = import_site(world.engine, world.client, target, ImportOptions())["run_id"]
    leaver = next(p for p in world.truth(target.school_id) if wanted(p)[0] == "active")
    world.control.delete_person(target.school_id, leaver["id"])
    was = people_rows(world, target.site_id, "employee")[leaver["id"]]
    later = import_site(world.engine, world.client, target, ImportOptions())["run_id"]

    changes = table(change_log.CHANGES)
    with world.engine.connect() as conn:
        created = conn.execute(
            sa.select(changes.c.person_id, changes.c.external_id).where(
                changes.c.sync_run_id == run_id, changes.c.record_type == "employee"
            )
        ).all()
        archived = (
            conn.execute(sa.select(changes).where(changes.c.sync_run_id == later)).mappings().one()
        )
    rows = people_rows(world, target.site_id, "employee")
    assert {(rows[e]["id"], e) for _, e in created} == set(created)
    assert archived["person_id"] == was["id"] and archived["action"] == "archived"
    for column in ("source", "content_hash", "archived_at", "updated_at", "last_sync_run_id"):
        assert archived[f"before_{column}"] == was[column], column


def test_a_linked_record_is_logged_with_the_field_that_matched(world):
    target = world.targets[2]
    person = next(
        p for p in world.truth(target.school_id) if wanted(p)[0] == "active" and p["email"]
    )
    with world.engine.begin() as conn:
        hand_made = conn.execute(
            sa.insert(table("personnel"))
            .values(
                site_id=target.site_id,
                source="manual",
                status="active",
                forename="Typed",
                surname="By Hand",
                email=person["email"].upper(),
            )
            .returning(table("personnel").c.id)
        ).scalar_one()
    run_id = import_site(world.engine, world.client, target, ImportOptions())["run_id"]
    changes = table(change_log.CHANGES)
    with world.engine.connect() as conn:
        rows = (
            conn.execute(
                sa.select(changes)
                .where(
                    changes.c.sync_run_id == run_id,
                    changes.c.record_type == "employee",
                    changes.c.person_id == hand_made,
                )
                .order_by(changes.c.id)
            )
            .mappings()
            .all()
        )
    assert [(r["action"], r["reason"]) for r in rows] == [
        ("linked", "linked_by_email"),
        ("updated", None),
    ]
    assert (rows[0]["before_source"], rows[0]["before_external_id"]) == ("manual", None)
    assert (rows[1]["before_forename"], rows[1]["after_forename"]) == ("Typed", person["forename"])


def test_old_changes_are_pruned_after_the_retention(world, monkeypatch):
    target = world.targets[0]
    run_id = import_site(world.engine, world.client, target, ImportOptions())["run_id"]
    changes = table(change_log.CHANGES)
    assert change_log.prune(world.engine) == 0
    with world.engine.begin() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(changes)).scalar_one()
        aged = conn.execute(
            sa.update(changes)
            .where(changes.c.sync_run_id == run_id, changes.c.record_type == "student")
            .values(created_at=utcnow() - timedelta(days=31))
        ).rowcount
    assert 0 < aged < total
    monkeypatch.setenv(change_log.RETENTION_ENV, "30")
    assert change_log.prune(world.engine) == aged
    with world.engine.connect() as conn:
        left = conn.execute(sa.select(sa.func.count()).select_from(changes)).scalar_one()
    assert left == total - aged


def test_an_import_without_the_log_writes_none(world):
    target = world.targets[0]
    import_site(world.engine, world.client, target, ImportOptions(log_changes=False))
    with world.engine.connect() as conn:
        count = conn.execute(
            sa.select(sa.func.count()).select_from(table(change_log.CHANGES))
        ).scalar_one()
    assert count == 0


def table_rows(world, site_id: str) -> dict[str, list]:
    """Every row of the site's people and watermark, in a comparable form."""
    found = {}
    for name in ("personnel", "pupils", "wonde_site_watermarks"):
        t = table(name)
        with world.engine.connect() as conn:
            found[name] = sorted(
                tuple(r) for r in conn.execute(sa.select(t).where(t.c.site_id == site_id))
            )
    return found


def test_a_preview_logs_its_plan_and_changes_nobody(world):
    target = world.targets[0]
    school, control = target.school_id, world.control
    import_site(world.engine, world.client, target, ImportOptions())
    active = [p for p in world.truth(school) if wanted(p)[0] == "active"]
    control.edit_person(school, active[0]["id"], surname="Previewed")
    control.delete_person(school, active[1]["id"])
    control.add_person(school, forename="New", surname="Starter", email="new@school.example")
    before = table_rows(world, target.site_id)

    preview = run_and_compare(world, target, ImportOptions(dry_run=True))
    assert table_rows(world, target.site_id) == before
    changes = table(change_log.CHANGES)
    with world.engine.connect() as conn:
        flags = set(
            conn.execute(
                sa.select(changes.c.planned).where(changes.c.sync_run_id == preview)
            ).scalars()
        )
    assert flags == {True}
    run = sync_history.get_run(world.engine, preview)
    assert (run.kind, run.status) == ("import_preview", "Completed")
    assert run.message.startswith("Preview of an incremental import: nothing was applied")
    assert (run.counts["created_count"], run.counts["updated_count"]) == (1, 1)

    # The import that follows makes the changes the preview planned.
    applied = run_and_compare(world, target, ImportOptions())
    for record_type in TARGETS:
        assert logged(world, applied, record_type) == logged(world, preview, record_type)


def test_a_preview_says_the_guard_would_hold_the_run(world):
    target = world.targets[1]
    import_site(world.engine, world.client, target, ImportOptions())
    before = table_rows(world, target.site_id)
    world.control.fault(kind="empty", path_contains="/employees", times=None)
    summary = import_site(
        world.engine, world.client, target, ImportOptions(full=True, dry_run=True)
    )
    assert "The mass-archive guard would hold this run." in summary["message"]
    assert summary["archived_count"] == len(before["personnel"])
    assert table_rows(world, target.site_id) == before
