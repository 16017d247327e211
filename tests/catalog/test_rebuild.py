"""The catalog store on PostgreSQL and SQLite: staging, checks, atomic publish, search."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from wonde_sync.catalog import queries, rebuild
from wonde_sync.core import sync_history
from wonde_sync.core.database import apply_schema, table


def school(i: int, **over) -> dict:
    """A Wonde-shaped school object."""
    record = {
        "id": f"A{1000000000 + i}",
        "name": f"School {i:05d}",
        "urn": 100000 + i,
        "la_code": "873",
        "establishment_number": str(2000 + i),
        "phase_of_education": "PRIMARY",
        "mis": "SIMS",
        "address": {
            "address_line_1": f"{i} High Street",
            "address_line_2": None,
            "address_town": "Cambridge",
            "address_postcode": f"cb{i % 10} 7sg",
            "address_country": {"code": "GBR", "name": "England"},
        },
        "region": {"code": "GBR", "domain": "api.wonde.com"},
        "timezone": "Europe/London",
    }
    record.update(over)
    return record


def pages(n: int, per_page: int = 7, **over):
    records = [school(i, **over) for i in range(n)]
    return [records[i : i + per_page] for i in range(0, n, per_page)]


def rebuild_catalog(engine, page_list, **checks) -> int:
    run_id = sync_history.start_run(engine, "catalog")
    rebuild.stage(engine, run_id, page_list, chunk_rows=10)
    rebuild.validate_staged(engine, run_id, **checks)
    return rebuild.publish(engine, run_id, started_at=datetime.now(UTC), dag_run_id="manual__x")


def catalog_rows(engine) -> list[tuple]:
    schools = table("wonde_schools")
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(schools).order_by(schools.c.id))]


def staged_count(engine, run_id: int) -> int:
    staging = table("wonde_schools_staging")
    with engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).where(staging.c.sync_run_id == run_id)
        ).scalar_one()


def test_schema_is_applied_once(engine):
    assert apply_schema(engine) == []
    names = set(sa.inspect(engine).get_table_names())
    expected = {"wonde_schools", "wonde_connections", "personnel", "wonde_sync_runs"}
    assert expected | {"wonde_full_sync_metadata", "calm_schema_version"} <= names


def test_rebuild_publishes_all_schools_and_metadata(engine):
    assert queries.latest_full_sync(engine) is None
    assert rebuild_catalog(engine, pages(53)) == 53
    with engine.connect() as conn:
        row = (
            conn.execute(
                sa.select(table("wonde_schools")).where(
                    table("wonde_schools").c.id == "A1000000007"
                )
            )
            .mappings()
            .one()
        )
    assert row["urn"] == "100007"
    assert row["postcode"] == "CB7 7SG"
    assert row["address_line_2"] is None
    meta = queries.latest_full_sync(engine)
    assert meta.school_count == 53 and meta.dag_run_id == "manual__x"
    staging = table("wonde_schools_staging")
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(staging)).scalar_one() == 0


def test_rerun_gives_the_same_table(engine):
    rebuild_catalog(engine, pages(40))
    schools = table("wonde_schools")
    cols = [c for c in schools.c if c.name != "sync_run_id"]
    with engine.connect() as conn:
        first = conn.execute(sa.select(*cols).order_by(schools.c.id)).all()
    rebuild_catalog(engine, pages(40))
    with engine.connect() as conn:
        second = conn.execute(sa.select(*cols).order_by(schools.c.id)).all()
    assert first == second and len(first) == 40


def test_records_without_id_or_name_are_rejected_and_counted(engine):
    bad = [[school(1), school(2, name="  "), school(3, id=None)]]
    run_id = sync_history.start_run(engine, "catalog")
    result = rebuild.stage(engine, run_id, bad)
    assert (result.fetched, result.staged, result.rejected) == (3, 1, 2)
    assert "A1000000002: missing name" in result.rejected_examples
    assert "(no id): missing id" in result.rejected_examples


@pytest.mark.parametrize(
    "page_list, expected",
    [
        ([], "empty school directory"),
        ([[school(1), school(2)], [school(2)]], "more than once"),
    ],
)
def test_bad_directory_keeps_previous_catalog(engine, page_list, expected):
    rebuild_catalog(engine, pages(20))
    run_id = sync_history.start_run(engine, "catalog")
    rebuild.stage(engine, run_id, page_list)
    with pytest.raises(rebuild.CatalogValidationError, match=expected):
        rebuild.validate_staged(engine, run_id)
    assert queries.catalog_count(engine) == 20


def test_large_drop_needs_approval(engine):
    rebuild_catalog(engine, pages(100))
    with pytest.raises(rebuild.CatalogValidationError, match=r"drop of 20.0%.*allow_large_drop"):
        rebuild_catalog(engine, pages(80))
    assert queries.catalog_count(engine) == 100
    assert rebuild_catalog(engine, pages(80), allow_large_drop=True) == 80
    assert rebuild_catalog(engine, pages(75), max_drop_pct=10) == 75  # 6.25% drop is within bounds


def test_publish_is_atomic(engine):
    """A failure inside the swap transaction leaves the previous catalog whole."""
    rebuild_catalog(engine, pages(30))
    before = catalog_rows(engine)
    run_id = sync_history.start_run(engine, "catalog")
    rebuild.stage(engine, run_id, pages(35))
    # The check of the swapped-in count fails after the old rows were deleted, in the same
    # transaction: here, as if staging had changed since it was read.
    with pytest.raises(rebuild.CatalogValidationError, match=r"35 schools found, 36 staged"):
        rebuild.publish(engine, run_id, started_at=datetime.now(UTC), dag_run_id=None, expected=36)
    assert catalog_rows(engine) == before
    assert staged_count(engine, run_id) == 0


def test_search_ranks_and_validates(engine):
    rows = [
        school(1, name="St Mary's C of E Primary School", urn=123456),
        school(2, name="Mary Hare School", urn=222222),
        school(3, name="Oakfield Academy", urn=333333, address={"address_postcode": "SW1A 1AA"}),
        school(4, name="Ysgol Mary", urn=444444),
    ]
    rebuild_catalog(engine, [rows])
    with pytest.raises(queries.SearchQueryError, match="Enter at least 2 characters"):
        queries.search(engine, " m ")
    names = [r["name"] for r in queries.search(engine, "MARY")]
    assert names == ["Mary Hare School", "St Mary's C of E Primary School", "Ysgol Mary"]
    assert [r["id"] for r in queries.search(engine, "123456")] == ["A1000000001"]
    for query in ("sw1a1aa", "SW1A 1", "sw1a"):
        assert [r["name"] for r in queries.search(engine, query)] == ["Oakfield Academy"]
    assert [r["name"] for r in queries.search(engine, "st mary's")] == [
        "St Mary's C of E Primary School"
    ]
    assert queries.search(engine, "100%") == []
    assert queries.search(engine, "zz") == []


def test_sync_history_lifecycle(engine):
    run_id = sync_history.start_run(engine, "catalog", dag_id="d", dag_run_id="r")
    assert sync_history.get_run(engine, run_id).status == "Processing"
    sync_history.complete_run(engine, run_id, "done", fetched_count=5)
    run = sync_history.get_run(engine, run_id)
    assert (run.status, run.message, run.counts["fetched_count"]) == ("Completed", "done", 5)
    assert run.finished_at >= run.started_at
    other = sync_history.start_run(engine, "catalog")
    sync_history.fail_run(engine, other, "boom")
    assert [r.id for r in sync_history.list_runs(engine, status="Failed")] == [other]
    with pytest.raises(ValueError, match="Unknown Sync History counts"):
        sync_history.update_run(engine, run_id, bogus_count=1)


def test_publishing_twice_returns_the_first_result_without_writing(engine):
    run_id = sync_history.start_run(engine, "catalog")
    rebuild.stage(engine, run_id, pages(12))
    started = datetime.now(UTC)
    assert rebuild.publish(engine, run_id, started_at=started, dag_run_id="r") == 12
    before = catalog_rows(engine), queries.latest_full_sync(engine)
    assert rebuild.publish(engine, run_id, started_at=started, dag_run_id="r", expected=99) == 12
    assert (catalog_rows(engine), queries.latest_full_sync(engine)) == before


def test_an_older_run_never_replaces_a_newer_catalog(engine):
    older = sync_history.start_run(engine, "catalog")
    older_start = datetime.now(UTC)
    newer = sync_history.start_run(engine, "catalog")
    rebuild.stage(engine, older, pages(20))
    rebuild.stage(engine, newer, pages(21))
    assert rebuild.publish(engine, newer, started_at=datetime.now(UTC), dag_run_id="new") == 21
    published = catalog_rows(engine)

    with pytest.raises(rebuild.CatalogSupersededError, match=rf"sync \(run {newer}\) published"):
        rebuild.publish(engine, older, started_at=older_start, dag_run_id="old")

    assert catalog_rows(engine) == published
    assert queries.latest_full_sync(engine).sync_run_id == newer
    assert staged_count(engine, older) == 0


def test_a_publish_finds_no_staged_rows_and_keeps_the_catalog(engine):
    rebuild_catalog(engine, pages(15))
    before = catalog_rows(engine)
    run_id = sync_history.start_run(engine, "catalog")
    with pytest.raises(rebuild.CatalogValidationError, match="0 schools found"):
        rebuild.publish(engine, run_id, started_at=datetime.now(UTC), dag_run_id=None)
    assert catalog_rows(engine) == before


def catalog_indexes(engine) -> set[str | None]:
    query = (
        "SELECT indexdef FROM pg_indexes WHERE tablename = 'wonde_schools'"
        if engine.dialect.name == "postgresql"
        else "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'wonde_schools'"
    )
    with engine.connect() as conn:
        return set(conn.execute(sa.text(query)).scalars())


def test_publishing_keeps_the_catalogs_indexes(engine):
    # PostgreSQL's publish drops the secondary indexes and builds them again after the rows.
    declared = catalog_indexes(engine)
    assert len(declared) >= 4  # primary key, URN, name, postcode
    rebuild_catalog(engine, pages(20))
    assert catalog_indexes(engine) == declared
    run_id = sync_history.start_run(engine, "catalog")
    rebuild.stage(engine, run_id, pages(25))
    with pytest.raises(rebuild.CatalogValidationError):
        rebuild.publish(engine, run_id, started_at=datetime.now(UTC), dag_run_id=None, expected=26)
    assert catalog_indexes(engine) == declared
    assert len(catalog_rows(engine)) == 20
