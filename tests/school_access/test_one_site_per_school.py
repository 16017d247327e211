"""One school is pending or approved for one site at most: the database says so, even when
two sites ask at once while Wonde is slow to answer."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from tests.school_access.conftest import CONTACT
from wonde_sync.admin.cli import main
from wonde_sync.core.database import table, utcnow
from wonde_sync.school_access import admin_actions
from wonde_sync.school_access.errors import AccessConflictError
from wonde_sync.wonde.errors import WondeForbiddenError

TAKEN = (
    "School {} is already connected to another CalmCompliance site. "
    "Contact support if this is your school."
)
WONDE_DELAY = 1.0


def race(world, school: str, *requests) -> list:
    """Run each ``request(world, school)`` in its own thread at once; their outcomes."""
    barrier = threading.Barrier(len(requests))
    outcomes: list = [None] * len(requests)

    def run(i, request):
        barrier.wait()
        try:
            outcomes[i] = request(world, school)
        except Exception as exc:  # the outcome under test
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=item) for item in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


def by_service(site: str):
    def request(world, school):
        return admin_actions.request_access(world.engine, world.client(), site, school, CONTACT)

    return request


def active_sites(world, school: str) -> list[str]:
    accesses = table("wonde_connections")
    with world.engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(accesses.c.site_id).where(
                    accesses.c.school_id == school, accesses.c.status.in_(("pending", "approved"))
                )
            ).scalars()
        )


def test_two_sites_asking_at_once_one_wins_and_wonde_hears_once(world):
    school = world.schools[12]
    world.control.fault(kind="slow", delay=WONDE_DELAY, path_contains=school, times=None)

    outcomes = race(world, school, by_service("site-a"), by_service("site-b"))

    won = [o for o in outcomes if not isinstance(o, Exception)]
    lost = [o for o in outcomes if isinstance(o, Exception)]
    assert len(won) == 1 and won[0].state == "pending", outcomes
    assert len(lost) == 1 and isinstance(lost[0], AccessConflictError), outcomes
    assert str(lost[0]) == TAKEN.format(school)
    assert active_sites(world, school) == [won[0].site_id]
    loser = "site-b" if won[0].site_id == "site-a" else "site-a"
    assert world.row(loser) is None and world.history(loser) == []
    assert world.control.requests_to(f"{school}/request-access") == 1
    assert world.control.requests_to(f"meta/schools/{school}") == 1  # the loser asked nothing


def test_the_loser_gets_409_from_the_api_and_exit_2_from_the_cli(world, api, capsys):
    school = world.schools[13]
    world.control.fault(kind="slow", delay=WONDE_DELAY, path_contains=school, times=None)
    url = world.engine.url.render_as_string(hide_password=False)

    def by_api(world, school):
        body = {"school_id": school, **CONTACT}
        headers = world.auth("bob@site-b")
        return api.post("/sites/site-b/connection/request-access", json=body, headers=headers)

    first = threading.Thread(target=by_service("site-a"), args=(world, school))
    first.start()
    try:
        # Site a holds the claim while Wonde takes its time.
        for _ in range(200):
            if active_sites(world, school):
                break
            first.join(0.01)
        answer = by_api(world, school)
        contact = [f"--{k.replace('_', '-')}={v}" for k, v in CONTACT.items()]
        code = main(["--db", url, "request-access", "site-b", school, *contact])
    finally:
        first.join(30)

    assert answer.status_code == 409, answer.text
    assert answer.json()["detail"] == TAKEN.format(school)
    err = capsys.readouterr().err
    assert code == 2 and TAKEN.format(school) in err and "Traceback" not in err
    assert active_sites(world, school) == ["site-a"]
    assert world.row("site-b") is None
    assert world.control.requests_to(f"{school}/request-access") == 1


@pytest.mark.usefixtures("receiver")
@pytest.mark.parametrize("declined_before", [False, True], ids=["first_request", "after_decline"])
def test_a_wonde_failure_puts_the_row_back(world, declined_before):
    school = world.schools[14]
    if declined_before:
        by_service("site-a")(world, school)
        world.control.decline(school, reason="Not now")
    before = world.row("site-a")
    world.control.fault(kind="status", status=403, path_contains="request-access", times=None)

    with pytest.raises(WondeForbiddenError):
        by_service("site-a")(world, school)

    after = world.row("site-a")
    if before is None:
        assert after is None
    else:
        changed = {k for k in before if before[k] != after[k]}
        # Only the bookkeeping of the two journaled changes moves.
        assert changed == {"lifecycle_version", "updated_at", "status_changed_at"}
    assert world.history("site-a")[-2:] == ["requested", "request_failed"]
    # The school is free again: another site may claim it.
    world.control.clear_faults()
    assert by_service("site-b")(world, school).state == "pending"


def test_the_database_refuses_a_second_active_site(two_sites):
    accesses = table("wonde_connections")
    now = utcnow()

    def add(site, status):
        with two_sites.begin() as conn:
            conn.execute(
                accesses.insert().values(
                    site_id=site, school_id="S1", status=status, created_at=now, updated_at=now
                )
            )

    add("site-a", "pending")
    with pytest.raises(sa.exc.IntegrityError):
        add("site-b", "approved")
    add("site-b", "declined")  # only pending and approved hold a school
