"""Any filter, page or run id sent to the integration details (JSON and pages) is answered
below 500: 200, or a 4xx of the expected class; reading never changes a table.

The world is the seeded one of tests/monitoring (real catalog sync and imports), built once
per test; SQLite by default, PostgreSQL as well with ``CALM_PROPERTY_BACKENDS=all``.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from tests.property.conftest import table_counts
from tests.property.http_inputs import BACKENDS, header_text, numbers, raw_escapes, url_text

pytestmark = pytest.mark.parametrize("calm_db", BACKENDS, indirect=True)

filters = st.one_of(st.none(), url_text.map(quote), raw_escapes)
statuses = st.one_of(filters, st.sampled_from(["Failed", "completed", " PROCESSING "]))
kinds = st.one_of(filters, st.sampled_from(["catalog", "full_import", "incremental_import"]))
run_ids = st.one_of(numbers.map(lambda n: quote(n, safe="")), st.integers(-(2**70), 2**70).map(str))


@pytest.fixture
def details(details_world):
    from wonde_sync.web.ui import create_app

    with TestClient(create_app(engine=details_world.engine)) as client:
        before = table_counts(details_world.engine)
        yield client, details_world
        assert table_counts(details_world.engine) == before


def _query(**values) -> str:
    return "&".join(f"{k}={v}" for k, v in values.items() if v is not None)


def _has_control(escaped: str | None) -> bool:
    from urllib.parse import unquote

    from wonde_sync.core import text_input

    return escaped is not None and text_input.has_control_characters(unquote(escaped))


@given(
    filters,
    statuses,
    kinds,
    st.one_of(st.none(), numbers.map(quote)),
    st.one_of(st.none(), numbers.map(quote)),
)
def test_sync_history_filters_are_answered_or_refused(details, site, status, kind, page, size):
    client, world = details
    query = _query(site=site, status=status, kind=kind, page=page, page_size=size)
    for path in ("/api/runs", "/"):
        answer = client.get(f"{path}?{query}", headers=world.auth("ann"))
        assert answer.status_code in (200, 403, 422), (path, query, answer.text[:300])
        if any(_has_control(v) for v in (site, status, kind)):
            assert answer.status_code == 422


@given(run_ids, st.sampled_from(["/api/runs/{}", "/runs/{}", "/runs/{}/issues.csv"]))
def test_any_run_id_is_a_run_or_a_4xx(details, run_id, route):
    client, world = details
    answer = client.get(route.format(run_id), headers=world.auth("ann"))
    assert answer.status_code in (200, 404, 422), (route, run_id, answer.text[:300])


@given(
    st.sampled_from(["/api/overview", "/api/runs", "/api/runs/1"]),
    st.one_of(st.none(), header_text.map(lambda t: f"Bearer {t}"), header_text),
    st.one_of(st.none(), header_text),
)
def test_json_without_credentials_is_401(details, path, authorization, cookie):
    client, _ = details
    headers = {} if authorization is None else {"Authorization": authorization.encode("latin-1")}
    if cookie is not None:
        headers["Cookie"] = f"_token={quote(cookie)}".encode("latin-1")
    answer = client.get(path, headers=headers)
    assert answer.status_code == 401, answer.text[:300]
    assert answer.headers["content-type"].startswith("application/json")
