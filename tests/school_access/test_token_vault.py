"""School tokens at rest: Fernet with WONDE_TOKEN_KEY; the dev key only for demo and tests;
only tokens an HTTP header can carry."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from wonde_sync.school_access import token_vault
from wonde_sync.wonde.errors import PermanentError
from wonde_sync.wonde.redaction import UnusableTokenError


def test_round_trip_and_fresh_ciphertext_each_time():
    first = token_vault.encrypt("0123456789abcdef")
    second = token_vault.encrypt("0123456789abcdef")
    assert first != second and "0123456789abcdef" not in first
    assert token_vault.decrypt(first) == token_vault.decrypt(second) == "0123456789abcdef"


def test_production_without_a_key_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("CALM_ENVIRONMENT", "production")
    with pytest.raises(token_vault.TokenVaultError, match="WONDE_TOKEN_KEY is not set"):
        token_vault.encrypt("0123456789abcdef")
    monkeypatch.delenv("CALM_ENVIRONMENT")
    with pytest.raises(token_vault.TokenVaultError, match="Fernet.generate_key"):
        token_vault.check_key()


def test_the_published_dev_key_is_refused_outside_demo_and_tests(monkeypatch):
    monkeypatch.setenv("CALM_ENVIRONMENT", "production")
    monkeypatch.setenv("WONDE_TOKEN_KEY", token_vault.DEV_TOKEN_KEY)
    with pytest.raises(token_vault.TokenVaultError, match="published demo key"):
        token_vault.check_key()


def test_invalid_key(monkeypatch):
    monkeypatch.setenv("WONDE_TOKEN_KEY", "not-a-fernet-key")
    with pytest.raises(token_vault.TokenVaultError, match="not a valid Fernet key") as caught:
        token_vault.check_key()
    assert "not-a-fernet-key" not in str(caught.value)


def test_key_rotation_reads_old_tokens(monkeypatch):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("CALM_ENVIRONMENT", "production")
    monkeypatch.setenv("WONDE_TOKEN_KEY", old)
    stored = token_vault.encrypt("0123456789abcdef")
    monkeypatch.setenv("WONDE_TOKEN_KEY", f"{new},{old}")
    assert token_vault.decrypt(stored) == "0123456789abcdef"
    monkeypatch.setenv("WONDE_TOKEN_KEY", new)
    with pytest.raises(token_vault.TokenVaultError, match="cannot be decrypted"):
        token_vault.decrypt(stored)


@pytest.mark.parametrize(
    "token, why",
    [
        ("", "it is empty"),
        ("abc\ndef-0123456789", "it contains a line break"),
        ("abc\x1bdef-0123456789", "it contains a control character"),
        ("abc\tdef-0123456789", "it contains a control character"),
        ("abc\u00a0def-0123456789", "it contains a space"),
        ("abc\u2028def-0123456789", "it contains a space"),
        ("abc\U0001f600def-0123456789", "it contains characters outside Latin-1"),
    ],
)
def test_tokens_that_cannot_go_in_a_header_are_never_stored(token, why):
    with pytest.raises(UnusableTokenError) as caught:
        token_vault.encrypt(token)
    assert str(caught.value) == f"The school token cannot be sent in an HTTP header: {why}."
    assert isinstance(caught.value, PermanentError)
    if token:
        assert token not in repr(caught.value)


def test_a_visible_latin_1_token_is_stored():
    token = "tok\u00e9n+/=-0123456789"
    token_vault.check_token(token)
    assert token_vault.decrypt(token_vault.encrypt(token)) == token
