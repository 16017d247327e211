"""Neither app publishes API documentation: no Swagger UI, ReDoc or OpenAPI schema."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

DOC_PATHS = ["/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json", "/api/openapi.json"]


def connection_api():
    from wonde_sync.web.api import create_app

    return create_app(webhook_secret="x")


def details_app():
    from wonde_sync.web.ui import create_app

    return create_app()


@pytest.mark.parametrize("make_app", [connection_api, details_app])
@pytest.mark.parametrize("path", DOC_PATHS)
def test_api_documentation_is_not_served(make_app, path):
    answer = TestClient(make_app()).get(path)
    assert answer.status_code == 404
    assert "swagger" not in answer.text.lower() and "openapi" not in answer.text.lower()
