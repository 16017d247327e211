"""Building Wonde request URLs: query strings, and a school's own API host."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests


def with_query(url: str, params: Mapping[str, Any]) -> str:
    """``url`` with ``params`` added to its query string, encoded as requests does."""
    if not params:
        return url
    prepared = requests.PreparedRequest()
    prepared.prepare_url(url, params)
    assert prepared.url is not None
    return prepared.url


def replace_host(base_url: str, domain: str) -> str:
    """Swap the host (and port) of ``base_url`` for ``domain``; keep scheme and path."""
    domain = domain.strip()
    netloc = urlsplit(domain).netloc if "://" in domain else domain.split("/", 1)[0]
    if not netloc:
        raise ValueError(f"Invalid Wonde domain: {domain!r}")
    parts = urlsplit(base_url)
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
