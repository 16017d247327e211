"""Searching the catalog from Settings > Integrations: edge cases, ranking, result fields."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from wonde_sync.catalog import queries, rebuild
from wonde_sync.core import sync_history


def school(n: int, name: str, postcode: str, urn: int, **extra) -> dict:
    return {
        "id": f"A{1000000000 + n}",
        "name": name,
        "urn": urn,
        "la_code": "931",
        "establishment_number": str(3000 + n),
        "phase_of_education": "PRIMARY",
        "mis": "SIMS",
        "address": {
            "address_line_1": f"{n} Church Lane",
            "address_line_2": None,
            "address_town": "Oxford",
            "address_postcode": postcode,
        },
        **extra,
    }


DIRECTORY = [
    school(1, "St Mary's C of E Primary School", "OX4 1AA", 123001),
    school(2, "Foxhill Primary School", "CB21 5AB", 123002),
    school(3, "Oxley Park Academy", "MK4 4TA", 123003),
    school(4, "St. John's Catholic School", "SW1A 2BB", 123004),
    school(5, "Ysgol Gymraeg Bro Ogwr", "CF31 1AA", 401234),
    school(6, "School 401234 Test", "LS1 1AA", 123006),
    school(7, "O'Connell High School", "M1 1AA", 123007),
]


@pytest.fixture
def directory(engine, world_api):
    run_id = sync_history.start_run(engine, "catalog")
    rebuild.stage(engine, run_id, [DIRECTORY])
    rebuild.publish(engine, run_id, started_at=datetime.now(UTC), dag_run_id=None)
    return engine


@pytest.fixture
def world_api(engine):
    """The API with one authenticated caller (searching needs no site)."""
    from fastapi.testclient import TestClient

    from wonde_sync.admin import api_tokens
    from wonde_sync.web.api import create_app

    token = api_tokens.create_api_token(engine, "ann@site-a").token
    with TestClient(create_app(engine=engine, webhook_secret="x")) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def names(client, query: str, **params) -> list[str]:
    answer = client.get("/schools/search", params={"q": query, **params})
    assert answer.status_code == 200, answer.text
    return [r["name"] for r in answer.json()["results"]]


@pytest.mark.parametrize("query", ["", "a", " a ", "'", "'.", "  ", "7"])
def test_fewer_than_two_characters(world_api, directory, query):
    answer = world_api.get("/schools/search", params={"q": query})
    assert answer.status_code == 422
    assert answer.json()["detail"] == "Enter at least 2 characters to search"
    assert answer.json()["errors"] == {"q": ["Enter at least 2 characters to search"]}
    with pytest.raises(queries.SearchQueryError, match="Enter at least 2 characters to search"):
        queries.search_schools(directory, query)


def test_exact_urn_comes_first(world_api, directory):
    assert names(world_api, "401234") == ["Ysgol Gymraeg Bro Ogwr", "School 401234 Test"]
    assert names(world_api, " 123004 ") == ["St. John's Catholic School"]


@pytest.mark.parametrize("query", ["CB21 5AB", "cb215ab", "cb21  5ab", "Cb21", "CB2"])
def test_postcode_with_or_without_space_any_case(world_api, directory, query):
    assert names(world_api, query) == ["Foxhill Primary School"]


def test_ranking_postcode_then_name_prefix_then_contains(world_api, directory):
    # OX4 1AA is a postcode prefix; "Oxley..." starts with it; "Foxhill" contains it.
    assert names(world_api, "ox") == [
        "St Mary's C of E Primary School",
        "Oxley Park Academy",
        "Foxhill Primary School",
    ]


@pytest.mark.parametrize(
    "query",
    ["st mary's", "ST MARYS", "St Mary\u2019s", "st. mary's", "sT   mArY", "marys c of e"],
)
def test_mixed_case_and_apostrophes(world_api, directory, query):
    assert names(world_api, query) == ["St Mary's C of E Primary School"]


@pytest.mark.parametrize("query", ["st johns", "St John's", "st. john"])
def test_full_stops_do_not_matter(world_api, directory, query):
    assert names(world_api, query) == ["St. John's Catholic School"]


def test_apostrophe_inside_a_name_and_sql_characters(world_api, directory):
    assert names(world_api, "o'connell") == ["O'Connell High School"]
    assert names(world_api, "oconnell") == ["O'Connell High School"]
    assert names(world_api, "100%") == []
    assert names(world_api, "_%") == []
    assert names(world_api, "'; DROP TABLE wonde_schools; --") == []
    assert queries.catalog_count(directory) == len(DIRECTORY)


def test_no_match_gives_the_hint(world_api, directory):
    answer = world_api.get("/schools/search", params={"q": "zzzz"}).json()
    assert answer["results"] == []
    assert answer["hint"] == "Try searching by name, postcode, or URN"


def test_empty_catalog_says_so(world_api, engine):
    answer = world_api.get("/schools/search", params={"q": "mary"}).json()
    assert answer["results"] == []
    assert answer["hint"] == "The school directory hasn't been synced yet"


def test_each_result_has_what_identifies_a_school(world_api, directory):
    answer = world_api.get("/schools/search", params={"q": "foxhill"}).json()
    assert answer["hint"] is None
    assert answer["results"] == [
        {
            "school_id": "A1000000002",
            "name": "Foxhill Primary School",
            "address": "2 Church Lane, Oxford, CB21 5AB",
            "urn": "123002",
            "la_code": "931",
            "establishment_number": "3002",
            "phase": "PRIMARY",
            "mis": "SIMS",
            "postcode": "CB21 5AB",
        }
    ]


def test_results_are_bounded(world_api, engine):
    many = [school(100 + n, f"Oakfield School {n:03d}", "OX1 1AA", 500000 + n) for n in range(80)]
    run_id = sync_history.start_run(engine, "catalog")
    rebuild.stage(engine, run_id, [many])
    rebuild.publish(engine, run_id, started_at=datetime.now(UTC), dag_run_id=None)
    assert len(names(world_api, "oakfield")) == 20
    assert len(names(world_api, "oakfield", limit=500)) == 50
    assert names(world_api, "oakfield", limit=2) == ["Oakfield School 000", "Oakfield School 001"]
    too_long = world_api.get("/schools/search", params={"q": "x" * 101})
    assert too_long.status_code == 422
    assert world_api.get("/schools/search", params={"q": "oak", "limit": "many"}).status_code == 422
