"""The admin CLI (``python -m wonde_sync``): the schema, sites, status, history, search."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.admin.conftest import assert_one_line_error, row_counts
from wonde_sync.catalog import rebuild
from wonde_sync.core import sync_history

SCHOOL = {
    "id": "A1000000002",
    "name": "Foxhill Primary School",
    "urn": 123002,
    "la_code": "931",
    "establishment_number": "3002",
    "phase_of_education": "PRIMARY",
    "mis": "SIMS",
    "address": {
        "address_line_1": "2 Church Lane",
        "address_town": "Oxford",
        "address_postcode": "CB21 5AB",
    },
}


def test_init_db_is_idempotent(cli):
    code, out, err = cli("init-db")
    assert code == 0 and err == ""
    assert out.startswith("The schema of the ") and out.endswith(" is up to date.\n")


def test_sites_and_status(cli):
    code, out, _ = cli("status")
    assert code == 0
    assert out.startswith("Catalog: The school directory hasn't been synced yet.")
    assert "Sites: none yet" in out
    assert cli("add-site", " ashdown ", "--name", "Ashdown Academy")[1] == (
        "Added site ashdown (Ashdown Academy).\n"
    )
    code, out, _ = cli("status", "--site", "ashdown")
    assert "Site ashdown (Ashdown Academy): Not connected" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["add-site", "bad id", "--name", "X"], "Invalid site id 'bad id'"),
        (["add-site", "ashdown", "--name", " "], "A site needs a name."),
        (["add-site", "ashdown", "--name", "Again"], "Site 'ashdown' already exists."),
        (["status", "--site", "nowhere"], "No site 'nowhere'."),
        (["search", "a"], "Enter at least 2 characters to search"),
        (["search", "fox", "--limit", "0"], "argument --limit: use a number from 1 to 50"),
        (["history", "--site", "nosuch"], "No site 'nosuch'."),
        (["history", "--kind", "bogus"], "unknown kind 'bogus': use one of catalog "),
        (["history", "--kind", "bogus"], "full_import (Full import), incremental_import"),
        (["history", "--status", "done"], "use one of Completed, Processing, Failed"),
        (["history", "--limit", "0"], "use a number from 1 to 1000, not 0"),
        (["history", "--limit", "-5"], "use a number from 1 to 1000, not -5"),
        (["history", "--limit", "1001"], "use a number from 1 to 1000, not 1001"),
        (["history", "--limit", "ten"], "'ten' is not a whole number"),
        (["nosuch-command"], "invalid choice: 'nosuch-command'"),
    ],
)
def test_operator_errors_exit_2_with_one_line(cli, engine, argv, message):
    cli("add-site", "ashdown", "--name", "Ashdown Academy")
    before = row_counts(engine)
    assert_one_line_error(*cli(*argv), message)
    assert row_counts(engine) == before


def test_search_and_history(cli, engine):
    assert (
        cli("search", "fox")[1]
        == "No schools found. The school directory hasn't been synced yet.\n"
    )
    assert cli("history")[1] == "Sync History is empty.\n"
    run_id = sync_history.start_run(engine, "catalog")
    rebuild.stage(engine, run_id, [[SCHOOL]])
    rebuild.publish(engine, run_id, started_at=datetime.now(UTC), dag_run_id=None)
    sync_history.complete_run(engine, run_id, "1 school in the catalog", fetched_count=1)

    code, out, _ = cli("search", "fox")
    assert code == 0
    assert out.splitlines() == [
        "A1000000002  Foxhill Primary School",
        "    2 Church Lane, Oxford, CB21 5AB | URN 123002 | LA 931 | Est. 3002 | PRIMARY | "
        "MIS SIMS",
    ]
    assert cli("search", "nowhere")[1] == (
        "No schools found. Try searching by name, postcode, or URN.\n"
    )
    assert cli("status")[1].startswith("Catalog: 1 schools; last full sync ")
    for kind in ("catalog", "CATALOG"):
        code, out, _ = cli("history", "--kind", kind, "--limit", "1000")
        assert out.startswith(f"#{run_id} Schools catalog: Completed, started ")
        assert out.endswith(" [fetched 1]\n    1 school in the catalog\n")
    assert cli("history", "--status", "failed")[1] == "No runs match.\n"
    assert cli("history", "--kind", "full_import")[1] == "No runs match.\n"
