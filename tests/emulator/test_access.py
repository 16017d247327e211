"""Access lifecycle: school lists, request-access, revoke-access, control approvals, webhooks."""

from __future__ import annotations

import socket
from urllib.parse import parse_qs, urlsplit

import pytest

from .conftest import WondeClient


def _ids(client, path):
    return [school["id"] for school in client.all(path)]


def test_initial_lists(client, emu):
    ids = emu.school_ids()
    assert _ids(client, "/schools") == ids[:3]
    assert _ids(client, "/schools/audited") == ids[:3]
    for path in ("/schools/pending", "/schools/declined", "/schools/revoked", "/schools/offline"):
        assert _ids(client, path) == []
    for school in ids[3:6]:
        assert client.ctl("GET", f"/schools/{school}/state") == {
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


def test_request_access_keeps_contacts(client, emu):
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
    state = client.ctl("GET", f"/schools/{school}/state")
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
def test_request_access_422_when_a_contact_lacks_a_name(client, emu, contact, field):
    school = emu.school_ids()[7]
    answer = client.post(f"/schools/{school}/request-access", json={"contacts": [contact]})
    assert answer.status_code == 422
    body = answer.json()
    assert body["error"] == "validation_failed"
    assert list(body["errors"]) == [field]
    assert isinstance(body["errors"][field][0], str)
    assert client.ctl("GET", f"/schools/{school}/state")["state"] == "none"


def test_request_access_unknown_school_is_404(client):
    assert client.post("/schools/A0000000001/request-access").status_code == 404


def test_request_access_does_not_downgrade_an_approved_school(client, emu):
    school = emu.school_ids()[0]
    token = client.ctl("GET", f"/schools/{school}/state")["school_token"]
    answer = client.post(f"/schools/{school}/request-access", json=[])
    assert answer.json()["state"] == "audited"
    assert client.ctl("GET", f"/schools/{school}/state")["school_token"] == token


def test_revoke_access_invalidates_the_school_token(client, emu):
    school = emu.school_ids()[1]
    token = client.ctl("GET", f"/schools/{school}/state")["school_token"]
    answer = client.delete(f"/schools/{school}/revoke-access")
    assert answer.status_code == 200
    assert answer.json() == {"success": True, "state": "revoked", "message": "Access revoked"}
    assert _ids(client, "/schools/revoked") == [school]
    assert school not in _ids(client, "/schools")
    assert client.get(f"/schools/{school}/employees").status_code == 403
    assert WondeClient(emu, token=token).get(f"/schools/{school}").status_code == 401
    state = client.ctl("GET", f"/schools/{school}/state")
    assert (state["state"], state["school_token"]) == ("revoked", None)
    assert client.delete("/schools/A0000000001/revoke-access").status_code == 404


def test_re_request_after_revoke_or_decline_goes_pending(client, emu):
    revoked, declined = emu.school_ids()[2], emu.school_ids()[9]
    client.delete(f"/schools/{revoked}/revoke-access")
    client.post(f"/schools/{declined}/request-access")
    client.ctl("POST", f"/schools/{declined}/decline", {"reason": "No"})
    assert _ids(client, "/schools/declined") == [declined]
    for school in (revoked, declined):
        assert client.post(f"/schools/{school}/request-access").json()["state"] == "pending"
    assert _ids(client, "/schools/pending") == sorted(
        [revoked, declined], key=emu.school_ids().index
    )


def test_approve_sends_school_approved_webhook(client, emu, webhook_receiver):
    school = emu.school_ids()[11]
    client.ctl("POST", "/config", {"webhook_url": webhook_receiver.url})
    client.post(f"/schools/{school}/request-access")
    answer = client.ctl("POST", f"/schools/{school}/approve")
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
    again = client.ctl("POST", f"/schools/{school}/approve")
    assert again["school_token"] != token
    assert school_client.get(f"/schools/{school}").status_code == 401


def test_approve_without_audit_lists_the_school_but_hides_data(client, emu):
    school = emu.school_ids()[12]
    answer = client.ctl("POST", f"/schools/{school}/approve", {"audited": False})
    assert answer["state"] == "approved"
    assert school in _ids(client, "/schools")
    assert school not in _ids(client, "/schools/audited")
    assert client.get(f"/schools/{school}/employees").status_code == 403


def test_decline_and_revoke_send_webhooks_with_reasons(client, emu, webhook_receiver):
    declined, revoked = emu.school_ids()[13], emu.school_ids()[0]
    client.ctl("POST", "/config", {"webhook_url": webhook_receiver.url})
    token = client.ctl("GET", f"/schools/{revoked}/state")["school_token"]
    client.ctl("POST", f"/schools/{declined}/decline", {"reason": "Not needed"})
    answer = client.ctl("POST", f"/schools/{revoked}/revoke", {"reason": "Contract ended"})
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


def test_webhook_secret_is_appended_to_the_url(client, emu, webhook_receiver):
    secret = "a+b/c=="
    client.ctl(
        "POST",
        "/config",
        {"webhook_url": webhook_receiver.url + "?site=1", "webhook_secret": secret},
    )
    client.ctl("POST", f"/schools/{emu.school_ids()[14]}/approve")
    query = parse_qs(urlsplit(webhook_receiver.received[0]["path"]).query)
    assert query == {"site": ["1"], "secret": [secret]}


def test_webhook_failures_are_recorded_not_raised(client, emu, webhook_receiver):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    client.ctl("POST", "/config", {"webhook_url": f"http://127.0.0.1:{dead_port}/x"})
    answer = client.ctl("POST", f"/schools/{emu.school_ids()[15]}/approve")
    assert answer["state"] == "audited"
    assert answer["webhook_status"] is None
    assert answer["webhook_error"]
    client.ctl("POST", "/config", {"webhook_url": webhook_receiver.url})
    webhook_receiver.answer_status = 503
    answer = client.ctl("POST", f"/schools/{emu.school_ids()[16]}/approve")
    assert answer["webhook_status"] == 503
    log = client.ctl("GET", "/webhooks")["data"]
    assert [entry["status"] for entry in log] == [None, 503]


def test_no_webhook_without_url(client, emu):
    answer = client.ctl("POST", f"/schools/{emu.school_ids()[17]}/approve")
    assert answer["webhook_status"] is None
    assert answer["webhook_error"] is None
    assert client.ctl("GET", "/webhooks") == {"data": []}


def test_control_rejects_unknown_school_and_bad_bodies(client):
    assert client.control("POST", "/schools/A0000000001/approve").status_code == 404
    assert client.control("GET", "/schools/A0000000001/state").status_code == 404
    assert client.control("POST", "/config", {"colour": "blue"}).status_code == 400
    assert client.control("POST", "/config", {"next_host": 5}).status_code == 400
