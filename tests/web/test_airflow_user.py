"""Airflow's own users: the page and JSON served by Airflow's API server app, in process.

Airflow's auth manager validates the JWT its UI keeps in the ``_token`` cookie; an Airflow
user sees every site. One database for the whole test (SQLite): the plugin's app is a
process-wide singleton that keeps the first ``calm_db`` it opens.
"""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def airflow_client(airflow_db, tmp_path, monkeypatch):
    """Airflow's API server app (core API, plugins, auth manager) on a fresh CalmCompliance DB."""
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    from wonde_sync.admin import api_tokens, sites
    from wonde_sync.core import sync_history
    from wonde_sync.core.database import apply_schema, engine_from_url

    database = tmp_path / "calm.db"
    monkeypatch.setenv(
        "AIRFLOW_CONN_CALM_DB", json.dumps({"conn_type": "sqlite", "host": str(database)})
    )
    engine = engine_from_url(f"sqlite:///{database}")
    apply_schema(engine)
    for site_id, name in (("ashdown", "Ashdown Academy"), ("beacon", "Beacon School")):
        sites.add_site(engine, site_id, name)
    run_id = sync_history.start_run(engine, "full_import", site_id="beacon")
    sync_history.fail_run(engine, run_id, "Import failed: Wonde rejected the token (401)")
    token = api_tokens.create_api_token(engine, "ann").token
    api_tokens.grant_site_admin(engine, "ann", "ashdown")
    client = TestClient(create_app(apps="core"))
    yield client, token
    engine.dispose()


def jwt_for(username: str, role: str | None) -> str:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=username, role=role))


@pytest.mark.slow
def test_airflow_users_see_every_site_and_others_are_refused(airflow_client):
    client, service_token = airflow_client

    # Not signed in: the page sends the browser to Airflow's login, the JSON is 401.
    page = client.get("/wonde/ui/", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/auth/login?next=")
    assert "%2Fwonde%2Fui%2F" in page.headers["location"]
    assert client.get("/wonde/ui/api/overview").status_code == 401

    # Airflow's UI cookie: every site.
    client.cookies.set("_token", jwt_for("ops", "viewer"))
    body = client.get("/wonde/ui/api/overview").json()
    # A viewer's role may read but not start DAG runs, so it may not approve or undo either.
    assert body["viewer"] == {
        "name": "ops",
        "via": "Airflow user",
        "sites": "all",
        "may_change": False,
    }
    assert [(s["site_id"], s["health"]["state"]) for s in body["sites"]] == [
        ("ashdown", "not_importing"),
        ("beacon", "not_importing"),
    ]
    assert body["catalog"]["warning"] == "The school directory hasn't been synced yet"
    page = client.get("/wonde/ui/")
    assert page.status_code == 200
    assert "Signed in as <b>ops</b> (Airflow user)" in page.text
    assert "The school directory hasn&#39;t been synced yet" in page.text
    assert 'href="/wonde/ui/runs/1"' in page.text
    runs = client.get("/wonde/ui/api/runs?status=Failed").json()
    assert [r["site_id"] for r in runs["data"]] == ["beacon"]
    # By JSON only with the credential in the header (a browser adds the cookie anywhere);
    # and a viewer's role may not approve, in any way.
    cookie_only = client.post("/wonde/ui/api/runs/1/approve")
    assert cookie_only.status_code == 403 and "Authorization: Bearer" in cookie_only.text
    as_viewer = {"Authorization": f"Bearer {jwt_for('ops', 'viewer')}"}
    refused = client.post("/wonde/ui/api/runs/1/approve", headers=as_viewer)
    assert refused.status_code == 403 and "may not start DAG runs" in refused.text

    # A service token sent alongside the cookie wins, with its narrower view.
    scoped = client.get(
        "/wonde/ui/api/overview", headers={"Authorization": f"Bearer {service_token}"}
    ).json()
    assert [s["site_id"] for s in scoped["sites"]] == ["ashdown"]

    # A tampered or role-less token is not enough.
    client.cookies.set("_token", jwt_for("ops", "viewer")[:-4] + "AAAA")
    assert client.get("/wonde/ui/api/overview").status_code == 401
    client.cookies.set("_token", jwt_for("nobody", None))
    assert client.get("/wonde/ui/api/overview").status_code == 403
    client.cookies.clear()

    # An Airflow API token (Authorization: Bearer <JWT>) works like the cookie.
    bearer = {"Authorization": f"Bearer {jwt_for('ops', 'admin')}"}
    as_admin = client.get("/wonde/ui/api/overview", headers=bearer).json()
    assert len(as_admin["sites"]) == 2 and as_admin["viewer"]["may_change"] is True

    # No API documentation under either mount, signed in or not.
    for prefix in ("/wonde", "/wonde/ui"):
        for path in ("/docs", "/redoc", "/openapi.json", "/api/openapi.json"):
            assert client.get(prefix + path).status_code == 404
            assert client.get(prefix + path, headers=bearer).status_code == 404
