"""Imports while the school's MIS changes between two page requests, on both databases.

Wonde pages by offset: a deletion in front of the reader shifts later pages back (someone
is skipped), a restore shifts them forward (someone is read twice). The emulator applies
such a change exactly between two pages (``EmulatorControl.change_after``).
"""

from __future__ import annotations

from collections import Counter

import pytest
import sqlalchemy as sa

from tests.support.people_rows import personnel
from wonde_sync.core import sync_history
from wonde_sync.core.database import table
from wonde_sync.people.importer import ImportOptions, import_site, watermark
from wonde_sync.people.store import MassArchiveBlocked


def paged_client(per_page: int):
    """A Wonde client asking for small pages, so a school's staff span several."""
    from wonde_sync.wonde.client import WondeClient

    return WondeClient(per_page=per_page, backoff_initial=0.01, backoff_max=0.05)


def active_ids(world, site_id: str) -> set[str]:
    return {i for i, r in personnel(world, site_id).items() if r["status"] == "active"}


def truly_active(world, school_id: str) -> set[str]:
    return {
        p["id"] for p in world.truth(school_id) if p["mis_status"] == "active" and not p["deleted"]
    }


def run_issues(world, run_id: int) -> list[tuple]:
    t = table("wonde_sync_issues")
    with world.engine.connect() as conn:
        return conn.execute(
            sa.select(t.c.external_id, t.c.reason).where(t.c.sync_run_id == run_id)
        ).all()


def staff_in_mis_order(world, school_id: str, *, make_active: tuple[int, ...] = ()) -> list[str]:
    """The school's staff ids as Wonde lists them; those at ``make_active`` made active."""
    truth = world.truth(school_id)
    for position in make_active:
        if truth[position]["mis_status"] != "active":
            world.control.edit_person(school_id, truth[position]["id"], mis_status="active")
    return [p["id"] for p in truth]


def test_a_deletion_while_paging_a_full_import_archives_nobody_wrongly(world):
    target, control = world.targets[0], world.control
    school = target.school_id
    staff = staff_in_mis_order(world, school, make_active=(3, 10))
    import_site(world.engine, world.client, target, ImportOptions())
    mark = watermark(world.engine, target.site_id)
    gone, skipped = staff[3], staff[10]
    # Page 1 (10 people) lists `gone`; deleted then, page 2 starts at `staff[11]`.
    control.change_after(1, "/employees", "delete", school, gone)

    summary = import_site(world.engine, paged_client(10), target, ImportOptions(full=True))

    run = sync_history.get_run(world.engine, summary["run_id"])
    assert run.status == "Completed"
    rows = personnel(world, target.site_id)
    assert rows[skipped]["status"] == "active" and rows[skipped]["archived_reason"] is None
    assert (rows[gone]["status"], rows[gone]["archived_reason"]) == ("archived", "deleted_in_mis")
    assert active_ids(world, target.site_id) == truly_active(world, school)
    assert "not_in_mis" not in {r["archived_reason"] for r in rows.values()}
    assert control.requests_to(f"/employees/{skipped}") == 1
    # Everyone Wonde had when the run began was read once: 40 staff and 30 pupils.
    assert (run.counts["fetched_count"], run.counts["archived_count"]) == (70, 1)
    assert run.counts["rejected_count"] == 0
    listed = [p for p in world.truth(school) if not p["deleted"]]
    expected = Counter(p["mis_status"] for p in listed if p["mis_status"] != "active")
    assert summary["filtered"]["employee"] == {**expected, "deleted_in_mis": 1}
    assert "changed while its pages were read" in run.message
    assert "1 missing from the lists were found by looking them up" in run.message
    assert watermark(world.engine, target.site_id) == mark


def test_a_restore_while_paging_a_full_import_brings_the_person_back(world):
    target, control = world.targets[1], world.control
    school = target.school_id
    staff = staff_in_mis_order(world, school, make_active=(2,))
    back = staff[2]
    import_site(world.engine, world.client, target, ImportOptions())
    control.delete_person(school, back)
    import_site(world.engine, world.client, target, ImportOptions())
    assert personnel(world, target.site_id)[back]["archived_reason"] == "deleted_in_mis"
    # Restored in front of the reader: never listed, and page 2 repeats page 1's last.
    control.change_after(1, "/employees", "restore", school, back)

    summary = import_site(world.engine, paged_client(10), target, ImportOptions(full=True))

    run = sync_history.get_run(world.engine, summary["run_id"])
    assert run.status == "Completed"
    restored = personnel(world, target.site_id)[back]
    assert (restored["status"], restored["archived_reason"]) == ("active", None)
    assert active_ids(world, target.site_id) == truly_active(world, school)
    assert run_issues(world, run.id) == []  # the repeated record is no duplicate
    assert (run.counts["rejected_count"], run.counts["archived_count"]) == (0, 0)
    assert run.counts["fetched_count"] == 70 and run.counts["created_count"] == 0
    assert "1 missing from the lists were found by looking them up" in run.message


def test_an_incremental_with_drift_keeps_its_watermark_and_the_next_run_reads_the_change(world):
    target, control = world.targets[2], world.control
    school = target.school_id
    staff = staff_in_mis_order(world, school, make_active=(0, 1, 2, 3))
    import_site(world.engine, world.client, target, ImportOptions())
    mark = watermark(world.engine, target.site_id)
    a, b, c, d = staff[:4]
    for person, surname in zip((a, b, c, d), ("Ash", "Birch", "Cedar", "Damson"), strict=True):
        control.edit_person(school, person, surname=surname)
    # The window lists a, b | c, d; `a` goes after page 1, so page 2 is just d: c is skipped.
    control.change_after(1, "/employees", "delete", school, a)

    first = import_site(world.engine, paged_client(2), target, ImportOptions())

    run = sync_history.get_run(world.engine, first["run_id"])
    assert (run.status, run.kind) == ("Completed", "incremental_import")
    rows = personnel(world, target.site_id)
    assert rows[c]["surname"] != "Cedar"  # pages shifted: this run never saw c's change
    assert (rows[b]["surname"], rows[d]["surname"]) == ("Birch", "Damson")
    assert rows[a]["archived_reason"] == "deleted_in_mis"
    assert watermark(world.engine, target.site_id) == mark
    assert f"the watermark stays at {mark:%Y-%m-%d %H:%M} UTC" in run.message

    second = import_site(world.engine, paged_client(2), target, ImportOptions())

    assert personnel(world, target.site_id)[c]["surname"] == "Cedar"
    later = sync_history.get_run(world.engine, second["run_id"])
    assert later.window_start == run.window_start  # the same window, read again
    assert watermark(world.engine, target.site_id) == later.started_at > mark
    assert "changed while" not in later.message
    truth = {p["id"]: p for p in world.truth(school)}
    for ext_id, row in personnel(world, target.site_id).items():
        assert row["surname"] == truth[ext_id]["surname"] or ext_id == a  # a's a deletion


def test_a_restore_while_paging_an_incremental_is_imported_by_that_run(world):
    target, control = world.targets[0], world.control
    school = target.school_id
    staff = staff_in_mis_order(world, school, make_active=(0, 1, 2))
    back, first, second = staff[:3]
    import_site(world.engine, world.client, target, ImportOptions())
    control.delete_person(school, back)
    import_site(world.engine, world.client, target, ImportOptions())
    control.edit_person(school, first, surname="Elm")
    control.edit_person(school, second, surname="Fir")
    control.change_after(1, "/employees", "restore", school, back)

    summary = import_site(world.engine, paged_client(1), target, ImportOptions())

    row = personnel(world, target.site_id)[back]
    assert (row["status"], row["archived_reason"]) == ("active", None)
    assert summary["rejected_count"] == 0
    assert personnel(world, target.site_id)[second]["surname"] == "Fir"


def test_no_lookups_when_the_mass_archive_guard_refuses_anyway(world):
    target, control = world.targets[1], world.control
    import_site(world.engine, world.client, target, ImportOptions())
    control.fault(kind="empty", path_contains="/employees", times=None)
    control.reset_request_counts()
    with pytest.raises(MassArchiveBlocked):
        import_site(world.engine, world.client, target, ImportOptions(full=True))
    assert control.requests_to("/employees/") == 0
    assert control.requests_to("/employees") == 1
