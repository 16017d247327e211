"""Fault injection: error statuses, Retry-After, slow answers, truncation, resets, empty pages."""

from __future__ import annotations

import socket

import pytest
import requests

from .conftest import APP_TOKEN


def test_429_with_retry_after_fires_once(client, control):
    fault = control.fault(kind="status", status=429, retry_after=2)
    assert fault["id"]
    answer = client.get("/schools/all")
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "2"
    assert answer.json()["error"]
    assert client.get("/schools/all").status_code == 200
    listed = control.faults()
    assert [(f["id"], f["fired"]) for f in listed] == [(fault["id"], 1)]


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_error_statuses(client, control, status):
    control.fault(kind="status", status=status, retry_after=1)
    answer = client.get("/schools")
    assert answer.status_code == status
    assert ("Retry-After" in answer.headers) == (status == 503)
    assert int(answer.headers["Content-Length"]) == len(answer.content)
    assert client.get("/schools").status_code == 200


def test_skip_path_and_times(client, control, emu):
    school = emu.school_ids()[0]
    control.fault(kind="status", status=500, path_contains="/employees", skip=1, times=2)
    assert client.get("/schools/all").status_code == 200
    path = f"/schools/{school}/employees"
    assert [client.get(path).status_code for _ in range(4)] == [200, 500, 500, 200]
    assert control.faults()[0]["fired"] == 2


def test_forever_until_cleared(client, control):
    control.fault(kind="status", status=503, times=None)
    assert [client.get("/schools").status_code for _ in range(3)] == [503, 503, 503]
    assert control.health() == {"ok": True}  # control paths are never faulted
    control.clear_faults()
    assert control.faults() == []
    assert client.get("/schools").status_code == 200


def test_slow_answers_after_the_delay(client, control):
    control.fault(kind="slow", delay=1.0)
    with pytest.raises(requests.exceptions.ReadTimeout):
        client.http.get(client.url("/schools"), timeout=0.2)
    control.fault(kind="slow", delay=0.05)
    answer = client.get("/schools")
    assert answer.status_code == 200 and len(answer.json()["data"]) == 3


def _raw_get(emu, path):
    """Send one request on a raw socket; return the raw bytes until the server closes."""
    with socket.create_connection(("127.0.0.1", emu.port), timeout=10) as sock:
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{emu.port}\r\n"
            f"Authorization: Bearer {APP_TOKEN}\r\n\r\n".encode()
        )
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
    return b"".join(chunks)


def test_truncate_declares_more_than_it_sends_then_closes(client, control, emu):
    control.fault(kind="truncate", times=2)
    with pytest.raises(
        (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)
    ):
        client.get("/schools/all").json()
    raw = _raw_get(emu, "/v1.0/schools/all")
    head, _, body = raw.partition(b"\r\n\r\n")
    declared = int(
        next(
            line.split(b":")[1]
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
    )
    assert head.startswith(b"HTTP/1.1 200")
    assert 0 < len(body) < declared
    assert client.get("/schools/all").status_code == 200


def test_reset_closes_without_answering(client, control, emu):
    control.fault(kind="reset", times=2)
    with pytest.raises(requests.exceptions.ConnectionError):
        client.get("/schools")
    assert _raw_get(emu, "/v1.0/schools") == b""
    assert client.get("/schools").status_code == 200


def test_empty_answers_an_empty_last_page(client, control):
    control.fault(kind="empty", path_contains="/schools/all")
    body = client.get("/schools/all", params={"per_page": 10, "page": 2}).json()
    assert body["data"] == []
    pagination = body["meta"]["pagination"]
    assert (pagination["more"], pagination["next"]) == (False, None)
    assert (pagination["per_page"], pagination["current_page"]) == (10, 2)
    assert len(client.get("/schools/all").json()["data"]) == 40


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "explode"},
        {"kind": "status"},
        {"kind": "status", "status": 200},
        {"kind": "slow"},
        {"kind": "status", "status": 500, "times": 0},
        {"kind": "status", "status": 500, "skip": -1},
        {"kind": "status", "status": 500, "retry_after": "soon"},
    ],
)
def test_invalid_fault_specs_are_rejected(client, control, spec):
    answer = control.request("POST", "/faults", spec)
    assert answer.status_code == 400
    assert control.faults() == []
