"""Benchmark: what the per-person change log costs an import, on PostgreSQL.

``--schools`` schools (default 200) with ``--staff`` staff each (default 150; the emulator in
another process), one site per school. The sites are dealt alternately into two halves:
one imports with the change log, the other without (``ImportOptions.log_changes``), the
sites of the two taking turns so that both see the same machine. Two passes: every site's
first (full) import, where everyone is created and logged, then an incremental after
``--changed-pct`` (default 1) of the staff changed in the MIS, and a forced full re-import
with nothing changed. Prints seconds per pass for each half, the change rows written, and
the overhead. Usage: ``python bench/change_log.py [--schools 200] [--staff 150]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from many_sites import change_staff
from site_world import connect_sites, sites_world

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    """Import both halves in each pass, taking turns, and print the overhead."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--schools", type=int, default=200)
    parser.add_argument("--staff", type=int, default=150)
    parser.add_argument("--changed-pct", type=float, default=1.0)
    args = parser.parse_args()

    with sites_world(args.schools, args.staff, 0.0, "bench_change_log") as world:
        import sqlalchemy as sa

        from wonde_sync.core.database import table
        from wonde_sync.people.importer import ImportOptions, import_site
        from wonde_sync.school_access.import_targets import import_target

        connect_sites(world)
        with world.engine.connect() as conn:
            site_ids = sorted(
                conn.execute(sa.select(table("wonde_connections").c.site_id)).scalars()
            )
        halves = {True: site_ids[0::2], False: site_ids[1::2]}

        def changes_written() -> int:
            with world.engine.connect() as conn:
                rows = sa.select(sa.func.count()).select_from(table("wonde_person_changes"))
                return conn.execute(rows).scalar_one()

        def one_pass(label: str, full: bool) -> None:
            took = {True: 0.0, False: 0.0}
            before = changes_written()
            for pair in zip(halves[True], halves[False], strict=False):
                for logged, site_id in zip((True, False), pair, strict=True):
                    with world.engine.begin() as conn:
                        target = import_target(conn, site_id)
                    started = time.perf_counter()
                    import_site(
                        world.engine,
                        world.client,
                        target,
                        ImportOptions(full=full, log_changes=logged),
                    )
                    took[logged] += time.perf_counter() - started
            overhead = took[True] / took[False] - 1
            print(
                f"{label:<28}{took[False]:>10.2f}{took[True]:>10.2f}"
                f"{changes_written() - before:>10}{overhead:>+11.1%}",
                flush=True,
            )

        print(
            f"\n{len(site_ids)} sites x {args.staff} staff; seconds per half "
            f"({len(halves[True])} sites each)"
        )
        print(f"{'pass':<28}{'no log':>10}{'log':>10}{'rows':>10}{'overhead':>11}")
        one_pass("first import (full)", full=False)

        schools = [s["id"] for s in world.schools]
        change_staff(world.wonde_url, schools, args.changed_pct / 100)
        one_pass(f"incremental, {args.changed_pct:g}% changed", full=False)
        one_pass("full re-import, no change", full=True)


if __name__ == "__main__":
    main()
