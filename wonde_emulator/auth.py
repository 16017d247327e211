"""Reading the API token from an ``Authorization`` header.

Wonde accepts ``Bearer <token>`` (any scheme case, since the .NET client sends ``bearer``)
and HTTP Basic with the token as user name and an empty password.
"""

from __future__ import annotations

import base64
import binascii
from email.message import Message


def token_from(headers: Message) -> str | None:
    """The token carried by the request's ``Authorization`` header, or None."""
    scheme, _, credentials = (headers.get("Authorization") or "").strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer":
        return credentials or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, _, _ = decoded.partition(":")
        return user or None
    return None
