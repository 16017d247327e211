"""The admin CLI (``python -m wonde_sync``): the schema, sites, status, history, search."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from wonde_sync.admin.cli import main
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


@pytest.fixture
def cli(engine, capsys):
    """Run one command on the test database; (exit code, stdout, stderr)."""
    url = engine.url.render_as_string(hide_password=False)

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(["--db", url, *argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_init_db_is_idempotent(cli):
    code, out, _ = cli("init-db")
    assert code == 0 and out == "The schema is up to date.\n"  # the fixture applied it


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
    ],
)
def test_operator_errors_exit_2_with_a_message(cli, argv, message):
    cli("add-site", "ashdown", "--name", "Ashdown Academy")
    code, _, err = cli(*argv)
    assert code == 2 and err.startswith("error: ") and message in err, err


def test_search_and_history(cli, engine):
    assert cli("search", "fox")[1] == "No schools found. Try searching by name, postcode, or URN.\n"
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
    assert cli("status")[1].startswith("Catalog: 1 schools; last full sync ")
    code, out, _ = cli("history", "--kind", "catalog")
    assert out.startswith(f"#{run_id} catalog (catalog) Completed started ")
    assert out.endswith(" [fetched 1]\n    1 school in the catalog\n")
    assert cli("history", "--status", "Failed")[1] == "Sync History is empty.\n"
