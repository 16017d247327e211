"""Checks on text and JSON from outside (the API, the CLI, Wonde's webhooks) before use.

PostgreSQL refuses NUL in text with a raw error, and other control characters have no
place in a name, an id or a search; so every such input is refused up front, in the same
words. Free-text fields (``multiline``) may hold tabs and line breaks. JSON is checked for
nesting depth before it is parsed, since the parser recurses once per level.
"""

from __future__ import annotations

import re

#: C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_MULTILINE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")

CONTROL_MESSAGE = "Remove the control characters (such as NUL) from this text."

#: Deeper JSON than this is refused without parsing it.
MAX_JSON_DEPTH = 32


class UnsafeTextError(ValueError):
    """Text holding characters that no field accepts."""


def has_control_characters(value: str, *, multiline: bool = False) -> bool:
    """Whether ``value`` holds a control character (tab, CR and LF allowed if ``multiline``)."""
    pattern = _CONTROL_MULTILINE if multiline else _CONTROL
    return pattern.search(value) is not None


def check_text(value: str, *, multiline: bool = False) -> str:
    """``value`` unchanged, or :class:`UnsafeTextError` when it holds control characters."""
    if has_control_characters(value, multiline=multiline):
        raise UnsafeTextError(CONTROL_MESSAGE)
    return value


def json_depth(body: bytes | str, *, stop_after: int = MAX_JSON_DEPTH) -> int:
    """How deep the arrays and objects of a JSON text nest (strings skipped), without
    parsing it; counting stops once past ``stop_after``."""
    data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    depth = deepest = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > stop_after:
                    return deepest
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest
