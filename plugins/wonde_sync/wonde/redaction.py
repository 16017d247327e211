"""Keeping Wonde tokens out of logs, messages and reprs, and out of headers they would break.

The client learns every secret it sends (the connection's Authorization header, a school
token, basic-auth credentials), registers each with Airflow's log masker, and passes any
text it quotes through :meth:`Secrets.clean`. A school token is held as a :class:`Secret`,
and checked by :func:`header_problem` before it is used: one that cannot be sent in an HTTP
header would fail every call, so it is refused at once with :class:`UnusableTokenError`.
"""

from __future__ import annotations

import contextlib
import hmac
import threading
import unicodedata

import requests
from requests.auth import HTTPBasicAuth

from wonde_sync.wonde.errors import PermanentError

_MIN_SECRET_LENGTH = 4


class UnusableTokenError(PermanentError, ValueError):
    """A school token that cannot be sent in an HTTP header; the message never quotes it."""


def header_problem(token: str | None) -> str | None:
    """Why ``token`` cannot be sent as ``Authorization: Bearer <token>``; None if it can.

    A header carries Latin-1 text without control characters, and a bearer token is one
    word, so the token must be non-empty visible Latin-1 characters.
    """
    if not isinstance(token, str) or not token:
        return "it is empty"
    if "\r" in token or "\n" in token:
        return "it contains a line break"
    if any(unicodedata.category(c) == "Cc" for c in token):
        return "it contains a control character"
    if any(c.isspace() for c in token):
        return "it contains a space"
    try:
        token.encode("latin-1")
    except UnicodeEncodeError:
        return "it contains characters outside Latin-1"
    return None


def unusable_token_message(problem: str) -> str:
    """The one-line explanation of a refused school token (never the token itself)."""
    return f"The school token cannot be sent in an HTTP header: {problem}."


class Secret:
    """A secret text that shows as ``***`` in every repr and str; :meth:`reveal` gives it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself, for the one place that sends it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self):
        # Pickling would carry the secret to wherever the pickle goes.
        raise TypeError("A Secret cannot be pickled.")


#: Secrets this process has handed to Airflow's masker (which recompiles its pattern on
#: every new one: each client's app token is not handed over again).
_masked: set[str] = set()
_masked_lock = threading.Lock()


def _mask_in_logs(secret: str) -> None:
    with _masked_lock:
        if secret in _masked:
            return
        _masked.add(secret)
    with contextlib.suppress(Exception):
        from airflow.sdk.log import mask_secret

        mask_secret(secret)


class Secrets:
    """The secrets one client sends, longest first so "Bearer x" is redacted before "x"."""

    def __init__(self) -> None:
        self._known: list[str] = []

    def __repr__(self) -> str:
        return f"Secrets({len(self._known)} known, masked)"

    def school_token(self, token: str | None) -> Secret | None:
        """Remember a school token and hold it as a :class:`Secret` (None for none).

        Raises :class:`UnusableTokenError` when it cannot be sent in a header.
        """
        if token is None:
            return None
        if isinstance(token, str) and token:
            self.add(token)
        problem = header_problem(token)
        if problem:
            raise UnusableTokenError(
                unusable_token_message(problem) + " Use Revoke & Re-request so that the school "
                "approves again and Wonde sends a new token."
            )
        return Secret(token)

    def add(self, secret: str, *, in_logs: bool = True) -> None:
        """Remember a secret and mask it in Airflow's logs (best effort outside a task;
        ``in_logs=False`` when a part of it that is masked there already covers it)."""
        if len(secret) < _MIN_SECRET_LENGTH or secret in self._known:
            return
        self._known.append(secret)
        self._known.sort(key=len, reverse=True)
        if in_logs:
            _mask_in_logs(secret)

    def add_from_session(self, session: requests.Session) -> None:
        """Remember the credentials a session sends: its Authorization header, basic auth."""
        authorization = session.headers.get("Authorization")
        if isinstance(authorization, bytes):
            authorization = authorization.decode("latin-1")
        if authorization:
            credential = authorization.strip().partition(" ")[2].strip()
            # "Bearer <token>" is masked in logs wherever the token is.
            self.add(authorization, in_logs=len(credential) < _MIN_SECRET_LENGTH)
            if credential:
                self.add(credential)
        if isinstance(session.auth, HTTPBasicAuth):
            for value in (session.auth.username, session.auth.password):
                if isinstance(value, str):
                    self.add(value)

    def clean(self, text: str) -> str:
        """``text`` with every known secret replaced by ``***``."""
        for secret in self._known:
            text = text.replace(secret, "***")
        return text
