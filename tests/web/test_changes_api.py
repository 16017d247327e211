"""The change log as admins read it: a run's changes and a person's history, as JSON (under
the details' access rules) and on the CLI, on the seeded database."""

from __future__ import annotations

import csv
import io

import pytest
import sqlalchemy as sa

from tests.admin.conftest import run_cli, url_of
from tests.support.people_rows import personnel
from wonde_sync.core.database import table

__all__ = ["run_cli"]


def test_a_runs_changes_name_every_person_it_created(client, world):
    s = world.seeded
    body = client.get(f"/api/runs/{s.ashdown_run}/changes", headers=world.auth("ann")).json()
    staff = personnel(world, "ashdown")
    created = {c["external_id"]: c for c in body["data"] if c["record_type"] == "employee"}
    assert set(created) == set(staff)
    one = next(iter(staff.values()))
    change = created[one["external_id"]]
    assert (change["action"], change["reason"], change["person_id"]) == ("created", None, one["id"])
    assert change["name"] == f"{one['forename']} {one['surname']}"
    assert change["fields"]["surname"] == {"before": None, "after": one["surname"]}

    search = one["surname"][1:].upper()
    found = client.get(
        f"/api/runs/{s.ashdown_run}/changes?q={search}", headers=world.auth("ann")
    ).json()["data"]
    assert one["external_id"] in {c["external_id"] for c in found}
    assert all(search.lower() in c["name"].lower() for c in found)
    assert (
        client.get(
            f"/api/runs/{s.ashdown_run}/changes?action=archived", headers=world.auth("ann")
        ).json()["data"]
        == []
    )


def test_a_persons_history_and_the_access_rules(client, world):
    s = world.seeded
    one = next(iter(personnel(world, "ashdown").values()))
    path = f"/api/sites/ashdown/people?q={one['external_id']}"
    history = client.get(path, headers=world.auth("ann")).json()["data"]
    assert [(c["run_id"], c["action"]) for c in history] == [(s.ashdown_run, "created")]

    assert client.get(path, headers=world.auth("bea")).status_code == 403
    assert client.get(path).status_code == 401
    other = client.get(f"/api/runs/{s.ashdown_run}/changes", headers=world.auth("bea"))
    assert other.status_code == 404 and one["surname"] not in other.text
    bad = client.get(f"/api/runs/{s.ashdown_run}/changes?action=gone", headers=world.auth("ann"))
    assert bad.status_code == 422 and list(bad.json()["errors"]) == ["action"]
    short = client.get("/api/sites/ashdown/people?q=a", headers=world.auth("ann"))
    assert short.status_code == 422 and list(short.json()["errors"]) == ["q"]


def test_the_cli_shows_a_runs_changes_and_a_persons_history(world, run_cli):
    s = world.seeded
    db = url_of(world.engine)
    one = next(iter(personnel(world, "ashdown").values()))
    code, out, err = run_cli("--db", db, "changes", str(s.ashdown_run), "--search", one["surname"])
    assert code == 0, err
    assert out.splitlines()[0].startswith(f"Run #{s.ashdown_run} (Full import of ashdown")
    assert f"created: {one['forename']} {one['surname']} (employee {one['external_id']}" in out

    code, out, err = run_cli("--db", db, "person", "ashdown", one["external_id"])
    assert code == 0, err
    assert f"run #{s.ashdown_run} created: {one['forename']}" in out
    assert f"surname: - -> {one['surname']}" in out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("changes", "999999"), "No run #999999"),
        (("changes", "1", "--action", "vanished"), "is not one of created"),
        (("person", "nosuch", "Smith"), "No site 'nosuch'"),
    ],
)
def test_the_cli_names_the_fix_for_bad_input(world, run_cli, argv, expected):
    code, out, err = run_cli("--db", url_of(world.engine), *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and expected in err


def test_the_cli_previews_a_sites_import_and_changes_nobody(world, run_cli):
    before = personnel(world, "ashdown")
    code, out, err = run_cli("--db", url_of(world.engine), "preview-import", "ashdown", "--full")
    assert code == 0, err
    assert "Preview of a full import: nothing was applied" in out
    run_id = int(out.split()[1].strip("#:"))
    assert f"python -m wonde_sync changes {run_id}" in out
    assert personnel(world, "ashdown") == before
    code, out, err = run_cli("--db", url_of(world.engine), "preview-import", "cedar-nosuch")
    assert code == 2 and "No site 'cedar-nosuch'" in err


def test_the_run_page_lists_and_filters_its_changes_with_csv(client, world):
    s = world.seeded
    one = next(iter(personnel(world, "ashdown").values()))
    auth = world.auth("ann")
    page = client.get(f"/runs/{s.ashdown_run}?action=created&q={one['surname']}", headers=auth)
    assert page.status_code == 200
    assert f">{one['forename']} {one['surname']}</a></td>" in page.text
    listed = page.text.count('data-change="created"')
    found = client.get(
        f"/api/runs/{s.ashdown_run}/changes?action=created&q={one['surname']}", headers=auth
    ).json()
    assert listed == len(found["data"]) >= 1
    assert found["csv"] in page.text.replace("&amp;", "&")

    rows = list(csv.DictReader(io.StringIO(client.get(found["csv"], headers=auth).text)))
    assert [r["external_id"] for r in rows] == [c["external_id"] for c in found["data"]]
    assert rows[0]["action"] == "created" and one["surname"] in rows[0]["fields"]

    none = client.get(f"/runs/{s.ashdown_run}?action=linked", headers=auth)
    assert "No change matches these filters." in none.text
    assert client.get(f"/runs/{s.ashdown_run}?action=x", headers=auth).status_code == 422
    other = client.get(f"/runs/{s.ashdown_run}/changes.csv", headers=world.auth("bea"))
    assert other.status_code == 404 and one["surname"] not in other.text


def test_the_cli_undoes_a_run_once(world, run_cli):
    s = world.seeded
    db = url_of(world.engine)
    created = len(personnel(world, "ashdown"))
    code, out, err = run_cli("--db", db, "undo-run", str(s.ashdown_run))
    assert code == 0, err
    assert f"Undid run #{s.ashdown_run}:" in out and "change(s) reverted" in out
    rows = personnel(world, "ashdown").values()
    assert len(rows) == created and {(r["status"], r["archived_reason"]) for r in rows} == {
        ("archived", "undone")
    }
    code, out, err = run_cli("--db", db, "undo-run", str(s.ashdown_run))
    assert code == 2 and "was undone already" in err
    code, out, err = run_cli("--db", db, "undo-run", str(s.catalog_run))
    assert code == 2 and "only a completed full or incremental import" in err


def test_a_persons_page_shows_their_history_to_their_sites_admins(client, world):
    s = world.seeded
    one = next(iter(personnel(world, "ashdown").values()))
    run_page = client.get(f"/runs/{s.ashdown_run}?q={one['surname']}", headers=world.auth("ann"))
    link = f"/sites/ashdown/people?q={one['external_id']}"
    assert f'href="{link}"' in run_page.text
    page = client.get(link, headers=world.auth("ann"))
    assert page.status_code == 200
    assert page.text.count('data-change="created"') == 1
    assert f'href="/runs/{s.ashdown_run}"' in page.text and one["surname"] in page.text
    assert client.get(link, headers=world.auth("bea")).status_code == 403
    nobody = client.get("/sites/ashdown/people?q=Nobody Here", headers=world.auth("ann"))
    assert "No import created, changed or archived such a person." in nobody.text


def test_someone_never_imported_is_found_with_the_rule_that_left_them_out(client, world, run_cli):
    t = table("wonde_people_not_imported")
    with world.engine.connect() as conn:
        left_out = conn.execute(sa.select(t).where(t.c.site_id == "ashdown")).mappings().all()
    counted = sum(n for (kind, _), n in world.seeded.ashdown_filtered.items())
    assert len(left_out) == counted
    one = left_out[0]
    page = client.get(f"/sites/ashdown/people?q={one['surname']}", headers=world.auth("ann"))
    assert page.status_code == 200 and 'data-testid="not-imported"' in page.text
    assert f'data-reason="{one["reason"]}"' in page.text and one["external_id"] in page.text
    body = client.get(
        f"/api/sites/ashdown/people?q={one['external_id']}", headers=world.auth("ann")
    ).json()
    assert [(p["external_id"], p["reason"]) for p in body["not_imported"]] == [
        (one["external_id"], one["reason"])
    ]
    assert body["data"] == []
    refused = client.get(
        f"/api/sites/ashdown/people?q={one['external_id']}", headers=world.auth("bea")
    )
    assert refused.status_code == 403
    code, out, err = run_cli("--db", url_of(world.engine), "person", "ashdown", one["external_id"])
    assert code == 0, err
    assert out.startswith(f"never imported: {one['forename']} {one['surname']}")
    assert f"by run #{world.seeded.ashdown_run}" in out
