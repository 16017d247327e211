"""Wonde's webhook payloads, parsed and validated with pydantic.

Wonde POSTs JSON objects with a ``payload_type`` discriminator:

* ``schoolApproved``: ``school_id``, ``school_name``, ``school_token`` (the school's token);
* ``accessDeclined``: ``school_id``, ``school_name``, ``decline_reason``;
* ``accessRevoked``: ``school_id``, ``school_name``, ``revoke_reason``;
* ``schoolMigration``: ``school_name``, ``migrate_from``, ``migrate_to`` (the school changes
  MIS; ``school_id`` is read when present).

Fields Wonde may add later are ignored. Anything else (not JSON, nested too deep, not an
object, an unknown ``payload_type``, a missing or mistyped field) is a
:class:`WebhookPayloadError`, whose message names the fields but never quotes the values
(a token must not reach a log).
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError

from wonde_sync.core import text_input

SCHOOL_APPROVED = "schoolApproved"
ACCESS_DECLINED = "accessDeclined"
ACCESS_REVOKED = "accessRevoked"
SCHOOL_MIGRATION = "schoolMigration"

#: Wonde ids are "A" + digits; allow any short id made of letters, digits, '-' and '_'.
SchoolId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[\w-]+$")
]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
#: Largest body accepted: payloads are a few hundred bytes.
MAX_BODY_BYTES = 64 * 1024


class WebhookPayloadError(ValueError):
    """A delivery whose body is not a valid Wonde payload; ``errors`` maps field → messages."""

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or {}


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    school_name: ShortText | None = None


class SchoolApproved(_Payload):
    """The school approved the app; ``school_token`` is the token for its data."""

    payload_type: Literal["schoolApproved"]
    school_id: SchoolId
    # SecretStr keeps the token out of reprs, logs and error messages.
    school_token: SecretStr

    @field_validator("school_token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value()
        if not 8 <= len(token) <= 512 or not token.isprintable() or any(c.isspace() for c in token):
            raise PydanticCustomError(
                "token_shape", "The school token must be 8-512 printable characters, no spaces."
            )
        return value


class AccessDeclined(_Payload):
    """The school declined the access request."""

    payload_type: Literal["accessDeclined"]
    school_id: SchoolId
    decline_reason: ShortText | None = None


class AccessRevoked(_Payload):
    """The school revoked the app's access."""

    payload_type: Literal["accessRevoked"]
    school_id: SchoolId
    revoke_reason: ShortText | None = None


class SchoolMigration(_Payload):
    """The school is moving to another MIS; Wonde is expected to send a new approval."""

    payload_type: Literal["schoolMigration"]
    school_id: SchoolId | None = None
    migrate_from: ShortText | None = None
    migrate_to: ShortText | None = None


WebhookEvent = Annotated[
    SchoolApproved | AccessDeclined | AccessRevoked | SchoolMigration,
    Field(discriminator="payload_type"),
]
_EVENT = TypeAdapter(WebhookEvent)


def parse(body: bytes) -> SchoolApproved | AccessDeclined | AccessRevoked | SchoolMigration:
    """Parse a delivery's raw body into its event, or raise :class:`WebhookPayloadError`."""
    if len(body) > MAX_BODY_BYTES:
        raise WebhookPayloadError(f"The body is larger than {MAX_BODY_BYTES} bytes.")
    # The parser recurses once per level: refuse deep nesting before it runs out of stack.
    if text_input.json_depth(body) > text_input.MAX_JSON_DEPTH:
        raise WebhookPayloadError(
            f"The body nests deeper than {text_input.MAX_JSON_DEPTH} levels.",
            {"body": ["Too deeply nested."]},
        )
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookPayloadError("The body is not JSON.") from exc
    if not isinstance(data, dict):
        raise WebhookPayloadError("The body must be a JSON object.")
    if "payload_type" not in data:
        raise WebhookPayloadError(
            "The body has no payload_type.", {"payload_type": ["This field is required."]}
        )
    try:
        return _EVENT.validate_python(data)
    except ValidationError as exc:
        errors = field_errors(exc)
        raise WebhookPayloadError(
            "The body is not a valid Wonde webhook payload: "
            + "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items()),
            errors,
        ) from None  # the pydantic error would quote the input, token included


def field_errors(exc: ValidationError) -> dict[str, list[str]]:
    """Field → messages of a pydantic error, without the input values."""
    errors: dict[str, list[str]] = {}
    for error in exc.errors(include_input=False, include_url=False):
        # The discriminator's tag is the first location part of a union member's errors.
        location = [str(part) for part in error["loc"]]
        if location and location[0] in (
            SCHOOL_APPROVED,
            ACCESS_DECLINED,
            ACCESS_REVOKED,
            SCHOOL_MIGRATION,
        ):
            location = location[1:]
        field = ".".join(location) or "body"
        message = error["msg"]
        if error["type"] == "union_tag_invalid":
            field = "payload_type"
            message = (
                "Unknown payload_type; expected schoolApproved, accessDeclined, "
                "accessRevoked or schoolMigration."
            )
        errors.setdefault(field, []).append(message)
    return errors
