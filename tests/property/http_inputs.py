"""What HTTP requests and command lines can carry, as hypothesis strategies, and the
backends the database-backed properties run on."""

from __future__ import annotations

import os

from hypothesis import strategies as st

#: SQLite by default; ``CALM_PROPERTY_BACKENDS=all`` adds PostgreSQL (about twice as long).
BACKENDS = (
    ["sqlite", "postgresql"] if os.environ.get("CALM_PROPERTY_BACKENDS") == "all" else ["sqlite"]
)
#: Text a URL can carry (httpx sends it UTF-8, percent-encoded): no lone surrogates.
url_text = st.text(st.characters(codec="utf-8"), max_size=40)
#: Raw percent-escapes, some of them not UTF-8 at all.
raw_escapes = st.sampled_from(["%00", "%FF%FE", "%ED%A0%80", "%C0%AF", "%2F..%2F", "%", "%%41"])
#: Numbers as a query may hold them: huge, negative, fractional, not numbers at all.
numbers = st.one_of(
    st.integers().map(str),
    st.integers(10**18, 10**30).map(str),
    st.floats().map(str),
    st.sampled_from(["1e3", "0x10", " 7 ", "", "-0", "9" * 5000, "١٢", "1_0"]),
    url_text,
)
#: Latin-1 header text, without CR, LF and NUL (which h11 refuses to send).
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=60)
