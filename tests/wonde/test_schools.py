"""Per-school clients (region domain, school token) and the write endpoints."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from wonde_sync.wonde.errors import WondeAuthError, WondeForbiddenError

from .conftest import APP_TOKEN


def _school_on_other_host(other_host, client):
    for school in client.iter_records("schools/all"):
        if school["region"]["domain"] == other_host:
            return school
    pytest.fail("the emulator has no school on the other host")


def test_for_school_uses_the_region_domain(emu, other_host, control, make_client, secret_watch):
    client = make_client()
    school = _school_on_other_host(other_host, client)
    control.approve(school["id"])

    school_client = client.for_school(school)

    assert school_client.base_url == f"http://{other_host}/v1.0"  # scheme and path kept
    staff = list(school_client.iter_records(f"schools/{school['id']}/employees"))
    assert len(staff) == 12
    assert len({person["id"] for person in staff}) == 12
    # The same call on the wrong host returns no data (as Wonde does).
    assert list(client.iter_records(f"schools/{school['id']}/employees")) == []
    assert school_client.request_count == 1
    secret_watch.assert_clean(client, school_client)


def test_for_school_keeps_the_client_settings(emu, make_client):
    client = make_client(per_page=7, timeout=3.0, max_attempts=2, backoff_max=0.5)
    school = client.get(f"schools/{emu.school_ids()[0]}")
    school_client = client.for_school(school)
    assert (
        school_client.per_page,
        school_client.timeout,
        school_client.max_attempts,
        school_client.backoff_max,
    ) == (7, 3.0, 2, 0.5)
    assert school_client.conn_id == client.conn_id
    assert urlsplit(school_client.base_url).netloc == school["region"]["domain"]


def test_school_token_works_for_its_school(emu, control, make_client, secret_watch):
    school_id = emu.school_ids()[0]  # approved
    school_token = control.school_token(school_id)
    assert school_token and school_token != APP_TOKEN
    secret_watch.add(school_token)
    client = make_client()
    school = client.get(f"schools/{school_id}")

    school_client = client.for_school(school, school_token=school_token)
    control.rotate_token("rotated-app-token-31415")  # the app token no longer works ...
    secret_watch.add("rotated-app-token-31415")

    staff = list(school_client.iter_records(f"schools/{school_id}/employees"))
    assert len(staff) == 12  # ... but the school token does
    with pytest.raises(WondeAuthError):
        client.get(f"schools/{school_id}")
    assert "school token" in repr(school_client)
    secret_watch.assert_clean(client, school_client)


def test_school_token_is_refused_for_another_school(emu, control, make_client, secret_watch):
    first, second = emu.school_ids()[:2]  # both approved
    school_token = control.school_token(first)
    secret_watch.add(school_token)
    client = make_client()
    other = client.for_school(client.get(f"schools/{second}"), school_token=school_token)

    with pytest.raises(WondeForbiddenError) as raised:  # the emulator answers 403
        list(other.iter_records(f"schools/{second}/employees"))

    assert raised.value.status == 403
    assert other.request_count == 1
    secret_watch.assert_clean(raised.value, other)


def test_request_access_and_revoke(emu, make_client, secret_watch):
    school_id = emu.school_ids()[20]
    client = make_client()
    contact = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email_address": "ada@example.org",
        "phone_number": "01234 567890",
        "notes": "DSL",
    }

    requested = client.post(f"/schools/{school_id}/request-access", json={"contacts": [contact]})
    assert requested["success"] is True
    assert requested["state"] == "pending"

    revoked = client.delete(f"schools/{school_id}/revoke-access")
    assert revoked["success"] is True
    assert revoked["state"] == "revoked"
    assert client.request_count == 2
    secret_watch.assert_clean(client)


def test_writes_are_retried_on_transient_faults(emu, control, make_client, secret_watch):
    school_id = emu.school_ids()[21]
    control.fault(kind="status", status=503, path_contains="request-access", times=1)
    client = make_client()
    requested = client.post(f"schools/{school_id}/request-access", json={"contacts": []})
    assert requested["state"] == "pending"
    assert client.request_count == 2
    assert len(secret_watch.warnings()) == 1
    secret_watch.assert_clean(client)


def test_repr_and_str_never_show_a_token(emu, other_host, make_client, secret_watch):
    school_token = "school-token-2718281828"
    secret_watch.add(school_token)
    client = make_client()
    client.get(f"schools/{emu.school_ids()[0]}")
    school_client = client.for_school(
        {"id": "X", "region": {"domain": other_host}}, school_token=school_token
    )
    for text in (repr(client), str(client), repr(school_client), str(school_client)):
        assert APP_TOKEN not in text
        assert school_token not in text
    assert "masked" in repr(client)
    secret_watch.assert_clean(client, school_client)


def test_a_wrong_school_token_is_an_auth_error_about_the_school_token(
    emu, make_client, secret_watch
):
    bogus = "bogus-school-token-1234567"
    secret_watch.add(bogus)
    client = make_client()
    school_id = emu.school_ids()[0]
    school_client = client.for_school(client.get(f"schools/{school_id}"), school_token=bogus)

    with pytest.raises(WondeAuthError) as raised:
        school_client.get(f"schools/{school_id}")

    assert raised.value.status == 401
    assert "check the school token" in str(raised.value)
    assert "connection" not in str(raised.value)
    secret_watch.assert_clean(raised.value, school_client)
