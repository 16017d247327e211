"""What every admin CLI command shares: one-line errors, checked option values, the
messages of the errors an operator can correct.

Nothing here imports SQLAlchemy, Airflow or pydantic at module level, so that ``--help``
and argument errors answer at once.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import NoReturn

PROG = "python -m wonde_sync"

#: Exceptions whose message is written for the operator, by module. Each module is looked
#: up only if already imported: an error class that was never imported cannot have been
#: raised, and importing it to check (pydantic, cryptography) would slow every error down.
_OPERATOR_ERRORS = {
    "wonde_sync.admin.sites": ("SiteError",),
    "wonde_sync.core.text_input": ("UnsafeTextError",),
    "wonde_sync.admin.api_tokens": ("ApiTokenError",),
    "wonde_sync.catalog.queries": ("SearchQueryError",),
    "wonde_sync.school_access.errors": ("AccessLifecycleError",),
    "wonde_sync.school_access.contact_form": ("ContactValidationError",),
    "wonde_sync.school_access.token_vault": ("TokenVaultError",),
    "wonde_sync.wonde.errors": ("WondeError",),
}


class CliError(Exception):
    """A problem the operator can correct; the message says what to do (exit code 2)."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one ``error:`` line naming the help to read."""

    def error(self, message: str) -> NoReturn:
        """Print one line on stderr and exit with 2 (argparse prints the usage as well)."""
        self.exit(2, f"error: {message} (see: {self.prog} --help)\n")


def one_line(text: str) -> str:
    """A message on one line (drivers and servers may answer on several)."""
    return " ".join(str(text).split())


def operator_message(exc: BaseException) -> str | None:
    """The message of an error the operator can correct, or None for any other error."""
    for module_name, class_names in _OPERATOR_ERRORS.items():
        module = sys.modules.get(module_name)
        if module is not None and isinstance(exc, tuple(getattr(module, n) for n in class_names)):
            return one_line(exc)
    return None


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"use a number from {low} to {high}, not {value}")
        return value

    return parse


def run_kind(text: str) -> str:
    """An argparse type: a Sync History kind code (any case)."""
    from wonde_sync.core.sync_history import KIND_LABELS

    code = text.strip().lower()
    if code not in KIND_LABELS:
        valid = ", ".join(f"{k} ({label})" for k, label in KIND_LABELS.items())
        raise argparse.ArgumentTypeError(f"unknown kind {text!r}: use one of {valid}")
    return code


def run_status(text: str) -> str:
    """An argparse type: a Sync History status (any case)."""
    from wonde_sync.core.sync_history import STATUSES

    for status in STATUSES:
        if text.strip().lower() == status.lower():
            return status
    raise argparse.ArgumentTypeError(f"unknown status {text!r}: use one of {', '.join(STATUSES)}")
