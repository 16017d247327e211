"""Pagination: envelope keys, termination, links, per_page handling, trailing slashes."""

from __future__ import annotations

from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest

PAGINATION_KEYS = {"next", "previous", "more", "per_page", "current_page"}


def test_collection_envelope_has_data_and_exactly_five_pagination_keys(shared):
    body = shared.get("/schools/all").json()
    assert set(body) == {"data", "meta"}
    assert set(body["meta"]) == {"pagination", "includes"}
    assert set(body["meta"]["pagination"]) == PAGINATION_KEYS
    assert body["meta"]["includes"] == ["cbds"]


def test_following_next_visits_every_school_exactly_once(shared, shared_emu):
    pages = shared.pages("/schools/all", per_page=50)
    assert len(pages) == 5  # 237 schools
    for number, page in enumerate(pages, start=1):
        pagination = page["meta"]["pagination"]
        assert pagination["current_page"] == number
        assert pagination["per_page"] == 50
        if number < len(pages):
            assert pagination["more"] is True
            assert pagination["next"].startswith("http://")
            assert len(page["data"]) == 50
        else:
            assert pagination["more"] is False
            assert pagination["next"] is None
            assert len(page["data"]) == 37
        if number == 1:
            assert pagination["previous"] is None
        else:
            assert parse_qs(urlsplit(pagination["previous"]).query)["page"] == [str(number - 1)]
    ids = [school["id"] for page in pages for school in page["data"]]
    assert ids == shared_emu.school_ids()
    assert len(set(ids)) == len(ids)


def test_next_is_just_page_2_when_no_params_were_given(shared, shared_emu):
    next_url = shared.get("/schools/all").json()["meta"]["pagination"]["next"]
    assert next_url == f"{shared_emu.api_url}/schools/all?page=2"


def test_next_keeps_per_page_include_filters_and_unknown_params(shared, shared_emu):
    school = shared_emu.school_ids()[0]
    first = shared.get(
        f"/schools/{school}/employees",
        params={
            "per_page": 3,
            "include": "employment_details,contact_details",
            "updated_after": "2016-01-01 00:00:00",
            "foo": "bar",
        },
    ).json()
    next_url = first["meta"]["pagination"]["next"]
    assert urlsplit(next_url).path == f"/v1.0/schools/{school}/employees"
    assert parse_qsl(urlsplit(next_url).query) == [
        ("per_page", "3"),
        ("include", "employment_details,contact_details"),
        ("updated_after", "2016-01-01 00:00:00"),
        ("foo", "bar"),
        ("page", "2"),
    ]
    second = shared.http.get(next_url, timeout=10).json()
    assert "employment_details" in second["data"][0]
    assert "contact_details" in second["data"][0]
    assert {p["id"] for p in first["data"]}.isdisjoint({p["id"] for p in second["data"]})


def test_next_keeps_directory_filters(shared):
    pages = shared.pages("/schools/all", postcode="L", per_page=5)
    for page in pages[:-1]:
        assert parse_qs(urlsplit(page["meta"]["pagination"]["next"]).query)["postcode"] == ["L"]
    codes = [school["address"]["address_postcode"] for page in pages for school in page["data"]]
    assert len(pages) > 1
    assert all(code.startswith("L") for code in codes)


def test_per_page_defaults_to_50(shared):
    body = shared.get("/schools/all").json()
    assert body["meta"]["pagination"]["per_page"] == 50
    assert len(body["data"]) == 50


def test_per_page_is_clamped_to_the_maximum_and_echoed(shared):
    body = shared.get("/schools/all", params={"per_page": 1000}).json()
    assert body["meta"]["pagination"]["per_page"] == 200
    assert len(body["data"]) == 200
    assert body["meta"]["pagination"]["more"] is True


def test_page_past_the_end_is_empty_and_final(shared):
    pagination_of = shared.get("/schools/all", params={"page": 99}).json()
    assert pagination_of["data"] == []
    assert pagination_of["meta"]["pagination"]["more"] is False
    assert pagination_of["meta"]["pagination"]["next"] is None
    assert pagination_of["meta"]["pagination"]["current_page"] == 99


def test_empty_collection_is_a_single_final_page(shared):
    body = shared.get("/schools/declined").json()
    assert body["data"] == []
    assert body["meta"]["pagination"] == {
        "next": None,
        "previous": None,
        "more": False,
        "per_page": 50,
        "current_page": 1,
    }


@pytest.mark.parametrize(
    "params",
    [
        {"page": 0},
        {"page": "abc"},
        {"page": -1},
        {"per_page": 0},
        {"per_page": "x"},
        {"per_page": "-5"},
        {"page": "1.5"},
    ],
)
def test_invalid_page_or_per_page_is_a_400_json_error(shared, params):
    answer = shared.get("/schools/all", params=params)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_parameter"


@pytest.mark.parametrize("path", ["/schools/all", "/schools", "/schools/pending"])
def test_trailing_slash_is_accepted(shared, path):
    plain = shared.get(path)
    slashed = shared.get(path + "/")
    assert plain.status_code == slashed.status_code == 200
    assert plain.json()["data"] == slashed.json()["data"]


def test_trailing_slash_on_school_paths(shared, shared_emu):
    school = shared_emu.school_ids()[0]
    assert shared.get(f"/schools/{school}/").json()["data"]["id"] == school
    listed = shared.get(f"/schools/{school}/employees/").json()["data"]
    assert len(listed) == 20
    one = shared.get(f"/schools/{school}/employees/{listed[0]['id']}/").json()
    assert one["data"]["id"] == listed[0]["id"]


def test_links_use_the_host_the_client_used(shared, shared_emu):
    body = shared.get("/schools/all", host="localhost").json()
    assert body["meta"]["pagination"]["next"].startswith(f"http://localhost:{shared_emu.port}/")


def test_next_host_setting_sends_the_client_to_another_host(client, control, emu):
    other = f"localhost:{emu.port}"
    control.configure(next_host=other)
    first = client.get("/schools/all", params={"per_page": 15}).json()
    assert first["meta"]["pagination"]["next"].startswith(f"http://{other}/v1.0/schools/all?")
    schools = client.all("/schools/all", per_page=15)
    assert [s["id"] for s in schools] == emu.school_ids()
    control.configure(next_host=None)
    back = client.get("/schools/all", params={"per_page": 15}).json()
    assert back["meta"]["pagination"]["next"].startswith(emu.api_url)
