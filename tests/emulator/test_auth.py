"""Authentication and authorisation: token schemes, 401, per-school scope, 403 before audit."""

from __future__ import annotations

import base64
import http.client

import pytest

from .conftest import APP_TOKEN, WondeClient


def _basic(token: str) -> str:
    return "Basic " + base64.b64encode(f"{token}:".encode()).decode()


@pytest.mark.parametrize(
    "header",
    [f"Bearer {APP_TOKEN}", f"bearer {APP_TOKEN}", f"BEARER {APP_TOKEN}", _basic(APP_TOKEN)],
)
def test_accepted_authorization_headers(client, emu, header):
    answer = client.http.get(emu.api_url + "/schools", headers={"Authorization": header})
    assert answer.status_code == 200
    assert len(answer.json()["data"]) == 3


@pytest.mark.parametrize(
    "header",
    [None, "Bearer wrong", _basic("wrong"), f"Token {APP_TOKEN}", f"Basic {APP_TOKEN}", "Bearer "],
)
def test_unknown_or_missing_token_is_401_json(client, emu, header):
    answer = client.http.get(emu.api_url + "/schools/all", headers={"Authorization": header})
    assert answer.status_code == 401
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json()["error"] == "unauthenticated"
    assert answer.json()["message"]


def test_school_token_reads_only_its_own_school(client, control, emu):
    own, other = emu.school_ids()[0], emu.school_ids()[1]
    token = control.school_token(own)
    assert token
    school_client = WondeClient(emu, token=token)
    assert school_client.get(f"/schools/{own}").status_code == 200
    assert len(school_client.get(f"/schools/{own}/employees").json()["data"]) == 20
    assert school_client.get(f"/schools/{own}/counts?include=employees").status_code == 200
    for path in (
        f"/schools/{other}",
        f"/schools/{other}/employees",
        "/schools/all",
        "/schools",
        f"/meta/schools/{own}",
        f"/schools/{own}x",
    ):
        answer = school_client.get(path)
        assert answer.status_code == 403, path
        assert answer.json()["error"] == "invalid_permissions"


def test_school_data_needs_approval_and_audit(client, control, emu):
    school = emu.school_ids()[10]
    for path in (
        f"/schools/{school}",
        f"/schools/{school}/employees",
        f"/schools/{school}/students",
        f"/schools/{school}/deletions",
        f"/schools/{school}/counts",
    ):
        answer = client.get(path)
        assert answer.status_code == 403, path
        assert answer.json()["error"] == "invalid_permissions"
    control.approve(school, audited=False)
    assert client.get(f"/schools/{school}").status_code == 200
    assert client.get(f"/schools/{school}/employees").status_code == 403
    control.approve(school)
    assert client.get(f"/schools/{school}/employees").status_code == 200


def test_unknown_school_is_404(client):
    for path in (
        "/schools/A0000000000",
        "/schools/A0000000000/employees",
        "/meta/schools/A0000000000",
    ):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert answer.json()["error"] == "not_found"


def test_unknown_path_is_404_and_wrong_method_405(client):
    assert client.get("/nothing-here").status_code == 404
    assert client.post("/schools/all").status_code == 405


def test_keep_alive_reuses_one_connection(client, emu):
    """HTTP/1.1 with Content-Length everywhere: one socket serves many requests."""
    connection = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=10)
    headers = {"Authorization": f"Bearer {APP_TOKEN}"}
    for path in ("/v1.0/schools/all", "/v1.0/schools/nope", "/_emulator/health"):
        connection.request("GET", path, headers=headers)
        answer = connection.getresponse()
        assert answer.version == 11
        assert int(answer.getheader("Content-Length")) == len(answer.read())
        assert not answer.will_close
    sock = connection.sock
    connection.request("GET", "/v1.0/schools", headers=headers)
    connection.getresponse().read()
    assert connection.sock is sock
    connection.close()
