"""What a site's admin does, end to end: the API, the emulator, its webhooks to a real receiver."""

from __future__ import annotations

import pytest

from tests.school_access.conftest import CONTACT
from wonde_sync.school_access import token_vault
from wonde_sync.school_access.import_targets import import_targets

pytestmark = pytest.mark.usefixtures("receiver")


def request_access(api, world, school_id, user="ann@site-a", site="site-a", **contact):
    body = {"school_id": school_id, **CONTACT, **contact}
    return api.post(f"/sites/{site}/connection/request-access", json=body, headers=world.auth(user))


def status(api, world, site="site-a", user="ann@site-a") -> dict:
    response = api.get(f"/sites/{site}/connection", headers=world.auth(user))
    assert response.status_code == 200, response.text
    return response.json()


def test_request_approve_revoke_rerequest(api, world):
    school = world.schools[5]

    answer = request_access(api, world, school)
    assert answer.status_code == 200, answer.text
    pending = answer.json()
    assert (pending["state"], pending["status"], pending["label"]) == (
        "pending",
        "pending",
        "Pending approval",
    )
    assert pending["school_id"] == school and pending["school_name"]
    on_wonde = world.control.state(school)
    assert on_wonde["state"] == "pending"
    assert on_wonde["contacts"] == [
        {
            "first_name": "Ann",
            "last_name": "O'Neill",
            "email_address": "ann.oneill@school.example.org",
            "phone_number": "01234 567890",
            "notes": "Data protection lead",
        }
    ]

    approval = world.control.approve(school)
    assert approval["webhook_status"] == 200, approval["webhook_error"]
    token = approval["school_token"]
    approved = status(api, world)
    assert (approved["state"], approved["label"]) == ("approved", "Approved")
    assert approved["has_school_token"] and approved["enabled"]
    row = world.row("site-a")
    assert row["school_token_ciphertext"] and row["school_token_ciphertext"] != token
    assert token not in row["school_token_ciphertext"]
    assert token_vault.decrypt(row["school_token_ciphertext"]) == token
    assert row["school_token"] is None  # the plaintext-named column is never written
    ((target),) = import_targets(world.engine)
    assert (target.site_id, target.school_id, target.school_token) == ("site-a", school, token)
    assert token not in api.get("/sites/site-a/connection", headers=world.auth("ann@site-a")).text

    revocation = world.control.revoke(school, reason="The school changed supplier")
    assert revocation["webhook_status"] == 200
    revoked = status(api, world)
    assert (revoked["state"], revoked["label"]) == ("revoked", "Access revoked")
    assert revoked["reason"] == "The school changed supplier"
    assert "request access again from the configuration page" in revoked["detail"]
    assert revoked["actions"][0] == "request_access"
    assert world.row("site-a")["school_token_ciphertext"] is None
    assert import_targets(world.engine) == []

    again = request_access(api, world, school)
    assert again.status_code == 200 and again.json()["state"] == "pending"
    assert world.control.state(school)["state"] == "pending"
    assert world.history("site-a") == ["requested", "approved", "revoked", "requested"]


def test_decline_then_request_again(api, world):
    school = world.schools[6]
    assert request_access(api, world, school).status_code == 200

    assert world.control.decline(school, reason="We use another provider")["webhook_status"] == 200
    declined = status(api, world)
    assert (declined["state"], declined["label"]) == ("declined", "Access declined by school")
    assert declined["reason"] == "We use another provider"
    assert "We use another provider" in declined["detail"]
    assert "request access again from the configuration page" in declined["detail"]
    assert declined["actions"][0] == "request_access"

    assert request_access(api, world, school).json()["state"] == "pending"
    assert world.control.state(school)["state"] == "pending"


def test_school_already_approved_then_revoke_and_rerequest(api, world):
    school = world.schools[0]  # approved for the app on Wonde before any request
    assert world.control.state(school)["state"] == "audited"

    answer = request_access(api, world, school)
    assert answer.status_code == 200, answer.text
    already = answer.json()
    assert (already["state"], already["status"], already["label"]) == (
        "already_approved",
        "approved",
        "School Already Approved",
    )
    assert already["actions"] == ["revoke_and_rerequest", "disable"]
    assert "Revoke & Re-request" in already["detail"]
    assert not already["has_school_token"]
    assert world.control.requests_to("request-access") == 0
    assert import_targets(world.engine) == []

    redo = api.post(
        "/sites/site-a/connection/revoke-and-rerequest", headers=world.auth("ann@site-a")
    )
    assert redo.status_code == 200, redo.text
    assert redo.json()["state"] == "pending"
    on_wonde = world.control.state(school)
    assert on_wonde["state"] == "pending"
    assert on_wonde["contacts"][0]["email_address"] == CONTACT["email"]  # the stored contact
    assert world.control.requests_to("revoke-access") == 1

    token = world.control.approve(school)["school_token"]
    assert status(api, world)["state"] == "approved"
    assert import_targets(world.engine)[0].school_token == token
    # The request claims the school before Wonde says it is approved already.
    assert world.history("site-a") == [
        "requested",
        "already_approved",
        "revoked",
        "requested",
        "approved",
    ]


def test_revoke_and_rerequest_with_new_contact(api, world):
    school = world.schools[1]
    request_access(api, world, school)
    new_contact = {**CONTACT, "first_name": "Grace", "email": "grace@school.example.org"}
    redo = api.post(
        "/sites/site-a/connection/revoke-and-rerequest",
        json=new_contact,
        headers=world.auth("ann@site-a"),
    )
    assert redo.status_code == 200 and redo.json()["contact"]["first_name"] == "Grace"
    assert world.control.state(school)["contacts"][0]["email_address"] == "grace@school.example.org"


def test_a_school_is_connected_to_one_site_at_a_time(api, world):
    school = world.schools[7]
    assert request_access(api, world, school).status_code == 200
    before = world.snapshot()
    sent = world.control.requests_to("request-access")

    clash = request_access(api, world, school, user="bob@site-b", site="site-b")
    assert clash.status_code == 409
    assert "another CalmCompliance site" in clash.json()["detail"]
    assert "site-a" not in clash.text
    assert world.snapshot() == before
    assert world.control.requests_to("request-access") == sent


def test_changing_school_while_pending_withdraws_the_first_request(api, world):
    first, second = world.schools[8], world.schools[9]
    request_access(api, world, first)
    answer = request_access(api, world, second)
    assert answer.json()["school_id"] == second and answer.json()["state"] == "pending"
    assert world.control.state(first)["state"] == "revoked"  # withdrawn on Wonde
    assert world.control.state(second)["state"] == "pending"
    assert world.history("site-a") == ["requested", "school_changed (requested)"]


def test_an_approved_site_cannot_switch_school(api, world):
    school = world.schools[10]
    request_access(api, world, school)
    world.control.approve(school)
    answer = request_access(api, world, world.schools[11])
    assert answer.status_code == 409
    assert world.row("site-a")["school_id"] == school
    # Asking again for the same school just answers the current state.
    assert request_access(api, world, school).json()["state"] == "approved"


@pytest.mark.parametrize(
    "contact, errors",
    [
        ({"email": "not-an-email"}, {"email"}),
        ({"first_name": "  ", "last_name": None}, {"first_name", "last_name"}),
        ({"phone": "call me"}, {"phone"}),
        ({"notes": "x" * 1001, "first_name": "y" * 101}, {"notes", "first_name"}),
        ({"nickname": "Annie"}, {"nickname"}),
    ],
)
def test_contact_is_validated_field_by_field(api, world, contact, errors):
    before = world.snapshot()
    answer = request_access(api, world, world.schools[12], **contact)
    assert answer.status_code == 422
    assert set(answer.json()["errors"]) == errors
    assert world.snapshot() == before
    assert world.control.requests_to("request-access") == 0


def test_missing_school_and_unknown_school(api, world):
    body = dict(CONTACT)
    answer = api.post(
        "/sites/site-a/connection/request-access", json=body, headers=world.auth("ann@site-a")
    )
    assert answer.status_code == 422 and "school_id" in answer.json()["errors"]
    unknown = request_access(api, world, "A0000000000")
    assert unknown.status_code == 404
    assert "not in the schools catalog" in unknown.json()["detail"]
    assert world.row("site-a") is None


def test_enable_and_disable(api, world):
    school = world.schools[13]
    headers = world.auth("ann@site-a")
    assert api.post("/sites/site-a/connection/disable", headers=headers).status_code == 409
    request_access(api, world, school)
    token = world.control.approve(school)["school_token"]

    off = api.post("/sites/site-a/connection/disable", headers=headers).json()
    assert off["enabled"] is False and off["actions"] == ["enable"]
    assert "Imports are off" in off["detail"]
    assert import_targets(world.engine) == []
    assert api.post("/sites/site-a/connection/disable", headers=headers).json()["enabled"] is False

    on = api.post("/sites/site-a/connection/enable", headers=headers).json()
    assert on["enabled"] is True and on["state"] == "approved"
    assert [t.school_token for t in import_targets(world.engine)] == [token]
    assert world.history("site-a")[-2:] == ["disabled", "enabled"]


def test_revoke_and_rerequest_never_touches_another_sites_school(api, world):
    school = world.schools[16]
    request_access(api, world, school)
    world.control.decline(school)  # site-a: declined; the school is free again
    assert request_access(api, world, school, user="bob@site-b", site="site-b").status_code == 200
    before = world.snapshot()

    clash = api.post(
        "/sites/site-a/connection/revoke-and-rerequest", headers=world.auth("ann@site-a")
    )
    assert clash.status_code == 409
    assert world.control.state(school)["state"] == "pending"  # site-b's request stands
    assert world.control.requests_to("revoke-access") == 0
    assert world.snapshot() == before
