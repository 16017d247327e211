"""Control API: health, token rotation, request counting, configuration."""

from __future__ import annotations

import requests

from wonde_emulator import Emulator

from .conftest import WondeClient


def test_health(client, control):
    assert control.health() == {"ok": True}
    assert control.request("GET", "/nothing").status_code == 404


def test_token_rotation(client, control, emu):
    assert control.rotate_token("fresh-token") == {
        "token": "fresh-token",
    }
    assert client.get("/schools").status_code == 401
    fresh = WondeClient(emu, token="fresh-token")
    assert fresh.get("/schools").status_code == 200
    school = emu.school_ids()[0]
    token = control.school_token(school)
    assert WondeClient(emu, token=token).get(f"/schools/{school}").status_code == 200
    assert control.request("POST", "/tokens/rotate", {"token": ""}).status_code == 400


def test_request_counting(client, control, emu):
    school = emu.school_ids()[0]
    client.get("/schools/all")
    client.get("/schools/all/")
    client.get(f"/schools/{school}/employees")
    client.get("/nope")
    control.health()
    assert control.request_counts() == {
        "total": 4,
        "by_path": {
            "/v1.0/schools/all": 2,
            f"/v1.0/schools/{school}/employees": 1,
            "/v1.0/nope": 1,
        },
    }
    control.reset_request_counts()
    control.fault(kind="status", status=500)
    client.get("/schools")
    assert control.request_counts() == {"total": 1, "by_path": {"/v1.0/schools": 1}}


def test_config_round_trip(client, control):
    config = control.configure(webhook_url="http://x.example/h", webhook_secret="s")
    assert config == {"webhook_url": "http://x.example/h", "webhook_secret": "s", "next_host": None}
    assert control.configure(webhook_url=None)["webhook_url"] is None
    assert control.config()["webhook_secret"] == "s"


def test_control_body_must_be_json_object(client, control):
    answer = control.http.post(f"{control.url}/config", data=b"{not json", timeout=10)
    assert answer.status_code == 400
    assert control.request("POST", "/config", [1, 2]).status_code == 400


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
