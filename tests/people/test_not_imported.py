"""People the filters leave out from their first sight are kept, with the rule and when they
were last read, until an import imports them; a preview keeps nobody."""

from __future__ import annotations

import sqlalchemy as sa

from tests.people.test_change_log import wanted
from wonde_sync.core.database import table
from wonde_sync.monitoring.changes import never_imported
from wonde_sync.people.importer import ImportOptions, import_site


def kept(world, site_id: str) -> dict[str, tuple]:
    t = table("wonde_people_not_imported")
    with world.engine.connect() as conn:
        rows = conn.execute(
            sa.select(t).where(t.c.site_id == site_id, t.c.record_type == "employee")
        ).mappings()
        return {
            r["external_id"]: (r["reason"], r["first_sync_run_id"], r["last_sync_run_id"])
            for r in rows
        }


def test_people_left_out_from_first_sight_are_kept_until_imported(world):
    target = world.targets[0]
    school, control = target.school_id, world.control
    first = import_site(world.engine, world.client, target, ImportOptions())["run_id"]
    left_out = {p["id"]: wanted(p)[1] for p in world.truth(school) if wanted(p)[0] == "archived"}
    assert len(left_out) >= 2
    assert kept(world, target.site_id) == {e: (r, first, first) for e, r in left_out.items()}

    # An admin finds one by name: the rule, and the run that last read them.
    one = next(p for p in world.truth(school) if p["id"] in left_out)
    found = never_imported(world.engine, target.site_id, one["surname"].upper())
    assert (one["id"], left_out[one["id"]], first) in {
        (p.external_id, p.reason, p.last_run_id) for p in found
    }
    assert never_imported(world.engine, world.targets[1].site_id, one["id"]) == []

    # A full import reads them again: still kept, last seen by it. A preview keeps nobody.
    second = import_site(world.engine, world.client, target, ImportOptions(full=True))["run_id"]
    assert kept(world, target.site_id) == {e: (r, first, second) for e, r in left_out.items()}
    newcomer = control.add_person(school, forename="Previewed", surname="Suspended")["id"]
    control.edit_person(school, newcomer, mis_status="suspended")
    import_site(world.engine, world.client, target, ImportOptions(dry_run=True))
    assert kept(world, target.site_id) == {e: (r, first, second) for e, r in left_out.items()}

    # Active in the MIS again: imported, and no longer kept.
    if one["deleted"]:
        control.restore_person(school, one["id"])
    control.edit_person(school, one["id"], mis_status="active", end_date=None)
    third = import_site(world.engine, world.client, target, ImportOptions())["run_id"]
    now_kept = kept(world, target.site_id)
    assert one["id"] not in now_kept
    staff = table("personnel")
    with world.engine.connect() as conn:
        status = conn.execute(
            sa.select(staff.c.status).where(staff.c.external_id == one["id"])
        ).scalar_one()
    assert status == "active"
    assert now_kept.pop(newcomer) == ("suspended", third, third)
    assert now_kept == {e: (r, first, second) for e, r in left_out.items() if e != one["id"]}
