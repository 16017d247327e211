"""The admin CLI commands of school access and API access, on a parser of their own."""

from __future__ import annotations

import argparse

import pytest

from tests.school_access.conftest import CONTACT
from wonde_sync.admin import api_tokens
from wonde_sync.admin.cli_access import register
from wonde_sync.school_access.status import access_status


@pytest.fixture
def cli(world, capsys):
    parser = argparse.ArgumentParser(prog="python -m wonde_sync")
    handlers = register(parser.add_subparsers(dest="command", required=True))

    def run(*argv: str) -> tuple[int, str, str]:
        args = parser.parse_args(argv)
        code = handlers[args.command](world.engine, args)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def contact_args(**over: str) -> list[str]:
    values = {**CONTACT, **over}
    return [
        f"--first-name={values['first_name']}",
        f"--last-name={values['last_name']}",
        f"--email={values['email']}",
        f"--phone={values['phone']}",
    ]


def test_request_access_status_enable_disable(cli, world):
    school = world.schools[5]
    code, out, _ = cli("request-access", "site-a", school, *contact_args(), "--as", "ops@calm")
    assert code == 0 and "Pending approval" in out
    code, out, _ = cli("connection-status")
    assert code == 0
    assert "Site site-a (Ashdown Academy): Pending approval" in out
    assert "Site site-b (Beacon School): Not connected" in out
    code, out, _ = cli("disable", "site-a")
    assert code == 0 and "disabled" in out and "Actions: enable" in out
    assert cli("enable", "site-a")[0] == 0
    assert access_status(world.engine, "site-a").enabled is True


def test_already_approved_then_revoke_and_rerequest(cli, world):
    code, out, _ = cli("request-access", "site-b", world.schools[0], *contact_args())
    assert code == 0 and "School Already Approved" in out and "revoke_and_rerequest" in out
    code, out, _ = cli("revoke-and-rerequest", "site-b")
    assert code == 0 and "Pending approval" in out
    assert world.control.state(world.schools[0])["state"] == "pending"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["request-access", "site-a", "SCHOOL", *contact_args(email="nope")], "email"),
        (["request-access", "nowhere", "SCHOOL", *contact_args()], "No site 'nowhere'"),
        (["request-access", "site-a", "A0000000000", *contact_args()], "not in the schools"),
        (["revoke-and-rerequest", "site-a"], "not connected to a school"),
        (["revoke-and-rerequest", "site-a", "--email=a@b.org"], "not connected"),
        (["enable", "site-a"], "nothing to enable"),
        (["connection-status", "--site", "nowhere"], "No site 'nowhere'"),
        (["grant-site-admin", "ann@site-a", "nowhere"], "No site 'nowhere'"),
        (["create-api-token", "bad user"], "Invalid user id"),
        (["revoke-api-token", "999999"], "No API token 999999"),
    ],
)
def test_operator_errors_exit_2_with_a_message(cli, world, argv, message):
    argv = [world.schools[6] if a == "SCHOOL" else a for a in argv]
    before = world.snapshot()
    code, out, err = cli(*argv)
    assert code == 2 and err.startswith("error: ") and message in err, err
    assert world.snapshot() == before


def test_tokens_and_admins(cli, world):
    code, out, _ = cli("create-api-token", "carol@site-b", "--label", "web app")
    assert code == 0
    token = out.strip().splitlines()[-1]
    assert api_tokens.authenticate(world.engine, token).user_id == "carol@site-b"
    code, out, _ = cli("list-api-tokens", "--user", "carol@site-b")
    assert "carol@site-b web app active" in out and token not in out
    assert cli("grant-site-admin", "carol@site-b", "site-b")[1].startswith(
        "carol@site-b is now an admin of site site-b"
    )
    assert "was already" in cli("grant-site-admin", "carol@site-b", "site-b")[1]
    assert api_tokens.is_site_admin(world.engine, "carol@site-b", "site-b")
    token_id = api_tokens.list_api_tokens(world.engine, "carol@site-b")[0].token_id
    assert cli("revoke-api-token", str(token_id))[0] == 0
    assert api_tokens.authenticate(world.engine, token) is None
    assert "is no longer" in cli("revoke-site-admin", "carol@site-b", "site-b")[1]


def test_reconcile_connections(cli, world):
    school = world.schools[7]
    cli("request-access", "site-a", school, *contact_args())
    world.control.decline(school)
    code, out, _ = cli("reconcile-connections")
    assert code == 0 and "site-a: Pending approval -> Access declined by school" in out
