"""The admin CLI commands of school access and API access, on the emulator and both databases."""

from __future__ import annotations

import pytest

from tests.admin.conftest import assert_one_line_error, row_counts, url_of
from tests.school_access.conftest import CONTACT
from wonde_sync.admin import api_tokens
from wonde_sync.school_access.status import access_status
from wonde_sync.school_access.transitions import record_approval


@pytest.fixture
def cli(world, run_cli):
    return lambda *argv: run_cli("--db", url_of(world.engine), *argv)


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
    assert "    Actions: Request access [request-access]\n" in out
    code, out, _ = cli("disable", "site-a")
    assert code == 0 and "disabled" in out and out.endswith("    Actions: Enable [enable]\n")
    assert cli("enable", "site-a")[0] == 0
    assert access_status(world.engine, "site-a").enabled is True


def test_already_approved_then_revoke_and_rerequest(cli, world):
    code, out, _ = cli("request-access", "site-b", world.schools[0], *contact_args())
    assert code == 0 and "School Already Approved" in out
    assert "Actions: Revoke & Re-request [revoke-and-rerequest], Disable [disable]" in out
    assert "revoke_and_rerequest" not in out
    code, out, _ = cli("revoke-and-rerequest", "site-b")
    assert code == 0 and "Pending approval" in out
    assert world.control.state(world.schools[0])["state"] == "pending"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["request-access", "site-a", "SCHOOL", *contact_args(email="nope")], "email"),
        (["request-access", "nowhere", "SCHOOL", *contact_args()], "No site 'nowhere'"),
        (["request-access", "site-a", "A0000000000", *contact_args()], "not in the schools"),
        (["request-access", "site-a", "SCHOOL", "--first-name=A"], "required: --last-name"),
        (["revoke-and-rerequest", "site-a"], "not connected to a school"),
        (["revoke-and-rerequest", "nowhere"], "No site 'nowhere'"),
        (["revoke-and-rerequest", "site-a", "--email=a@b.org"], "not connected"),
        (["enable", "site-a"], "nothing to enable"),
        (["disable", "nowhere"], "No site 'nowhere'"),
        (["connection-status", "--site", "nowhere"], "No site 'nowhere'"),
        (["status", "--site", "nowhere"], "No site 'nowhere'"),
        (["grant-site-admin", "ann@site-a", "nowhere"], "No site 'nowhere'"),
        (["revoke-site-admin", "ann@site-a", "nowhere"], "No site 'nowhere'"),
        (["create-api-token", "bad user"], "Invalid user id"),
        (["revoke-api-token", "999999"], "No API token 999999"),
        (["revoke-api-token", "one"], "argument token_id: invalid int value: 'one'"),
        (["search", "x"], "Enter at least 2 characters to search"),
    ],
)
def test_operator_errors_exit_2_with_one_line(cli, world, argv, message):
    argv = [world.schools[6] if a == "SCHOOL" else a for a in argv]
    before = world.snapshot(), row_counts(world.engine)
    assert_one_line_error(*cli(*argv), message)
    assert (world.snapshot(), row_counts(world.engine)) == before


@pytest.mark.parametrize(
    "argv",
    [
        ["request-access", "site-a", "SCHOOL", *contact_args()],
        ["revoke-and-rerequest", "site-a"],
        ["reconcile-connections"],
    ],
)
def test_wonde_commands_without_the_wonde_connection(cli, world, monkeypatch, argv):
    cli("request-access", "site-a", world.schools[7], *contact_args())
    monkeypatch.delenv("AIRFLOW_CONN_WONDE_DEFAULT")
    argv = [world.schools[6] if a == "SCHOOL" else a for a in argv]
    before = world.snapshot(), row_counts(world.engine)
    assert_one_line_error(
        *cli(*argv),
        "error: the Airflow connection 'wonde_default' (Wonde) is not defined: set "
        'AIRFLOW_CONN_WONDE_DEFAULT=\'{"conn_type":"http","host":',
    )
    assert (world.snapshot(), row_counts(world.engine)) == before


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


def test_reconcile_reports_each_transition_once(cli, world):
    assert cli("reconcile-connections")[1] == (
        "No site is connected to a school yet: nothing to check.\n"
    )
    declined, approved, missed = world.schools[7], world.schools[8], world.schools[9]
    cli("request-access", "site-a", declined, *contact_args())
    world.control.decline(declined)
    code, out, err = cli("reconcile-connections")
    assert (code, err) == (0, "")
    assert out == "Checked 1 connection: site-a Pending approval -> Access declined by school.\n"
    assert cli("reconcile-connections")[1] == "Checked 1 connection: no change for site-a.\n"

    # An approval that came with its token (the webhook's way) is not this run's doing.
    cli("request-access", "site-a", approved, *contact_args())
    record_approval(world.engine, approved, world.control.approve(approved)["school_token"])
    cli("request-access", "site-b", missed, *contact_args())
    world.control.approve(missed)  # no webhook: only Wonde's lists tell
    out = cli("reconcile-connections")[1]
    assert out == (
        "Checked 2 connections: site-b Pending approval -> School Already Approved; "
        "no change for site-a.\n"
    )
    assert "approved:" not in out.lower()
    assert cli("reconcile-connections")[1] == (
        "Checked 2 connections: no change for site-a, site-b.\n"
    )
