"""Approving a held run's plan and undoing a run from the integration details: the run page's
forms (token-bound, confirmed) and the API-token JSON routes, on the seeded database."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from tests.support.emulator_control import EmulatorControl
from wonde_sync.core import run_locks, sync_history
from wonde_sync.core.database import table


def ashdown_staff(world) -> list[tuple]:
    t = table("personnel")
    with world.engine.connect() as conn:
        rows = conn.execute(
            sa.select(t.c.external_id, t.c.status, t.c.archived_reason)
            .where(t.c.site_id == "ashdown")
            .order_by(t.c.external_id)
        )
        return [tuple(r) for r in rows]


def form_token(page_text: str, action: str) -> str:
    form = re.search(rf'data-testid="{action}-form">(.*?)</form>', page_text, re.S)
    assert form is not None, f"no {action} form on the page"
    return re.search(r'name="token" value="([0-9a-f]+)"', form.group(1)).group(1)


def held_run(world) -> int:
    """A full import of Ashdown that finds no staff: the mass-archive guard holds it."""
    from wonde_sync.people.importer import ImportOptions, import_site
    from wonde_sync.people.store import MassArchiveBlocked
    from wonde_sync.school_access.import_targets import import_target
    from wonde_sync.wonde.client import WondeClient

    with world.engine.connect() as conn:
        target = import_target(conn, "ashdown")
    control = EmulatorControl(world.emu)
    control.fault(kind="empty", path_contains="/employees", times=None)
    with pytest.raises(MassArchiveBlocked):
        import_site(world.engine, WondeClient(), target, ImportOptions(full=True))
    control.clear_faults()
    return sync_history.list_runs(world.engine, site_id="ashdown", limit=1)[0].id


def test_a_site_admin_undoes_a_run_from_its_page(client, world):
    run_id = world.seeded.ashdown_run
    ann = world.auth("ann")
    before = ashdown_staff(world)
    page = client.get(f"/runs/{run_id}", headers=ann)
    token = form_token(page.text, "undo")
    path = f"/runs/{run_id}/undo"

    # Refused, changing nobody: no token, a wrong token, no tick, another
    # site's admin, a form posted from another site.
    assert client.post(path, headers=ann, data={"confirm": "yes"}).status_code == 403
    wrong = token[:-1] + ("1" if token.endswith("0") else "0")
    assert (
        client.post(path, headers=ann, data={"token": wrong, "confirm": "yes"}).status_code == 403
    )
    unticked = client.post(path, headers=ann, data={"token": token})
    assert unticked.status_code == 422 and "Tick the box" in unticked.text
    bea = client.post(f"/api/runs/{run_id}/undo", headers=world.auth("bea"))
    assert bea.status_code == 404
    cross = client.post(
        path,
        headers={**ann, "Sec-Fetch-Site": "cross-site"},
        data={"token": token, "confirm": "yes"},
    )
    assert cross.status_code == 403
    assert ashdown_staff(world) == before

    done = client.post(
        path, headers=ann, data={"token": token, "confirm": "yes"}, follow_redirects=False
    )
    assert done.status_code == 303
    undo_id = int(done.headers["location"].rsplit("/", 1)[1])
    undo = sync_history.get_run(world.engine, undo_id)
    assert (undo.kind, undo.status) == ("undo", "Completed")
    assert f"Undid run #{run_id} (asked by ann, service token)" in undo.message
    assert {(status, reason) for _, status, reason in ashdown_staff(world)} == {
        ("archived", "undone")
    }
    assert [ext for ext, *_ in ashdown_staff(world)] == [ext for ext, *_ in before]

    again = client.post(path, headers=ann, data={"token": token, "confirm": "yes"})
    assert again.status_code == 409 and "was undone already" in again.text
    page = client.get(f"/runs/{run_id}", headers=ann)
    assert 'data-testid="undo-form"' not in page.text
    assert f"was undone already, by run #{undo_id}" in page.text


def test_a_held_runs_plan_is_approved_by_api_token_once(client, world):
    held = held_run(world)
    ann = world.auth("ann")
    before = ashdown_staff(world)
    page = client.get(f"/runs/{held}", headers=ann)
    assert "The mass-archive guard held this run." in page.text
    assert 'data-testid="approve-form"' in page.text
    path = f"/api/runs/{held}/approve"
    assert client.post(path).status_code == 401

    # While an import holds the site's lock, the request does not wait: 409, nothing changed.
    with run_locks.held(world.engine, run_locks.site_key("ashdown"), holder="an import of ashdown"):
        busy = client.post(path, headers=ann)
    assert busy.status_code == 409 and busy.headers["retry-after"] == "60"
    assert "an import of ashdown" in busy.json()["detail"]
    assert ashdown_staff(world) == before

    body = client.post(path, headers=ann).json()
    assert body["applied"] == len(before) and body["run"] == f"/runs/{body['run_id']}"
    approval = sync_history.get_run(world.engine, body["run_id"])
    assert approval.status == "Completed" and "(approved by ann, service token)" in approval.message
    assert {(s, r) for _, s, r in ashdown_staff(world)} == {("archived", "not_in_mis")}
    twice = client.post(path, headers=ann)
    assert twice.status_code == 409 and "applied already" in twice.json()["detail"]
    page = client.get(f"/runs/{held}", headers=ann)
    assert 'data-testid="approve-form"' not in page.text
    assert f"plan was applied already, by run #{body['run_id']}" in page.text
