"""The integration details' JSON answers hostile numbers and filters with 4xx, never 500."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "path",
    [
        "/api/runs?page=100000000000000000000",
        "/api/runs?page=1000001",
        "/api/runs?page=-1",
        "/api/runs?site=ash%00down",
        "/api/runs?kind=catalog%00",
        "/api/runs?status=%01Failed",
        f"/api/runs/{2**63}",
        f"/api/runs/{10**30}",
        "/api/runs/0",
    ],
)
def test_hostile_query_is_4xx(client, world, path):
    answer = client.get(path, headers=world.auth("ann"))
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.headers["content-type"].startswith("application/json")


def test_the_largest_run_id_is_just_not_found(client, world):
    answer = client.get(f"/api/runs/{2**63 - 1}", headers=world.auth("ann"))
    assert answer.status_code == 404, answer.text
