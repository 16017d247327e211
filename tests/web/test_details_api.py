"""The details app over HTTP with service tokens: JSON, pages, CSV, access rules."""

from __future__ import annotations

import csv
import io

import pytest

from tests.monitoring.seed import EXPECTED_HEALTH
from wonde_sync.admin import api_tokens


@pytest.mark.parametrize(
    "path", ["/api/overview", "/api/runs", "/api/runs/1", "/api/runs?status=Failed"]
)
def test_json_without_credentials_is_401(client, path):
    answer = client.get(path)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert "Ashdown" not in answer.text


@pytest.mark.parametrize("path", ["/", "/runs/1", "/runs/2/issues.csv"])
def test_pages_without_credentials_show_nothing(client, path):
    answer = client.get(path, follow_redirects=False)
    # 401 here; inside Airflow's API server the page sends the browser to Airflow's login.
    assert answer.status_code in (401, 303)
    if answer.status_code == 303:
        assert answer.headers["location"].startswith("/auth/login")
    assert "Ashdown" not in answer.text and "not-an-email" not in answer.text


def test_unknown_and_revoked_tokens_are_401(client, world):
    assert client.get(
        "/api/overview", headers={"Authorization": "Bearer cwt_nope"}
    ).status_code == (401)
    token = api_tokens.list_api_tokens(world.engine, "ann")[0].token_id
    assert client.get("/api/overview", headers=world.auth("ann")).status_code == 200
    api_tokens.revoke_api_token(world.engine, token)
    assert client.get("/api/overview", headers=world.auth("ann")).status_code == 401


def test_a_service_token_sees_only_the_sites_its_user_administers(client, world):
    s = world.seeded
    mine = client.get("/api/overview", headers=world.auth("bea")).json()
    assert mine["viewer"] == {
        "name": "bea",
        "via": "service token",
        "sites": ["beacon", "cedar"],
        "may_change": True,
    }
    assert [(x["site_id"], x["health"]["state"]) for x in mine["sites"]] == [
        ("beacon", "failing"),
        ("cedar", "stale"),
    ]
    assert mine["catalog"]["school_count"] == s.school_count
    runs = client.get("/api/runs", headers=world.auth("bea")).json()
    assert [r["id"] for r in runs["data"]] == [
        s.cedar_run,
        s.beacon_failed_run,
        s.beacon_good_run,
        s.catalog_run,
    ]
    assert client.get("/api/runs?site=ashdown", headers=world.auth("bea")).status_code == 403
    for path in (f"/api/runs/{s.ashdown_run}", f"/runs/{s.ashdown_run}"):
        assert client.get(path, headers=world.auth("bea")).status_code == 404
    answer = client.get(f"/runs/{s.ashdown_run}/issues.csv", headers=world.auth("bea"))
    assert answer.status_code == 404 and s.ashdown_bad_email_id not in answer.text

    nobody = client.get("/api/overview", headers=world.auth("eve")).json()
    assert nobody["sites"] == [] and nobody["viewer"]["sites"] == []
    page = client.get("/", headers=world.auth("eve"))
    assert page.status_code == 200 and "You administer no site." in page.text
    assert "Beacon School" not in page.text


def test_overview_json_carries_counts_reasons_and_next_steps(client, world):
    s = world.seeded
    body = client.get("/api/overview", headers=world.auth("ann")).json()
    (ashdown,) = body["sites"]
    assert ashdown["health"] == {
        "state": "ok",
        "label": "OK",
        "reason": ashdown["health"]["reason"],
        "next_step": None,
    }
    assert ashdown["connection"]["label"] == "Approved" and ashdown["enabled"] is True
    assert ashdown["active_staff"] == s.ashdown_active_staff
    assert {(r["record_type"], r["reason"]): r["count"] for r in ashdown["filtered"]} == (
        s.ashdown_filtered
    )
    assert ashdown["last_import"]["dag_run_id"] == "manual__2026-03-02T03:00:00+00:00"
    assert body["stale_after_hours"] == 36
    assert body["catalog"]["last_full_sync"]["school_count"] == s.school_count


def test_runs_json_filters_and_pages(client, world):
    s = world.seeded
    auth = world.auth("bea")
    failed = client.get("/api/runs?status=Failed", headers=auth).json()
    assert [r["id"] for r in failed["data"]] == [s.beacon_failed_run]
    assert failed["data"][0]["site_name"] == "Beacon School"
    assert failed["data"][0]["kind_label"] == "Full import"
    catalog = client.get("/api/runs?kind=catalog", headers=auth).json()
    assert [r["id"] for r in catalog["data"]] == [s.catalog_run]
    first = client.get("/api/runs?page_size=3", headers=auth).json()
    second = client.get("/api/runs?page_size=3&page=2", headers=auth).json()
    assert (first["total"], first["pages"]) == (4, 2)
    ids = [r["id"] for r in first["data"] + second["data"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 4


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=Done", "status"),
        ("kind=weekly", "kind"),
        ("page=0", "page"),
        ("page_size=x", "page_size"),
    ],
)
def test_bad_filters_are_422_with_the_field(client, world, query, field):
    answer = client.get(f"/api/runs?{query}", headers=world.auth("ann"))
    assert answer.status_code == 422
    assert list(answer.json()["errors"]) == [field]
    page = client.get(f"/?{query}", headers=world.auth("ann"))
    assert page.status_code == 422 and answer.json()["detail"] in page.text


def test_run_json_and_issue_csv(client, world):
    s = world.seeded
    auth = world.auth("ann")
    body = client.get(f"/api/runs/{s.ashdown_run}", headers=auth).json()
    assert body["status"] == "Completed" and body["site_name"] == "Ashdown Academy"
    assert body["issues_total"] == 1
    assert body["issues"][0]["external_id"] == s.ashdown_bad_email_id
    assert body["issues"][0]["reason_label"] == "Invalid email (imported without it)"
    assert body["issues_csv"] == f"/runs/{s.ashdown_run}/issues.csv"
    answer = client.get(body["issues_csv"], headers=auth)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [(r["external_id"], r["reason"]) for r in rows] == [
        (s.ashdown_bad_email_id, "invalid_email")
    ]
    catalog = client.get(f"/api/runs/{s.catalog_run}", headers=world.auth("eve")).json()
    assert catalog["kind"] == "catalog" and catalog["site_id"] is None


def test_the_page_shows_each_site_and_the_history(client, world):
    s = world.seeded
    page = client.get("/", headers=world.auth("bea"))
    assert page.status_code == 200
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert "<script" not in page.text
    for site_id in ("beacon", "cedar"):
        assert f'data-site="{site_id}" data-health="{EXPECTED_HEALTH[site_id]}"' in page.text
    assert "Ashdown Academy" not in page.text
    assert f'href="/runs/{s.beacon_failed_run}"' in page.text
    link = "/dags/wonde_incremental_sync/runs/manual__2026-03-02T03%3A00%3A00%2B00%3A00"
    assert f'href="{link}" target="_top"' in page.text
    failed_only = client.get("/?status=Failed", headers=world.auth("bea")).text
    assert failed_only.count("<tr data-run-id=") == 1
    assert f'data-run-id="{s.beacon_failed_run}"' in failed_only


def test_everything_from_the_mis_is_escaped(client, world):
    from wonde_sync.core.database import bulk_insert, utcnow

    hostile = '<img src=x onerror="alert(1)">'
    bulk_insert(
        world.engine,
        "wonde_sync_issues",
        ["sync_run_id", "site_id", "record_type", "external_id", "reason", "detail", "created_at"],
        [
            (
                world.seeded.ashdown_run,
                "ashdown",
                "employee",
                hostile,
                "missing_name",
                hostile,
                utcnow(),
            )
        ],
    )
    page = client.get(f"/runs/{world.seeded.ashdown_run}", headers=world.auth("ann")).text
    assert hostile not in page
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page


def test_the_nav_icons_are_public(client):
    for name in ("wonde.svg", "wonde-dark.svg"):
        answer = client.get(f"/static/{name}")
        assert answer.status_code == 200 and answer.headers["content-type"] == "image/svg+xml"
    assert client.get("/static/other.svg").status_code == 404
