"""School tokens: refused where they are used when they cannot go in an HTTP header, and
never shown by a repr, a str, an error message, a Sync History row or a log line."""

from __future__ import annotations

import logging
import pickle

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from wonde_sync.core.database import table
from wonde_sync.people.importer import ImportOptions, import_site
from wonde_sync.school_access import rows, token_vault
from wonde_sync.school_access.import_targets import ImportTarget, import_targets
from wonde_sync.wonde import webhooks
from wonde_sync.wonde.client import WondeClient
from wonde_sync.wonde.errors import PermanentError
from wonde_sync.wonde.redaction import Secrets, UnusableTokenError

TOKEN = "school-token-5f0c1d2e3a4b"
#: Tokens an earlier release accepted, which no HTTP header can carry.
UNUSABLE = [
    "broken-token\r\nX-Injected: 1",
    "broken-token\x00-0123456789",
    "broken-token-\u20ac-0123456789",
    "broken token 0123456789",
]


def shown(*objects: object) -> str:
    return " ".join(f"{obj!r} {obj}" for obj in objects)


def test_no_object_carrying_a_token_shows_it():
    target = ImportTarget("site-a", "A1", TOKEN)
    client = WondeClient(school_token=TOKEN)
    school_client = WondeClient().for_school({"id": "A1"}, TOKEN)
    secrets = Secrets()
    secret = secrets.school_token(TOKEN)
    event = webhooks.parse(
        b'{"payload_type": "schoolApproved", "school_id": "A1", "school_token": "%s"}'
        % TOKEN.encode()
    )
    text = shown(target, client, school_client, secrets, secret, event)
    assert TOKEN not in text
    assert "school token" in repr(client) and "Secret('***')" in repr(secret)
    # The token is still there for the one place that sends it.
    assert target.school_token == secret.reveal() == TOKEN
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(secret)


@pytest.mark.parametrize("token", ["", *UNUSABLE])
def test_the_client_refuses_a_token_no_header_can_carry(token):
    with pytest.raises(UnusableTokenError, match="cannot be sent in an HTTP header") as caught:
        WondeClient().for_school({"id": "A1"}, token)
    assert isinstance(caught.value, PermanentError)
    if token:
        assert token not in shown(caught.value)


@pytest.mark.parametrize("token", UNUSABLE)
def test_a_stored_unusable_token_fails_the_import_clearly(two_sites, caplog, token):
    # Stored by an earlier release, which did not check tokens.
    ciphertext = Fernet(token_vault.DEV_TOKEN_KEY).encrypt(token.encode()).decode()
    with two_sites.begin() as conn:
        rows.insert(
            conn,
            "site-a",
            change="approved",
            source=rows.SOURCE_WEBHOOK,
            actor=None,
            school_id="A1",
            status="approved",
            school_token_ciphertext=ciphertext,
        )
    caplog.set_level(logging.DEBUG)
    [target] = import_targets(two_sites)
    assert token not in shown(target, [target])

    with pytest.raises(UnusableTokenError) as caught:
        import_site(two_sites, WondeClient(), target, ImportOptions())

    runs = table("wonde_sync_runs")
    with two_sites.connect() as conn:
        run = conn.execute(sa.select(runs.c.status, runs.c.message)).one()
    assert run.status == "Failed"
    assert run.message.startswith(
        "Import failed: The school token cannot be sent in an HTTP header"
    )
    assert "Revoke & Re-request" in run.message
    assert token not in run.message
    assert token not in shown(caught.value)
    assert token not in caplog.text
