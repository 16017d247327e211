"""The webhook receiver: secret in the raw query, validation, idempotence, transient errors,
refused school tokens, and the change and its journal row written together."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest
import requests
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.school_access.conftest import CONTACT, WEBHOOK_SECRET
from wonde_sync.core.database import table
from wonde_sync.school_access.admin_actions import request_access
from wonde_sync.school_access.status import access_status
from wonde_sync.school_access.webhook_receiver import receive_webhook
from wonde_sync.web.api import create_app
from wonde_sync.wonde import webhooks

URL = f"/webhooks/wonde?secret={quote(WEBHOOK_SECRET, safe='')}"


@pytest.fixture
def pending(world) -> str:
    """site-a has requested access to a school; returns the school id."""
    school = world.schools[4]
    request_access(world.engine, world.client(), "site-a", school, CONTACT)
    return school


def approved_payload(school_id: str, token: str = "0123456789abcdef0123") -> dict:
    return {
        "payload_type": "schoolApproved",
        "school_id": school_id,
        "school_name": "Some School",
        "school_token": token,
    }


def events(world) -> list[dict]:
    t = table("wonde_webhook_events")
    with world.engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(t).order_by(t.c.id)).mappings()]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b'"a string"',
        b"[]",
        b"{}",
        b'{"payload_type": "schoolAudited", "school_id": "SCHOOL"}',
        b'{"payload_type": "schoolApproved", "school_id": "SCHOOL"}',
        b'{"payload_type": "schoolApproved", "school_id": "SCHOOL", "school_token": 12345678901}',
        b'{"payload_type": "schoolApproved", "school_id": "x y", "school_token": "abcdefgh12"}',
        b'{"payload_type": "schoolApproved", "school_id": "SCHOOL", "school_token": "short"}',
        b'{"payload_type": "accessRevoked"}',
        b'{"payload_type": "accessDeclined", "school_id": ["SCHOOL"]}',
        b"\xff\xfe",
    ],
)
def test_malformed_bodies_are_rejected_without_change(api, world, pending, body):
    body = body.replace(b"SCHOOL", pending.encode())
    before = world.snapshot()
    answer = api.post(URL, content=body, headers={"Content-Type": "application/json"})
    assert 400 <= answer.status_code < 500, answer.text
    assert "detail" in answer.json()
    assert world.snapshot() == before


def test_rejection_never_echoes_the_token(api, world, pending):
    body = {**approved_payload(pending, "secret-token-value"), "school_id": "not valid!"}
    answer = api.post(URL, json=body)
    assert answer.status_code == 422
    assert "secret-token-value" not in answer.text


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?secret=",
        "?secret=wrong",
        f"?secret={WEBHOOK_SECRET.replace('+', '%20')}",  # a '+' decoded as a space
        f"?secret={WEBHOOK_SECRET.replace('+', ' ')}",
        f"?secret={quote(WEBHOOK_SECRET, safe='')}&secret=wrong",  # ambiguous
        f"?Secret={quote(WEBHOOK_SECRET, safe='')}",
        f"?secret={quote(WEBHOOK_SECRET, safe='')}x",
    ],
)
def test_wrong_or_missing_secret_is_refused(api, world, pending, query):
    before = world.snapshot()
    answer = api.post(f"/webhooks/wonde{query}", json=approved_payload(pending))
    assert answer.status_code == 401
    assert world.snapshot() == before


def test_bearer_token_does_not_open_the_webhook(api, world, pending):
    answer = api.post(
        "/webhooks/wonde", json=approved_payload(pending), headers=world.auth("ann@site-a")
    )
    assert answer.status_code == 401
    assert world.row("site-a")["status"] == "pending"


def test_secret_with_a_raw_plus_is_accepted(api, world, pending):
    # Typed into Wonde's dashboard as is: '+' and '/' unencoded in the URL.
    answer = api.post(
        f"/webhooks/wonde?a=1&secret={WEBHOOK_SECRET}", json=approved_payload(pending)
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["effect"] == "applied"
    assert access_status(world.engine, "site-a").state == "approved"


def test_unconfigured_secret_answers_503(world, pending, monkeypatch):
    app = create_app(engine=world.engine, client_factory=world.client, webhook_secret="")
    with TestClient(app) as client:
        answer = client.post("/webhooks/wonde?secret=anything", json=approved_payload(pending))
    assert answer.status_code == 503
    assert world.row("site-a")["status"] == "pending"


def test_secret_from_the_environment(world, pending, monkeypatch):
    monkeypatch.setenv("WONDE_WEBHOOK_SECRET", "from/the+environment")
    app = create_app(engine=world.engine, client_factory=world.client)
    with TestClient(app) as client:
        assert client.post(URL, json=approved_payload(pending)).status_code == 401
        ok = client.post(
            "/webhooks/wonde?secret=from/the+environment", json=approved_payload(pending)
        )
    assert ok.status_code == 200


@pytest.mark.usefixtures("receiver")
def test_redelivery_is_idempotent(api, world, pending):
    world.control.approve(pending)
    delivered = world.control.deliveries()[-1]
    assert delivered["status"] == 200 and delivered["payload"]["payload_type"] == "schoolApproved"
    row = world.row("site-a")

    again = api.post(URL, json=delivered["payload"])
    assert again.status_code == 200 and again.json()["effect"] == "duplicate"
    after = world.row("site-a")
    assert after["approved_at"] == row["approved_at"]
    assert after["lifecycle_version"] == row["lifecycle_version"]
    assert world.history("site-a") == ["requested", "approved"]
    assert [e["effect"] for e in events(world)] == ["applied", "duplicate"]
    # The journal keeps no token, only a digest of it.
    token = delivered["payload"]["school_token"]
    assert all(token not in json.dumps(e, default=str) for e in events(world))


@pytest.mark.usefixtures("receiver")
def test_stale_approval_cannot_resurrect_a_revoked_token(api, world, pending):
    world.control.approve(pending)
    old_approval = world.control.deliveries()[-1]["payload"]
    world.control.revoke(pending, reason="No longer needed")
    revocation = world.control.deliveries()[-1]["payload"]

    assert api.post(URL, json=old_approval).json()["effect"] == "duplicate"
    assert api.post(URL, json=revocation).json()["effect"] == "duplicate"
    status = access_status(world.engine, "site-a")
    assert status.state == "revoked" and not status.has_school_token
    assert world.history("site-a") == ["requested", "approved", "revoked"]


def test_events_out_of_place_change_nothing(api, world, pending):
    before = world.snapshot()["wonde_connections"]
    revoke = {"payload_type": "accessRevoked", "school_id": pending, "revoke_reason": None}
    assert api.post(URL, json=revoke).json()["effect"] == "no_change"  # pending, not approved
    assert world.snapshot()["wonde_connections"] == before
    decline = {"payload_type": "accessDeclined", "school_id": world.schools[20]}
    assert api.post(URL, json=decline).json()["effect"] == "unmatched"
    assert world.snapshot()["wonde_connections"] == before
    assert [e["effect"] for e in events(world)] == ["no_change", "unmatched"]


def test_school_migration_is_recorded_and_keeps_the_token(api, world, pending):
    api.post(URL, json=approved_payload(pending))
    migration = {
        "payload_type": "schoolMigration",
        "school_id": pending,
        "school_name": "Some School",
        "migrate_from": "SIMS",
        "migrate_to": "Arbor",
        "added_later_by_wonde": True,
    }
    assert api.post(URL, json=migration).json()["effect"] == "applied"
    assert api.post(URL, json=migration).json()["effect"] == "duplicate"
    other = {**migration, "migrate_from": "Arbor", "migrate_to": "Arbor"}
    assert api.post(URL, json=other).json()["effect"] == "applied"
    assert api.post(URL, json=migration).json()["effect"] == "applied"  # a new change again
    status = access_status(world.engine, "site-a")
    assert status.state == "approved" and status.has_school_token
    assert "SIMS to Arbor" in status.detail
    no_id = {k: v for k, v in migration.items() if k != "school_id"}
    assert api.post(URL, json=no_id).json()["effect"] == "unmatched"


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////nonexistent-folder-for-calm-tests/calm.db",
        "postgresql+psycopg://calm@127.0.0.1:9/calm?connect_timeout=5",
    ],
)
def test_database_unavailable_answers_503_so_wonde_redelivers(url):
    engine = sa.create_engine(url)
    app = create_app(engine=engine, webhook_secret=WEBHOOK_SECRET)
    with TestClient(app) as client:
        answer = client.post(URL, json=approved_payload("A1234567890"))
        assert answer.status_code == 503
        assert "deliver it again" in answer.json()["detail"]
        # A malformed body stays a 4xx even then: re-delivering it cannot help.
        assert client.post(URL, content=b"nope").status_code == 422
    engine.dispose()


#: School tokens no HTTP header can carry, and why.
UNUSABLE_TOKENS = [
    ("", "it is empty"),
    ("abcd\r\nefgh-0123456789", "it contains a line break"),
    ("abcdefgh\x00-0123456789", "it contains a control character"),
    ("abcdefgh\x85-0123456789", "it contains a control character"),
    ("abcd efgh 0123456789", "it contains a space"),
    ("token-\u20ac-0123456789", "it contains characters outside Latin-1"),
    ("token-\u96ea-0123456789", "it contains characters outside Latin-1"),
]


def test_tokens_that_cannot_go_in_a_header_are_refused_and_journaled(api, world, pending):
    before = world.snapshot()
    for token, why in UNUSABLE_TOKENS:
        answer = api.post(URL, json=approved_payload(pending, token))
        assert answer.status_code == 422, answer.text
        detail = f"The school token cannot be sent in an HTTP header: {why}."
        assert answer.json()["detail"] == detail
        assert token not in answer.text or not token

    journal = events(world)
    assert [(e["effect"], e["school_id"], e["dedupe_key"], e["detail"]) for e in journal] == [
        ("rejected", pending, None, f"The school token cannot be sent in an HTTP header: {why}.")
        for _, why in UNUSABLE_TOKENS
    ]
    stored = json.dumps(journal, default=str, ensure_ascii=False)
    assert all(token not in stored for token, _ in UNUSABLE_TOKENS if token)
    after = world.snapshot()
    del before["wonde_webhook_events"], after["wonde_webhook_events"]
    assert after == before  # nothing stored but the journal rows
    assert access_status(world.engine, "site-a").state == "pending"


def test_a_latin_1_token_is_accepted(api, world, pending):
    answer = api.post(URL, json=approved_payload(pending, "tok\u00e9n-0123456789"))
    assert answer.status_code == 200 and answer.json()["effect"] == "applied"


def refuse_journal_writes(engine: sa.Engine) -> None:
    """Make every insert into the journal fail, as a crash between change and journal would."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_journal BEFORE INSERT ON wonde_webhook_events "
                "BEGIN SELECT RAISE(ABORT, 'journal unavailable'); END"
            )
            return
        conn.exec_driver_sql(
            "CREATE FUNCTION refuse_journal() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'journal unavailable'; END $$"
        )
        conn.exec_driver_sql(
            "CREATE TRIGGER refuse_journal BEFORE INSERT ON wonde_webhook_events "
            "FOR EACH ROW EXECUTE FUNCTION refuse_journal()"
        )


@pytest.mark.parametrize("kind", ["approval", "revocation"])
def test_no_change_is_applied_without_its_journal_row(world, pending, kind):
    if kind == "revocation":
        receive_webhook(
            world.engine, webhooks.parse(json.dumps(approved_payload(pending)).encode())
        )
        payload = {"payload_type": "accessRevoked", "school_id": pending}
    else:
        payload = approved_payload(pending)
    refuse_journal_writes(world.engine)
    before = world.snapshot()

    with pytest.raises(sa.exc.DBAPIError, match="journal unavailable"):
        receive_webhook(world.engine, webhooks.parse(json.dumps(payload).encode()))

    assert world.snapshot() == before


def post_at_once(url: str, payload: dict, count: int) -> list[requests.Response]:
    """POST ``payload`` from ``count`` threads released together."""
    start = threading.Barrier(count)

    def post(_: int) -> requests.Response:
        with requests.Session() as http:
            http.trust_env = False  # loopback: never through a proxy
            start.wait()
            return http.post(url, json=payload, timeout=60)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(post, range(count)))


@pytest.mark.parametrize("kind", ["approval", "revocation"])
def test_concurrent_deliveries_apply_once_and_the_rest_are_duplicates(
    world, pending, receiver, kind
):
    url = f"{receiver.webhook_url}?secret={quote(WEBHOOK_SECRET, safe='')}"
    payload, change = approved_payload(pending), "approved"
    if kind == "revocation":
        assert post_at_once(url, payload, 1)[0].json()["effect"] == "applied"
        payload = {"payload_type": "accessRevoked", "school_id": pending, "revoke_reason": "Left"}
        change = "revoked"
    version = world.row("site-a")["lifecycle_version"]
    count = 6

    answers = post_at_once(url, payload, count)

    assert [a.status_code for a in answers] == [200] * count, [a.text for a in answers]
    expected = ["applied"] + ["duplicate"] * (count - 1)
    assert sorted(a.json()["effect"] for a in answers) == expected
    journal = [e for e in events(world) if e["payload_type"] == payload["payload_type"]]
    assert sorted(e["effect"] for e in journal[-count:]) == expected
    assert len(journal) == count
    assert world.row("site-a")["lifecycle_version"] == version + 1
    assert world.history("site-a").count(change) == 1
