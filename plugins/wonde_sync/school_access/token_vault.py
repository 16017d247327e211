"""Encryption of Wonde school tokens at rest (Fernet: AES-128-CBC + HMAC-SHA256).

The key comes from the environment variable ``WONDE_TOKEN_KEY``: a Fernet key (32 url-safe
base64 bytes), generated with::

    python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"

To rotate, put the new key first and keep the old ones after it, comma-separated
(``WONDE_TOKEN_KEY=new,old``): new tokens are encrypted with the first key, stored ones
are read with any of them.

Only the demo and the tests may run without a key: when ``CALM_ENVIRONMENT`` is ``demo``
or ``test`` and ``WONDE_TOKEN_KEY`` is unset, the published :data:`DEV_TOKEN_KEY` is used.
It protects nothing (it is in this file) and is refused in every other environment.
"""

from __future__ import annotations

import os

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from wonde_sync.wonde import redaction

KEY_ENV = "WONDE_TOKEN_KEY"
ENVIRONMENT_ENV = "CALM_ENVIRONMENT"
#: Environments allowed to fall back on :data:`DEV_TOKEN_KEY`.
DEV_ENVIRONMENTS = frozenset({"demo", "test"})
#: The demo/test key (base64 of b"calm-wonde-demo-key-not-a-secret"). Public, therefore
#: worthless as protection: refused outside the demo and the tests.
DEV_TOKEN_KEY = "Y2FsbS13b25kZS1kZW1vLWtleS1ub3QtYS1zZWNyZXQ="


class TokenVaultError(RuntimeError):
    """The token key is missing or invalid, or a stored token cannot be decrypted."""


def _environment() -> str:
    return os.environ.get(ENVIRONMENT_ENV, "").strip().lower()


def _fernet() -> MultiFernet:
    raw = os.environ.get(KEY_ENV, "").strip()
    dev_allowed = _environment() in DEV_ENVIRONMENTS
    if not raw:
        if not dev_allowed:
            raise TokenVaultError(
                f"{KEY_ENV} is not set, so school tokens cannot be encrypted or read. Set it "
                'to a Fernet key (python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"), the same on every API server and '
                f"worker. Only {ENVIRONMENT_ENV}=demo or test may run without one."
            )
        raw = DEV_TOKEN_KEY
    keys = [part.strip() for part in raw.split(",") if part.strip()]
    if DEV_TOKEN_KEY in keys and not dev_allowed:
        raise TokenVaultError(
            f"{KEY_ENV} contains the published demo key; generate a real key for this "
            f"environment (only {ENVIRONMENT_ENV}=demo or test may use it)."
        )
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except (ValueError, TypeError) as exc:
        # The message of these errors never contains the key itself.
        raise TokenVaultError(
            f"{KEY_ENV} is not a valid Fernet key (or comma-separated list of keys): {exc}"
        ) from exc


def check_key() -> None:
    """Raise :class:`TokenVaultError` now if tokens could not be encrypted and read."""
    _fernet()


def check_token(token: str) -> None:
    """Raise :class:`~wonde_sync.wonde.redaction.UnusableTokenError` unless ``token`` can be
    sent in an HTTP header (the message says why, never quoting it)."""
    problem = redaction.header_problem(token)
    if problem:
        raise redaction.UnusableTokenError(redaction.unusable_token_message(problem))


def encrypt(token: str) -> str:
    """Encrypt a school token; the ciphertext is ASCII text, different on every call.

    A token that could not be sent in an HTTP header is refused (:func:`check_token`): stored,
    it would only fail every import.
    """
    check_token(token)
    return _fernet().encrypt(token.encode("utf-8")).decode("ascii")


def decrypt(ciphertext: str) -> str:
    """Decrypt a stored school token."""
    try:
        return _fernet().decrypt(ciphertext.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError) as exc:
        raise TokenVaultError(
            f"A stored school token cannot be decrypted with {KEY_ENV}: the key was changed "
            "without keeping the previous one (list it after the new key), or the value was "
            "altered."
        ) from exc
