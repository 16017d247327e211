"""Control API: health, token rotation, request counting, configuration."""

from __future__ import annotations

import requests

from wonde_emulator import Emulator

from .conftest import WondeClient


def test_health(client):
    assert client.ctl("GET", "/health") == {"ok": True}
    assert client.control("GET", "/nothing").status_code == 404


def test_token_rotation(client, emu):
    assert client.ctl("POST", "/tokens/rotate", {"token": "fresh-token"}) == {
        "token": "fresh-token",
    }
    assert client.get("/schools").status_code == 401
    fresh = WondeClient(emu, token="fresh-token")
    assert fresh.get("/schools").status_code == 200
    school = emu.school_ids()[0]
    token = client.ctl("GET", f"/schools/{school}/state")["school_token"]
    assert WondeClient(emu, token=token).get(f"/schools/{school}").status_code == 200
    assert client.control("POST", "/tokens/rotate", {"token": ""}).status_code == 400


def test_request_counting(client, emu):
    school = emu.school_ids()[0]
    client.get("/schools/all")
    client.get("/schools/all/")
    client.get(f"/schools/{school}/employees")
    client.get("/nope")
    client.ctl("GET", "/health")
    assert client.ctl("GET", "/requests") == {
        "total": 4,
        "by_path": {
            "/v1.0/schools/all": 2,
            f"/v1.0/schools/{school}/employees": 1,
            "/v1.0/nope": 1,
        },
    }
    client.ctl("DELETE", "/requests")
    client.ctl("POST", "/faults", {"kind": "status", "status": 500})
    client.get("/schools")
    assert client.ctl("GET", "/requests") == {"total": 1, "by_path": {"/v1.0/schools": 1}}


def test_config_round_trip(client):
    config = client.ctl(
        "POST", "/config", {"webhook_url": "http://x.example/h", "webhook_secret": "s"}
    )
    assert config == {"webhook_url": "http://x.example/h", "webhook_secret": "s", "next_host": None}
    assert client.ctl("POST", "/config", {"webhook_url": None})["webhook_url"] is None
    assert client.ctl("GET", "/config")["webhook_secret"] == "s"


def test_control_body_must_be_json_object(client, emu):
    answer = client.control_http.post(emu.control_url + "/config", data=b"{not json", timeout=10)
    assert answer.status_code == 400
    assert client.control("POST", "/config", [1, 2]).status_code == 400


def test_stop_ends_open_keep_alive_connections():
    emu = Emulator(schools=5, token="t").start()
    client = WondeClient(emu, token="t")
    assert client.get("/schools").status_code == 200  # leaves a pooled connection open
    emu.stop()
    try:
        client.get("/schools")
    except requests.exceptions.ConnectionError:
        pass
    else:
        raise AssertionError("a stopped emulator still answered")
