"""Properties of the checks on outside text: control characters and JSON nesting depth."""

from __future__ import annotations

import json
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wonde_sync.core import text_input

#: Any character, lone surrogates included (a JSON body can carry them).
any_text = st.text(
    st.characters(
        codec=None, categories=["Cc", "Cs", "Zl", "Zp", "L", "N", "Z"], include_characters='[]{}"\\'
    )
)
LINE_BREAKS = "\t\n\r"


def _controls(text: str, *, multiline: bool) -> list[str]:
    """The characters no field accepts: Unicode's controls and line/paragraph separators."""
    allowed = LINE_BREAKS if multiline else ""
    return [c for c in text if (unicodedata.category(c) in ("Cc", "Zl", "Zp")) and c not in allowed]


@given(any_text, st.booleans())
def test_control_characters_are_found_exactly(text, multiline):
    expected = bool(_controls(text, multiline=multiline))
    assert text_input.has_control_characters(text, multiline=multiline) == expected


@given(any_text, st.booleans())
def test_check_text_returns_the_text_or_refuses_it(text, multiline):
    if _controls(text, multiline=multiline):
        with pytest.raises(text_input.UnsafeTextError, match="control characters"):
            text_input.check_text(text, multiline=multiline)
    else:
        assert text_input.check_text(text, multiline=multiline) is text


json_documents = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=40,
)


def _depth(value) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


@given(json_documents, st.booleans(), st.booleans())
def test_json_depth_counts_the_nesting_of_any_document(value, ascii_only, as_bytes):
    """Brackets, quotes and backslashes inside strings do not count."""
    body = json.dumps(value, ensure_ascii=ascii_only)
    found = text_input.json_depth(body.encode("utf-8", "surrogatepass") if as_bytes else body)
    assert found == _depth(value)


@given(st.integers(0, 5000), st.sampled_from("[{"))
def test_json_depth_stops_counting_past_the_limit(levels, opener):
    closer = {"[": "]", "{": "}"}[opener]
    body = (opener + ('"k":' if opener == "{" else "")) * levels + "1" + closer * levels
    found = text_input.json_depth(body)
    if levels <= text_input.MAX_JSON_DEPTH:
        assert found == levels
    else:
        assert found == text_input.MAX_JSON_DEPTH + 1


@given(st.binary(max_size=300))
def test_json_depth_reads_any_bytes(body):
    assert 0 <= text_input.json_depth(body) <= text_input.MAX_JSON_DEPTH + 1
