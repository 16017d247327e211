"""A database that cannot be reached: 503 with a plain message, never a traceback."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

UNREACHABLE = [
    "sqlite:////nonexistent-folder-for-calm-tests/calm.db",
    "postgresql+psycopg://calm@127.0.0.1:9/calm?connect_timeout=5",
]
SERVICE_TOKEN = {"Authorization": "Bearer cwt_" + "x" * 43}
MESSAGE = "The CalmCompliance database is not available; try again."


@pytest.fixture(params=UNREACHABLE, ids=["sqlite", "postgresql"])
def unreachable(request):
    """An engine on a database that does not answer."""
    engine = sa.create_engine(request.param)
    yield engine
    engine.dispose()


def test_the_connection_api_answers_503(unreachable):
    from wonde_sync.web.api import create_app

    with TestClient(create_app(engine=unreachable, webhook_secret="x")) as client:
        for path in ("/schools/search?q=ab", "/connections", "/sites/site-a/connection"):
            answer = client.get(path, headers=SERVICE_TOKEN)
            assert (answer.status_code, answer.json()) == (503, {"detail": MESSAGE})
        # Without a token nothing is read: still 401.
        assert client.get("/connections").status_code == 401


def test_the_details_answer_503_as_json_and_as_a_page(unreachable):
    from wonde_sync.web.ui import create_app

    with TestClient(create_app(engine=unreachable)) as client:
        answer = client.get("/api/overview", headers=SERVICE_TOKEN)
        assert (answer.status_code, answer.json()) == (503, {"detail": MESSAGE})
        page = client.get("/", headers=SERVICE_TOKEN)
        assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
        assert MESSAGE in page.text
