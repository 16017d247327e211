"""Keeping Wonde tokens out of logs, messages and reprs.

The client learns every secret it sends (the connection's Authorization header, a school
token, basic-auth credentials), registers each with Airflow's log masker, and passes any
text it quotes through :meth:`Secrets.clean`.
"""

from __future__ import annotations

import contextlib

import requests
from requests.auth import HTTPBasicAuth

_MIN_SECRET_LENGTH = 4


class Secrets:
    """The secrets one client sends, longest first so "Bearer x" is redacted before "x"."""

    def __init__(self) -> None:
        self._known: list[str] = []

    def add(self, secret: str) -> None:
        """Remember a secret and mask it in Airflow's logs (best effort outside a task)."""
        if len(secret) < _MIN_SECRET_LENGTH or secret in self._known:
            return
        self._known.append(secret)
        self._known.sort(key=len, reverse=True)
        with contextlib.suppress(Exception):
            from airflow.sdk.log import mask_secret

            mask_secret(secret)

    def add_from_session(self, session: requests.Session) -> None:
        """Remember the credentials a session sends: its Authorization header, basic auth."""
        authorization = session.headers.get("Authorization")
        if isinstance(authorization, bytes):
            authorization = authorization.decode("latin-1")
        if authorization:
            self.add(authorization)
            _, _, credential = authorization.strip().partition(" ")
            if credential:
                self.add(credential.strip())
        if isinstance(session.auth, HTTPBasicAuth):
            for value in (session.auth.username, session.auth.password):
                if isinstance(value, str):
                    self.add(value)

    def clean(self, text: str) -> str:
        """``text`` with every known secret replaced by ``***``."""
        for secret in self._known:
            text = text.replace(secret, "***")
        return text
