"""Access lifecycle: school lists, request-access, revoke-access, control approvals, webhooks."""

from __future__ import annotations

import socket
from urllib.parse import parse_qs, urlsplit

import pytest

from .conftest import WondeClient


def _ids(client, path):
    return [school["id"] for school in client.all(path)]


def test_initial_lists(client, control, emu):
    ids = emu.school_ids()
    assert _ids(client, "/schools") == ids[:3]
    assert _ids(client, "/schools/audited") == ids[:3]
    for path in ("/schools/pending", "/schools/declined", "/schools/revoked", "/schools/offline"):
        assert _ids(client, path) == []
    for school in ids[3:6]:
        assert control.state(school) == {
            "school_id": school,
            "state": "none",
            "school_token": None,
            "contacts": [],
        }


@pytest.mark.parametrize("body", [None, b"", b"[]", b"{}", b'{"contacts": []}'])
def test_request_access_without_contacts(client, emu, body):
    school = emu.school_ids()[7]
    headers = {"Content-Type": "application/json"} if body else {}
    answer = client.post(f"/schools/{school}/request-access", data=body, headers=headers)
    assert answer.status_code == 200
    assert answer.json() == {
        "success": True,
        "state": "pending",
        "message": "Access request successfully received",
    }
    assert _ids(client, "/schools/pending") == [school]
    assert school not in _ids(client, "/schools")


def test_request_access_keeps_contacts(client, control, emu):
    school = emu.school_ids()[7]
    contacts = [
        {
            "first_name": "Siân",
            "last_name": "O'Brien",
            "phone_number": "01632 960001",
            "email_address": "sian@example.com",
            "notes": "Data protection lead",
        },
        {"first_name": "Tomasz", "last_name": "Kowalczyk"},
    ]
    answer = client.post(f"/schools/{school}/request-access", json={"contacts": contacts})
    assert answer.json()["state"] == "pending"
    state = control.state(school)
    assert state["state"] == "pending"
    assert state["contacts"] == [
        contacts[0],
        {
            "first_name": "Tomasz",
            "last_name": "Kowalczyk",
            "phone_number": None,
            "email_address": None,
            "notes": None,
        },
    ]


@pytest.mark.parametrize(
    "contact, field",
    [
        ({"last_name": "Jones"}, "contacts.0.first_name"),
        ({"first_name": "Ann", "last_name": ""}, "contacts.0.last_name"),
        ({"first_name": None, "last_name": "Jones"}, "contacts.0.first_name"),
    ],
)
def test_request_access_422_when_a_contact_lacks_a_name(client, control, emu, contact, field):
    school = emu.school_ids()[7]
    answer = client.post(f"/schools/{school}/request-access", json={"contacts": [contact]})
    assert answer.status_code == 422
    body = answer.json()
    assert body["error"] == "validation_failed"
    assert list(body["errors"]) == [field]
    assert isinstance(body["errors"][field][0], str)
    assert control.state(school)["state"] == "none"


def test_request_access_unknown_school_is_404(client):
    assert client.post("/schools/A0000000001/request-access").status_code == 404


def test_request_access_does_not_downgrade_an_approved_school(client, control, emu):
    school = emu.school_ids()[0]
    token = control.school_token(school)
    answer = client.post(f"/schools/{school}/request-access", json=[])
    assert answer.json()["state"] == "audited"
    assert control.school_token(school) == token


def test_revoke_access_invalidates_the_school_token(client, control, emu):
    school = emu.school_ids()[1]
    token = control.school_token(school)
    answer = client.delete(f"/schools/{school}/revoke-access")
    assert answer.status_code == 200
    assert answer.json() == {"success": True, "state": "revoked", "message": "Access revoked"}
    assert _ids(client, "/schools/revoked") == [school]
    assert school not in _ids(client, "/schools")
    assert client.get(f"/schools/{school}/employees").status_code == 403
    assert WondeClient(emu, token=token).get(f"/schools/{school}").status_code == 401
    state = control.state(school)
    assert (state["state"], state["school_token"]) == ("revoked", None)
    assert client.delete("/schools/A0000000001/revoke-access").status_code == 404


def test_re_request_after_revoke_or_decline_goes_pending(client, control, emu):
    revoked, declined = emu.school_ids()[2], emu.school_ids()[9]
    client.delete(f"/schools/{revoked}/revoke-access")
    client.post(f"/schools/{declined}/request-access")
    control.decline(declined, "No")
    assert _ids(client, "/schools/declined") == [declined]
    for school in (revoked, declined):
        assert client.post(f"/schools/{school}/request-access").json()["state"] == "pending"
    assert _ids(client, "/schools/pending") == sorted(
        [revoked, declined], key=emu.school_ids().index
    )


def test_approve_sends_school_approved_webhook(client, control, emu, webhook_receiver):
    school = emu.school_ids()[11]
    control.configure(webhook_url=webhook_receiver.url)
    client.post(f"/schools/{school}/request-access")
    answer = control.approve(school)
    assert answer["state"] == "audited"
    assert answer["webhook_status"] == 200
    token = answer["school_token"]
    assert len(token) == 40
    name = client.get(f"/schools/{school}").json()["data"]["name"]
    assert [hook["body"] for hook in webhook_receiver.received] == [
        {
            "payload_type": "schoolApproved",
            "school_id": school,
            "school_name": name,
            "school_token": token,
        }
    ]
    assert webhook_receiver.received[0]["path"] == "/hooks/wonde"
    school_client = WondeClient(emu, token=token)
    assert len(school_client.get(f"/schools/{school}/employees").json()["data"]) == 20
    again = control.approve(school)
    assert again["school_token"] != token
    assert school_client.get(f"/schools/{school}").status_code == 401


def test_approve_without_audit_lists_the_school_but_hides_data(client, control, emu):
    school = emu.school_ids()[12]
    answer = control.approve(school, audited=False)
    assert answer["state"] == "approved"
    assert school in _ids(client, "/schools")
    assert school not in _ids(client, "/schools/audited")
    assert client.get(f"/schools/{school}/employees").status_code == 403


def test_decline_and_revoke_send_webhooks_with_reasons(client, control, emu, webhook_receiver):
    declined, revoked = emu.school_ids()[13], emu.school_ids()[0]
    control.configure(webhook_url=webhook_receiver.url)
    token = control.school_token(revoked)
    control.decline(declined, "Not needed")
    answer = control.revoke(revoked, "Contract ended")
    assert answer["state"] == "revoked" and answer["school_token"] is None
    bodies = [hook["body"] for hook in webhook_receiver.received]
    assert [b["payload_type"] for b in bodies] == ["accessDeclined", "accessRevoked"]
    assert bodies[0]["decline_reason"] == "Not needed"
    assert bodies[0]["school_id"] == declined
    assert bodies[1]["revoke_reason"] == "Contract ended"
    assert bodies[1]["school_id"] == revoked
    assert all(b["school_name"] for b in bodies)
    assert WondeClient(emu, token=token).get(f"/schools/{revoked}").status_code == 401
    assert _ids(client, "/schools/declined") == [declined]


def test_webhook_secret_is_appended_to_the_url(client, control, emu, webhook_receiver):
    secret = "a+b/c=="
    control.configure(webhook_url=webhook_receiver.url + "?site=1", webhook_secret=secret)
    control.approve(emu.school_ids()[14])
    query = parse_qs(urlsplit(webhook_receiver.received[0]["path"]).query)
    assert query == {"site": ["1"], "secret": [secret]}


def test_webhook_failures_are_recorded_not_raised(client, control, emu, webhook_receiver):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    control.configure(webhook_url=f"http://127.0.0.1:{dead_port}/x")
    answer = control.approve(emu.school_ids()[15])
    assert answer["state"] == "audited"
    assert answer["webhook_status"] is None
    assert answer["webhook_error"]
    control.configure(webhook_url=webhook_receiver.url)
    webhook_receiver.answer_status = 503
    answer = control.approve(emu.school_ids()[16])
    assert answer["webhook_status"] == 503
    log = control.deliveries()
    assert [entry["status"] for entry in log] == [None, 503]


def test_no_webhook_without_url(client, control, emu):
    answer = control.approve(emu.school_ids()[17])
    assert answer["webhook_status"] is None
    assert answer["webhook_error"] is None
    assert control.deliveries() == []


def test_control_rejects_unknown_school_and_bad_bodies(client, control):
    assert control.request("POST", "/schools/A0000000001/approve").status_code == 404
    assert control.request("GET", "/schools/A0000000001/state").status_code == 404
    assert control.request("POST", "/config", {"colour": "blue"}).status_code == 400
    assert control.request("POST", "/config", {"next_host": 5}).status_code == 400
