"""The Airflow plugin: Airflow's own API server app serves the API under /wonde."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_airflow_api_server_mounts_the_wonde_api(airflow_db, tmp_path, monkeypatch):
    from airflow import plugins_manager
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    from wonde_sync.admin import api_tokens
    from wonde_sync.core.database import apply_schema, engine_from_url

    database = tmp_path / "calm.db"
    monkeypatch.setenv(
        "AIRFLOW_CONN_CALM_DB", json.dumps({"conn_type": "sqlite", "host": str(database)})
    )
    monkeypatch.setenv("WONDE_WEBHOOK_SECRET", "plugin+secret/1")
    engine = engine_from_url(f"sqlite:///{database}")
    apply_schema(engine)
    token = api_tokens.create_api_token(engine, "ann").token

    apps, _ = plugins_manager.get_fastapi_plugins()
    assert [(a["name"], a["url_prefix"]) for a in apps if a["name"] == "Wonde"] == [
        ("Wonde", "/wonde")
    ]
    client = TestClient(create_app(apps="core"))
    assert client.get("/wonde/schools/search?q=ab").status_code == 401
    found = client.get("/wonde/schools/search?q=ab", headers={"Authorization": f"Bearer {token}"})
    assert found.status_code == 200
    assert found.json()["hint"] == "The school directory hasn't been synced yet"
    revoke = {"payload_type": "accessRevoked", "school_id": "A1"}
    assert client.post("/wonde/webhooks/wonde?secret=plugin+secret/1", json=revoke).json() == {
        "payload_type": "accessRevoked",
        "school_id": "A1",
        "effect": "unmatched",
        "site_ids": [],
    }
    assert (
        client.post("/wonde/webhooks/wonde?secret=plugin secret/1", json=revoke).status_code == 401
    )
    engine.dispose()
