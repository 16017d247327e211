"""Request and response values passed between the HTTP server and the API handlers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from email.message import Message
from typing import Any


class HttpError(Exception):
    """An error answer: HTTP status plus Wonde-style ``{"error", "message"}`` JSON body."""

    def __init__(self, status: int, error: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.extra = extra

    def response(self) -> Response:
        """The JSON response for this error."""
        return Response(self.status, {"error": self.error, "message": self.message, **self.extra})


@dataclass
class Request:
    """One parsed HTTP request."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: Message
    body: bytes
    host: str

    @property
    def params(self) -> dict[str, str]:
        """Query parameters, the last value winning when a name repeats."""
        return dict(self.query)

    def values(self, name: str) -> list[str]:
        """Every value given for query parameter ``name``."""
        return [value for key, value in self.query if key == name]

    def json(self, default: Any = None) -> Any:
        """The JSON body, ``default`` when the body is empty; 400 when it is not JSON."""
        if not self.body.strip():
            return default
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise HttpError(400, "invalid_json", f"Request body is not valid JSON: {exc}") from exc


@dataclass
class Response:
    """An answer: status, a JSON-serialisable body (or raw bytes) and extra headers."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    def payload(self) -> bytes:
        """The body as bytes; JSON is ASCII-escaped like PHP's ``json_encode`` default."""
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body, separators=(",", ":")).encode("ascii")
