"""Permanent errors: typed, not retried, clear, and free of tokens."""

from __future__ import annotations

import pickle

import pytest

from wonde_sync.wonde.errors import (
    WondeAuthError,
    WondeError,
    WondeForbiddenError,
    WondeNotFoundError,
    WondeResponseError,
    WondeTransientError,
    WondeValidationError,
)

from .conftest import CONN_ID


def test_rotated_token_is_a_permanent_auth_error(emu, control, make_client, secret_watch):
    control.rotate_token("rotated-token-0a9b8c7d")
    secret_watch.add("rotated-token-0a9b8c7d")
    client = make_client()

    with pytest.raises(WondeAuthError) as raised:
        next(client.iter_pages("schools/all"))

    error = raised.value
    assert error.status == 401
    assert error.url == f"{emu.api_url}/schools/all?per_page=50"
    assert str(error).startswith(
        f"Wonde rejected the token (401) for GET {emu.api_url}/schools/all?per_page=50: "
        f"check the Authorization header of connection '{CONN_ID}'"
    )
    assert client.request_count == 1  # never retried
    secret_watch.assert_clean(error, client)


def test_unapproved_school_is_forbidden(emu, make_client, secret_watch):
    school_id = emu.school_ids()[-1]  # only the first 3 are approved
    client = make_client()

    with pytest.raises(WondeForbiddenError) as raised:
        list(client.iter_records(f"schools/{school_id}/employees"))

    error = raised.value
    assert error.status == 403
    assert school_id in error.url
    assert "not approved, not audited, or revoked" in str(error)
    assert client.request_count == 1
    secret_watch.assert_clean(error, client)


def test_unknown_school_is_not_found(emu, make_client, secret_watch):
    client = make_client()
    with pytest.raises(WondeNotFoundError) as raised:
        client.get("schools/A0000000000")
    assert raised.value.status == 404
    assert raised.value.url == f"{emu.api_url}/schools/A0000000000"
    assert client.request_count == 1
    secret_watch.assert_clean(raised.value, client)


def test_validation_error_carries_the_errors(emu, make_client, secret_watch):
    school_id = emu.school_ids()[10]
    client = make_client()
    with pytest.raises(WondeValidationError) as raised:
        client.post(
            f"schools/{school_id}/request-access",
            json={"contacts": [{"last_name": "Nofirst", "email_address": "n@example.org"}]},
        )
    error = raised.value
    assert error.status == 422
    assert isinstance(error.errors, dict) and error.errors
    assert "first_name" in str(error.errors)
    assert "422" in str(error)
    assert client.request_count == 1
    secret_watch.assert_clean(error, client)


def test_other_client_errors_are_response_errors(stub, make_client, secret_watch):
    stub.json("/v1.0/teapot", {"error": "bad_request", "message": "x" * 500}, status=400)
    client = make_client()
    with pytest.raises(WondeResponseError) as raised:
        client.get("teapot")
    error = raised.value
    assert error.status == 400
    assert "HTTP 400" in str(error)
    said = str(error).split("Wonde said: ", 1)[1]
    assert said.startswith('{"error": "bad_request"')
    assert said.endswith("...") and len(said) == 203  # body excerpt truncated to 200 chars
    assert client.request_count == 1
    secret_watch.assert_clean(error, client)


def test_a_body_echoing_the_token_is_redacted(stub, make_client, secret_watch):
    from .conftest import APP_TOKEN

    stub.json("/v1.0/echo", {"error": "forbidden", "token": f"Bearer {APP_TOKEN}"}, status=403)
    with pytest.raises(WondeForbiddenError) as raised:
        make_client().get("echo")
    assert "***" in str(raised.value)
    secret_watch.assert_clean(raised.value)


def test_error_hierarchy_and_pickling():
    errors = [
        WondeAuthError("a", status=401, url="u"),
        WondeForbiddenError("f", status=403, url="u"),
        WondeNotFoundError("n", status=404, url="u"),
        WondeResponseError("r", status=400, url="u"),
        WondeTransientError("t", status=503, url="u", attempts=5),
        WondeValidationError("v", url="u", errors={"contacts.0.first_name": ["required"]}),
    ]
    for error in errors:
        assert isinstance(error, WondeError)
        clone = pickle.loads(pickle.dumps(error))
        assert type(clone) is type(error)
        assert (str(clone), clone.status, clone.url) == (str(error), error.status, error.url)
    assert pickle.loads(pickle.dumps(errors[4])).attempts == 5
    assert pickle.loads(pickle.dumps(errors[5])).errors == {"contacts.0.first_name": ["required"]}
    assert errors[5].status == 422
