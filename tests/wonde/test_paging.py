"""Paging: streaming, laziness, following ``next`` verbatim, stop conditions, loop guard."""

from __future__ import annotations

import inspect
import itertools
from urllib.parse import parse_qs, urlsplit

import pytest
from airflow.sdk import BaseHook

from tests.support.emulator_control import EmulatorControl
from wonde_sync.wonde.client import Page, WondeClient
from wonde_sync.wonde.errors import WondeResponseError

from .conftest import APP_TOKEN, CONN_ID


def test_connection_resolves_from_the_environment_outside_a_task(emu):
    conn = BaseHook.get_connection(CONN_ID)
    assert conn.host == emu.api_url
    assert conn.extra_dejson == {"Authorization": f"Bearer {APP_TOKEN}"}
    assert WondeClient().base_url == emu.api_url


def test_a_thousand_schools_in_pages_of_fifty(big_emu, make_client, secret_watch):
    control = EmulatorControl(big_emu)
    client = make_client(per_page=50)
    pages = list(client.iter_pages("schools/all"))

    assert [page.number for page in pages] == list(range(1, 21))
    assert all(isinstance(page, Page) and len(page.records) == 50 for page in pages)
    ids = [record["id"] for page in pages for record in page.records]
    assert ids == list(big_emu.school_ids())
    assert len(set(ids)) == 1000
    assert client.request_count == 20
    assert control.requests_to("/schools/all") == 20
    assert parse_qs(urlsplit(pages[0].url).query)["per_page"] == ["50"]
    secret_watch.assert_clean(client)


def test_iter_records_streams_the_same_records(big_emu, make_client):
    client = make_client(per_page=200)
    records = client.iter_records("/schools/all")  # leading slash tolerated
    assert inspect.isgenerator(records)
    assert [record["id"] for record in records] == list(big_emu.school_ids())
    assert client.request_count == 5


def test_pages_are_fetched_lazily(big_emu, make_client):
    control = EmulatorControl(big_emu)
    client = make_client(per_page=100)
    pages = client.iter_pages("schools/all")
    assert inspect.isgenerator(pages)
    assert control.requests_to("/schools/all") == 0  # nothing sent before iterating

    first = next(pages)
    assert first.number == 1
    assert control.requests_to("/schools/all") == 1
    assert client.request_count == 1

    second = next(pages)
    assert second.number == 2
    assert control.requests_to("/schools/all") == 2
    pages.close()
    assert control.requests_to("/schools/all") == 2


def test_params_are_sent_and_kept_by_next(big_emu, make_client):
    client = make_client(per_page=50)
    everything = list(client.iter_records("schools/all"))
    prefix = everything[0]["address"]["address_postcode"][:1]
    expected = [s["id"] for s in everything if s["address"]["address_postcode"].startswith(prefix)]
    assert len(expected) > 7  # more than one page of 7

    pages = list(client.iter_pages("schools/all", params={"postcode": prefix, "per_page": 7}))

    assert [r["id"] for page in pages for r in page.records] == expected
    assert len(pages) == -(-len(expected) // 7)
    for page in pages:  # the next URLs kept the filter and the caller's per_page
        query = parse_qs(urlsplit(page.url).query)
        assert query["postcode"] == [prefix]
        assert query["per_page"] == ["7"]


def test_next_on_another_host_is_followed_verbatim_with_the_token(
    emu, other_host, control, make_client
):
    control.configure(next_host=other_host)
    client = make_client(per_page=10)
    pages = list(client.iter_pages("schools/all"))

    assert urlsplit(pages[0].url).netloc == urlsplit(emu.api_url).netloc
    assert len(pages) == 6
    assert all(urlsplit(page.url).netloc == other_host for page in pages[1:])
    ids = [record["id"] for page in pages for record in page.records]
    assert ids == list(emu.school_ids())  # the other host answered (token accepted)


def test_empty_collection_is_one_empty_page(emu, make_client):
    client = make_client()
    pages = list(client.iter_pages("schools/all", params={"postcode": "ZZ9 9ZZ"}))
    assert [(page.number, page.records) for page in pages] == [(1, [])]


def test_a_pagination_loop_is_refused(stub, make_client, secret_watch):
    def page(n, next_n):
        return {
            "data": [{"id": f"S{n}"}],
            "meta": {
                "pagination": {
                    "next": f"{stub.url}/v1.0/things?page={next_n}",
                    "previous": None,
                    "more": True,
                    "per_page": 1,
                    "current_page": n,
                }
            },
        }

    stub.json("/v1.0/things?per_page=1", page(1, 2))
    stub.json("/v1.0/things?page=2", page(2, 3))
    stub.json("/v1.0/things?page=3", page(3, 2))
    client = make_client(per_page=1)
    seen = []
    with pytest.raises(WondeResponseError, match="pagination loop") as raised:
        for record in itertools.islice(client.iter_records("things"), 10):  # no hang if broken
            seen.append(record["id"])
    assert seen == ["S1", "S2", "S3"]
    assert stub.hits == ["/v1.0/things?per_page=1", "/v1.0/things?page=2", "/v1.0/things?page=3"]
    secret_watch.assert_clean(raised.value)


def test_stops_when_more_is_false_even_if_next_is_set(stub, make_client):
    stub.json(
        "/v1.0/things?per_page=50",
        {
            "data": [{"id": 1}],
            "meta": {"pagination": {"next": f"{stub.url}/v1.0/things?page=2", "more": False}},
        },
    )
    assert [r["id"] for r in make_client().iter_records("things")] == [1]
    assert stub.hits == ["/v1.0/things?per_page=50"]


def test_stops_when_next_is_null_even_if_more_is_true(stub, make_client):
    stub.json(
        "/v1.0/things?per_page=50",
        {"data": [{"id": 1}], "meta": {"pagination": {"next": None, "more": True}}},
    )
    assert [r["id"] for r in make_client().iter_records("things")] == [1]
    assert len(stub.hits) == 1


def test_the_same_token_is_sent_to_every_page(stub, make_client):
    stub.json(
        "/v1.0/things?per_page=50",
        {
            "data": [1],
            "meta": {"pagination": {"next": f"{stub.url}/v1.0/things?page=2", "more": True}},
        },
    )
    stub.json(
        "/v1.0/things?page=2", {"data": [2], "meta": {"pagination": {"next": None, "more": False}}}
    )
    assert list(make_client().iter_records("things")) == [1, 2]
    assert stub.authorizations == [f"Bearer {APP_TOKEN}"] * 2


def test_a_list_request_on_a_single_resource_is_a_response_error(emu, make_client):
    school_id = emu.school_ids()[0]
    with pytest.raises(WondeResponseError, match="no 'data' list"):
        next(make_client().iter_pages(f"schools/{school_id}"))


def test_get_returns_the_data_object(emu, make_client):
    school_id = emu.school_ids()[0]
    school = make_client().get(f"schools/{school_id}")
    assert school["id"] == school_id
    assert "domain" in school["region"]


def test_a_connection_without_host_is_a_clear_configuration_error(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_WONDE_DEFAULT",
        '{"conn_type": "http", "extra": {"Authorization": "Bearer x-token-123"}}',
    )
    with pytest.raises(ValueError, match="connection 'wonde_default' has no host"):
        WondeClient().get("schools/A1")
