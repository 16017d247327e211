"""Transient faults: recovered mid-stream without duplicates or gaps, or a clear error."""

from __future__ import annotations

import re

import pytest

from wonde_sync.wonde.errors import WondeTransientError
from wonde_sync.wonde.retries import parse_retry_after as _parse_retry_after

PAGES = 6  # 60 schools at per_page 10

FAULTS = {
    "429 with Retry-After": {"kind": "status", "status": 429, "retry_after": 0},
    "500": {"kind": "status", "status": 500},
    "502": {"kind": "status", "status": 502},
    "503": {"kind": "status", "status": 503},
    "slow beyond the timeout": {"kind": "slow", "delay": 1.5},
    "truncated body": {"kind": "truncate"},
    "connection reset": {"kind": "reset"},
}


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
def test_recovers_mid_stream_without_duplicates_or_gaps(
    emu, control, make_client, secret_watch, fault
):
    control.fault(**fault, path_contains="/schools/all", skip=2, times=2)
    client = make_client(per_page=10, timeout=0.5, max_attempts=4)

    pages = list(client.iter_pages("schools/all"))

    ids = [record["id"] for page in pages for record in page.records]
    assert ids == list(emu.school_ids())  # in order: no duplicate, no gap
    assert [page.number for page in pages] == list(range(1, PAGES + 1))
    assert client.request_count == PAGES + 2  # two failed attempts on page 3, then success
    warnings = secret_watch.warnings()
    assert len(warnings) == 2
    assert all("/schools/all" in w and "attempt" in w and "retrying in" in w for w in warnings)
    assert "page=3" in warnings[0]  # the third request (page 3) was the one retried
    if fault["kind"] == "status":
        assert f"HTTP {fault['status']}" in warnings[0]
    secret_watch.assert_clean(client)


def test_retry_after_is_honoured_and_capped(control, make_client, secret_watch):
    # backoff_initial would wait 0.01 s; the server asks for 5 s, capped at backoff_max.
    control.fault(kind="status", status=429, retry_after=5, path_contains="/schools/all", times=1)
    client = make_client(per_page=100, backoff_initial=0.01, backoff_max=0.2)
    assert len(list(client.iter_records("schools/all"))) == 60
    [warning] = secret_watch.warnings()
    assert "HTTP 429" in warning
    assert warning.endswith("retrying in 0.20 s")


def test_retry_after_zero_overrides_the_exponential_backoff(control, make_client, secret_watch):
    control.fault(kind="status", status=503, retry_after=0, path_contains="/schools/all", times=1)
    client = make_client(per_page=100, backoff_initial=0.04, backoff_max=1.0)
    assert len(list(client.iter_records("schools/all"))) == 60
    [warning] = secret_watch.warnings()
    assert warning.endswith("retrying in 0.00 s")


def test_backoff_doubles_and_is_capped(control, make_client, secret_watch):
    control.fault(kind="status", status=500, path_contains="/schools/all", times=4)
    client = make_client(per_page=100, max_attempts=5, backoff_initial=0.01, backoff_max=0.03)
    assert len(list(client.iter_records("schools/all"))) == 60
    waits = [re.search(r"retrying in ([\d.]+) s", w).group(1) for w in secret_watch.warnings()]
    assert waits == ["0.01", "0.02", "0.03", "0.03"]


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ({"kind": "status", "status": 503}, "HTTP 503"),
        ({"kind": "reset"}, "connection failed"),
        ({"kind": "slow", "delay": 1.0}, "no answer within 0.3 s"),
    ],
    ids=["503", "reset", "timeout"],
)
def test_exhaustion_raises_a_clear_transient_error(
    emu, control, make_client, secret_watch, fault, reason
):
    control.fault(**fault, path_contains="/schools/all", times=None)
    client = make_client(per_page=25, max_attempts=3, timeout=0.3)

    with pytest.raises(WondeTransientError) as raised:
        list(client.iter_records("schools/all"))

    error = raised.value
    message = str(error)
    assert "after 3 attempt(s)" in message
    assert reason in message
    assert f"GET {emu.api_url}/schools/all?per_page=25" in message
    assert error.url == f"{emu.api_url}/schools/all?per_page=25"
    assert error.attempts == 3
    assert error.status == fault.get("status")
    assert client.request_count == 3
    assert len(secret_watch.warnings()) == 2  # a warning before each of the 2 retries
    secret_watch.assert_clean(error, client)


def test_exhaustion_after_some_pages_were_streamed(control, make_client):
    control.fault(kind="status", status=502, path_contains="/schools/all", skip=1, times=None)
    client = make_client(per_page=25, max_attempts=2)
    pages = client.iter_pages("schools/all")
    assert len(next(pages).records) == 25
    with pytest.raises(WondeTransientError, match="page=2"):
        next(pages)


def test_a_single_attempt_does_not_retry(control, make_client):
    control.fault(kind="status", status=500, path_contains="/schools/all", times=1)
    client = make_client(max_attempts=1)
    with pytest.raises(WondeTransientError, match=r"after 1 attempt\(s\)"):
        client.get("schools/all")
    assert client.request_count == 1


def test_an_empty_page_mid_stream_ends_it_with_a_warning(control, make_client, secret_watch):
    # The emulator's "empty" fault answers 200 with a valid, empty last page: nothing in the
    # envelope says it is wrong, so the stream ends there; the client says so in a warning.
    control.fault(kind="empty", path_contains="/schools/all", skip=2, times=1)
    client = make_client(per_page=10)
    pages = list(client.iter_pages("schools/all"))
    assert [len(page.records) for page in pages] == [10, 10, 0]
    [warning] = secret_watch.warnings()
    assert "page 3" in warning and "empty although the previous page announced more" in warning


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("3", 3.0),
        ("0.5", 0.5),
        ("-4", 0.0),
        ("soon", None),
        ("nan", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
    ],
)
def test_retry_after_header_parsing(header, expected):
    assert _parse_retry_after(header) == expected


@pytest.mark.parametrize(
    "raw", [b"", b'{"data": [1, 2', b"<html>oops</html>"], ids=["empty", "cut JSON", "not JSON"]
)
def test_a_200_with_a_bad_body_is_retried(stub, make_client, secret_watch, raw):
    stub.then("/v1.0/schools/A1", raw)
    stub.then("/v1.0/schools/A1", b'{"data": {"id": "A1"}}')
    client = make_client()
    assert client.get("schools/A1") == {"id": "A1"}
    assert client.request_count == 2
    [warning] = secret_watch.warnings()
    assert "HTTP 200 with an" in warning
    secret_watch.assert_clean(client)


def test_an_empty_write_answer_is_none(stub, make_client):
    stub.then("/v1.0/schools/A1/revoke-access", b"", status=204)
    stub.then("/v1.0/schools/A1/request-access", b"")
    client = make_client()
    assert client.delete("schools/A1/revoke-access") is None
    assert client.post("schools/A1/request-access", json={"contacts": []}) is None
    assert client.request_count == 2  # not retried: a write may answer without a body
