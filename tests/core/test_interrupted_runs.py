"""A run whose task was killed does not stay Processing: the next run or attempt closes it."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from tests.school_access.conftest import CONTACT, lifecycle_env, world  # noqa: F401
from wonde_sync.core import interrupted_runs, sync_history
from wonde_sync.core.database import table, utcnow
from wonde_sync.core.interrupted_runs import INTERRUPTED, STALE_AFTER
from wonde_sync.school_access import admin_actions
from wonde_sync.school_access.transitions import record_approval
from wonde_sync.tasks import catalog_steps, import_steps

FULL_SYNC = "wonde_schools_full_sync"
INCREMENTAL = "wonde_incremental_sync"


def killed_run(engine, kind, *, site_id=None, dag_id=FULL_SYNC, age=timedelta(minutes=5)) -> int:
    """A Processing row with staging rows of its work (schools for the catalog, people for
    a site), as a worker killed mid-run leaves them."""
    run_id = sync_history.start_run(
        engine,
        kind,
        site_id=site_id,
        dag_id=dag_id,
        dag_run_id="scheduled__killed",
        started_at=utcnow() - age,
    )
    with engine.begin() as conn:
        if kind == sync_history.CATALOG:
            conn.execute(
                table("wonde_schools_staging").insert().values(sync_run_id=run_id, id="X1")
            )
        else:
            conn.execute(
                table("wonde_people_staging")
                .insert()
                .values(
                    sync_run_id=run_id,
                    record_type="employee",
                    external_id="E1",
                    desired_status="active",
                )
            )
    return run_id


def staged_runs(engine) -> set[int]:
    with engine.connect() as conn:
        return {
            run_id
            for name in ("wonde_schools_staging", "wonde_people_staging")
            for run_id in conn.execute(sa.select(table(name).c.sync_run_id)).scalars()
        }


def test_the_next_catalog_run_closes_a_killed_one_and_its_staging(engine):
    killed = killed_run(engine, sync_history.CATALOG)
    # Another DAG's run that started just now may be alive: it is left alone.
    other = killed_run(engine, sync_history.CATALOG, dag_id="someone_else")

    begun = catalog_steps.begin(FULL_SYNC, "manual__next")

    closed = sync_history.get_run(engine, killed)
    assert (closed.status, closed.message) == ("Failed", INTERRUPTED)
    assert closed.finished_at is not None
    assert sync_history.get_run(engine, other).status == "Processing"
    assert sync_history.get_run(engine, begun["run_id"]).status == "Processing"
    assert staged_runs(engine) == {other}


def test_a_retried_import_closes_the_killed_attempt(world):  # noqa: F811
    school = world.schools[5]
    admin_actions.request_access(world.engine, world.client(), "site-a", school, CONTACT)
    token = world.control.approve(school)["school_token"]
    record_approval(world.engine, school, token)
    engine = world.engine
    killed = killed_run(engine, sync_history.INCREMENTAL_IMPORT, site_id="site-a")
    # Any owner's run older than any task may run has no owner left.
    stale = killed_run(
        engine,
        sync_history.FULL_IMPORT,
        site_id="site-a",
        dag_id=INCREMENTAL,
        age=STALE_AFTER + timedelta(minutes=1),
    )
    elsewhere = killed_run(engine, sync_history.FULL_IMPORT, site_id="site-b")

    import_steps.import_one_site("site-a", full=True, dag_id=FULL_SYNC, dag_run_id="r2")

    for run_id in (killed, stale):
        run = sync_history.get_run(engine, run_id)
        assert (run.status, run.message) == ("Failed", INTERRUPTED), run_id
    assert sync_history.get_run(engine, elsewhere).status == "Processing"
    runs = sync_history.list_runs(engine, site_id="site-a", kind=sync_history.FULL_IMPORT)
    assert runs[0].status == "Completed" and runs[0].counts["fetched_count"] > 0
    assert staged_runs(engine) == {elsewhere}


def test_under_the_site_lock_every_processing_import_of_the_site_is_closed(world):  # noqa: F811
    school = world.schools[5]
    admin_actions.request_access(world.engine, world.client(), "site-a", school, CONTACT)
    record_approval(world.engine, school, world.control.approve(school)["school_token"])
    engine = world.engine
    # Another DAG's attempt, started a minute ago: without the lock it may be alive...
    recent = killed_run(
        engine,
        sync_history.INCREMENTAL_IMPORT,
        site_id="site-a",
        dag_id=INCREMENTAL,
        age=timedelta(minutes=1),
    )
    assert (
        interrupted_runs.close_interrupted(
            engine, sync_history.FULL_IMPORT, site_id="site-a", dag_id=FULL_SYNC
        )
        == []
    )
    assert sync_history.get_run(engine, recent).status == "Processing"
    elsewhere = killed_run(engine, sync_history.FULL_IMPORT, site_id="site-b", dag_id=INCREMENTAL)

    # ... but an import holds the site's lock, which every live import of it would hold.
    import_steps.import_one_site("site-a", full=True, dag_id=FULL_SYNC, dag_run_id="r3")

    run = sync_history.get_run(engine, recent)
    assert (run.status, run.message) == ("Failed", INTERRUPTED)
    assert sync_history.get_run(engine, elsewhere).status == "Processing"
    assert staged_runs(engine) == {elsewhere}


def test_a_locked_sweep_closes_rows_of_any_age_and_dag_of_that_work_only(engine):
    young = killed_run(engine, sync_history.INCREMENTAL_IMPORT, site_id="s1", dag_id="other")
    other_site = killed_run(engine, sync_history.FULL_IMPORT, site_id="s2", dag_id="other")
    catalog = killed_run(engine, sync_history.CATALOG, dag_id="other")
    closed = interrupted_runs.close_interrupted(
        engine, sync_history.FULL_IMPORT, site_id="s1", work_locked=True
    )
    assert closed == [young]
    assert sync_history.get_run(engine, young).message == INTERRUPTED
    assert sync_history.get_run(engine, other_site).status == "Processing"
    assert sync_history.get_run(engine, catalog).status == "Processing"
    assert staged_runs(engine) == {other_site, catalog}
