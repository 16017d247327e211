"""The contact sent to a school with an access request, validated with pydantic.

Settings > Integrations asks for the school-side contact: first name, last name and email
(required), phone and notes (optional). Errors are reported per field, in words an admin
can act on, so the web app can show each next to its input.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from wonde_sync.core import text_input

NAME_MAX = 100
EMAIL_MAX = 254
PHONE_MAX = 30
NOTES_MAX = 1000
_PHONE_CHARS = re.compile(r"^\+?[0-9 ()\-.]+$")
_SCHOOL_ID = re.compile(r"^[\w-]{1,64}$")


class ContactValidationError(ValueError):
    """Contact details that cannot be sent; ``errors`` maps each field to its messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        summary = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items())
        super().__init__(f"Check the contact details - {summary}")


class AccessRequestContact(BaseModel):
    """The school-side contact of an access request."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid", frozen=True)

    first_name: str
    last_name: str
    email: EmailStr
    phone: str | None = None
    notes: str | None = None

    # Defined first, so pydantic runs it last of the "before" checks: after the shape checks.
    @field_validator("first_name", "last_name", "email", "phone", "notes", mode="before")
    @classmethod
    def _no_control_characters(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str):
            text_input.check_text(value, multiline=info.field_name == "notes")
        return value

    @field_validator("first_name", "last_name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> Any:
        if isinstance(value, str) and len(value.strip()) > NAME_MAX:
            raise ValueError(f"Use at most {NAME_MAX} characters.")
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ValueError("This field is required.")
        return value

    @field_validator("email", mode="before")
    @classmethod
    def _email(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ValueError("This field is required.")
        if isinstance(value, str) and len(value.strip()) > EMAIL_MAX:
            raise ValueError(f"Use at most {EMAIL_MAX} characters.")
        return value

    @field_validator("phone", mode="before")
    @classmethod
    def _phone(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip() or None
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError("Enter the phone number as text.")
        digits = sum(c.isdigit() for c in value)
        if len(value) > PHONE_MAX or not _PHONE_CHARS.match(value) or not 7 <= digits <= 15:
            raise ValueError("Enter a valid phone number, like 01234 567890 or +44 1234 567890.")
        return value

    @field_validator("notes", mode="before")
    @classmethod
    def _notes(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip() or None
        if isinstance(value, str) and len(value) > NOTES_MAX:
            raise ValueError(f"Use at most {NOTES_MAX} characters.")
        return value

    @classmethod
    def parse(cls, data: Any) -> AccessRequestContact:
        """Validate form data (a mapping); raise :class:`ContactValidationError` per field."""
        if isinstance(data, cls):
            return data
        if not isinstance(data, dict):
            raise ContactValidationError({"body": ["Send the contact details as a JSON object."]})
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ContactValidationError(_messages(exc)) from None

    def wonde_contact(self) -> dict[str, str | None]:
        """The contact in Wonde's ``request-access`` shape."""
        return {
            "first_name": self.first_name,
            "last_name": self.last_name,
            "email_address": str(self.email),
            "phone_number": self.phone,
            "notes": self.notes,
        }


def parse_school_id(value: Any) -> str:
    """A Wonde school id from form data, or :class:`ContactValidationError` on ``school_id``."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise ContactValidationError({"school_id": ["Choose a school from the search results."]})
    if not _SCHOOL_ID.match(text):
        raise ContactValidationError({"school_id": ["This is not a Wonde school id."]})
    return text


def _messages(exc: ValidationError) -> dict[str, list[str]]:
    """Field → plain messages (never the submitted values)."""
    errors: dict[str, list[str]] = {}
    for error in exc.errors(include_input=False, include_url=False):
        field = ".".join(str(part) for part in error["loc"]) or "body"
        kind = error["type"]
        if kind == "missing":
            message = "This field is required."
        elif kind == "extra_forbidden":
            message = "Unknown field."
        elif kind == "string_type":
            message = "Enter text."
        elif field == "email" and kind == "value_error" and "email" in error["msg"].lower():
            message = "Enter a valid email address, like name@school.org.uk."
        else:
            message = error["msg"].removeprefix("Value error, ")
        errors.setdefault(field, []).append(message)
    return errors
