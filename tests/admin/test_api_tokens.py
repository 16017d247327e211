"""Who may call the API: service tokens (401) and site admins (403), refusals changing
nothing, not even a token's last_used_at; tokens kept only as their SHA-256."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.school_access.conftest import CONTACT
from wonde_sync.admin import api_tokens
from wonde_sync.core.database import as_utc, table, utcnow
from wonde_sync.school_access.admin_actions import request_access
from wonde_sync.school_access.transitions import record_approval

#: Every route of a site: (method, path, JSON body).
SITE_ROUTES = [
    ("GET", "/sites/{site}/connection", None),
    ("POST", "/sites/{site}/connection/request-access", "request"),
    ("POST", "/sites/{site}/connection/revoke-and-rerequest", None),
    ("POST", "/sites/{site}/connection/enable", None),
    ("POST", "/sites/{site}/connection/disable", None),
]
OTHER_ROUTES = [("GET", "/schools/search?q=school", None), ("GET", "/connections", None)]


@pytest.fixture
def approved_school(world) -> str:
    """site-a is approved for a school (token held); returns the school id."""
    school = world.schools[3]
    request_access(world.engine, world.client(), "site-a", school, CONTACT)
    record_approval(world.engine, school, "tok-" + "a" * 36)
    return school


def call(api, world, method, path, body, headers, site="site-a", school=None):
    json = {"school_id": school or world.schools[9], **CONTACT} if body == "request" else None
    return api.request(method, path.format(site=site), json=json, headers=headers)


def unauthenticated_headers(world) -> list[dict]:
    revoked = api_tokens.create_api_token(world.engine, "ann@site-a")
    api_tokens.revoke_api_token(world.engine, revoked.token_id)
    return [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer cwt_not-a-real-token"},
        {"Authorization": f"Basic {world.tokens['ann@site-a']}"},
        {"Authorization": f"Bearer {world.tokens['ann@site-a']}x"},
        {"Authorization": f"Bearer {revoked.token}"},
    ]


@pytest.mark.parametrize("method, path, body", SITE_ROUTES + OTHER_ROUTES)
def test_unauthenticated_calls_get_401_and_change_nothing(
    api, world, approved_school, method, path, body
):
    before = world.snapshot()
    wonde_calls = world.control.requests_to("/schools/")
    for headers in unauthenticated_headers(world):
        answer = call(api, world, method, path, body, headers)
        assert answer.status_code == 401, (headers, answer.text)
        assert answer.headers["WWW-Authenticate"] == "Bearer"
        assert "Authentication required" in answer.json()["detail"]
    assert world.snapshot() == before
    assert world.control.requests_to("/schools/") == wonde_calls


@pytest.mark.parametrize("method, path, body", SITE_ROUTES)
@pytest.mark.parametrize(
    "user, site",
    [
        ("bob@site-b", "site-a"),  # an admin of another site
        ("eve", "site-a"),  # authenticated, admin of nothing
        ("bob@site-b", "no-such-site"),  # same answer as for a site that exists
    ],
)
def test_cross_site_calls_get_403_and_change_nothing(
    api, world, approved_school, method, path, body, user, site
):
    before = world.snapshot()
    wonde_calls = world.control.requests_to("/schools/")
    answer = call(
        api, world, method, path, body, world.auth(user), site=site, school=approved_school
    )
    assert answer.status_code == 403, answer.text
    assert answer.json()["detail"] == f"You are not an admin of site {site}."
    assert "school" not in answer.text.lower()  # nothing about the site's access leaks
    assert world.snapshot() == before
    assert world.control.requests_to("/schools/") == wonde_calls


def test_an_admin_of_two_sites_manages_both(api, world, approved_school):
    api_tokens.grant_site_admin(world.engine, "ann@site-a", "site-b")
    answer = api.get("/sites/site-b/connection", headers=world.auth("ann@site-a"))
    assert answer.status_code == 200 and answer.json()["state"] == "not_connected"
    api_tokens.revoke_site_admin(world.engine, "ann@site-a", "site-b")
    assert api.get("/sites/site-b/connection", headers=world.auth("ann@site-a")).status_code == 403


def test_tokens_are_stored_as_sha256_only(engine):
    issued = api_tokens.create_api_token(engine, "carol", label="web app")
    tokens = table("wonde_api_tokens")
    with engine.connect() as conn:
        stored = [dict(r) for r in conn.execute(sa.select(tokens)).mappings()]
    assert [r["token_sha256"] for r in stored] == [
        hashlib.sha256(issued.token.encode()).hexdigest()
    ]
    assert all(issued.token not in str(value) for r in stored for value in r.values())
    assert issued.token not in repr(issued)
    assert issued.token.startswith("cwt_") and len(issued.token) > 40
    assert api_tokens.authenticate(engine, issued.token).user_id == "carol"
    assert api_tokens.list_api_tokens(engine, "carol")[0].label == "web app"


@pytest.mark.parametrize("user_id", ["", " ", "bad user", "x" * 200, "-leading"])
def test_invalid_user_ids_are_refused(engine, user_id):
    with pytest.raises(api_tokens.ApiTokenError, match="Invalid user id"):
        api_tokens.create_api_token(engine, user_id)


def test_site_admins_are_granted_and_revoked(two_sites):
    with pytest.raises(api_tokens.ApiTokenError, match="No site 'nowhere'"):
        api_tokens.grant_site_admin(two_sites, "ann@site-a", "nowhere")
    assert api_tokens.grant_site_admin(two_sites, " ann@site-a ", "site-b") is True
    assert api_tokens.grant_site_admin(two_sites, "ann@site-a", "site-a") is True
    assert api_tokens.grant_site_admin(two_sites, "ann@site-a", "site-a") is False
    assert api_tokens.admin_sites(two_sites, "ann@site-a") == ["site-a", "site-b"]
    assert api_tokens.revoke_site_admin(two_sites, "ann@site-a", "site-b") is True
    assert api_tokens.revoke_site_admin(two_sites, "ann@site-a", "site-b") is False
    assert not api_tokens.is_site_admin(two_sites, "ann@site-a", "site-b")
    assert api_tokens.is_site_admin(two_sites, "ann@site-a", "site-a")


def last_used(world, user: str) -> list:
    tokens = table("wonde_api_tokens")
    with world.engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(tokens.c.last_used_at)
                .where(tokens.c.user_id == user)
                .order_by(tokens.c.id)
            ).scalars()
        )


def used_long_ago(world) -> None:
    """Every token last used two hours ago, so that any new use would move the time."""
    tokens = table("wonde_api_tokens")
    with world.engine.begin() as conn:
        conn.execute(sa.update(tokens).values(last_used_at=utcnow() - timedelta(hours=2)))


def test_refused_calls_leave_last_used_at_unchanged(api, world, approved_school):
    used_long_ago(world)
    revoked = api_tokens.create_api_token(world.engine, "bob@site-b")
    api_tokens.revoke_api_token(world.engine, revoked.token_id)
    before = last_used(world, "bob@site-b")
    refused = {"Authorization": f"Bearer {revoked.token}"}

    for method, path, body in SITE_ROUTES:
        assert call(api, world, method, path, body, world.auth("bob@site-b")).status_code == 403
        assert call(api, world, method, path, body, refused, site="site-b").status_code == 401
        assert last_used(world, "bob@site-b") == before, path


def test_allowed_calls_move_last_used_at(api, world, approved_school):
    used_long_ago(world)
    [before] = last_used(world, "bob@site-b")
    started = utcnow()

    assert api.get("/sites/site-b/connection", headers=world.auth("bob@site-b")).status_code == 200

    [after] = last_used(world, "bob@site-b")
    assert as_utc(after) >= started > as_utc(before)
    assert last_used(world, "ann@site-a") != [after]  # only the caller's token


def test_a_refusal_inside_the_details_app_leaves_last_used_at_unchanged(world):
    from fastapi.testclient import TestClient

    from wonde_sync.web.ui import create_app

    used_long_ago(world)
    before = last_used(world, "bob@site-b")
    with TestClient(create_app(engine=world.engine)) as details:
        other_site = details.get("/api/runs?site=site-a", headers=world.auth("bob@site-b"))
        assert other_site.status_code == 403
        assert last_used(world, "bob@site-b") == before
        own_site = details.get("/api/runs?site=site-b", headers=world.auth("bob@site-b"))
        assert own_site.status_code == 200
    assert last_used(world, "bob@site-b") != before
