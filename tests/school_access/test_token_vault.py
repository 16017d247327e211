"""School tokens at rest: Fernet with WONDE_TOKEN_KEY; the dev key only for demo and tests."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from wonde_sync.school_access import token_vault


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
