"""Following a Wonde list page by page, as ``meta.pagination.next`` says.

``next`` is followed verbatim (joined to the current URL only when relative); a page that
points back to one already read, or from https to plain http, is refused.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from wonde_sync.wonde.errors import WondeResponseError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a Wonde list: its records, its 1-based position in the stream, its URL."""

    records: list[dict[str, Any]]
    number: int
    url: str


def follow_pages(
    fetch: Callable[[str], Any], url: str | None, clean: Callable[[str], str]
) -> Iterator[Page]:
    """Yield the pages from ``url`` on; ``fetch`` GETs one URL, ``clean`` redacts secrets."""
    seen: set[str] = set()
    number = 0
    while url is not None:
        seen.add(url)
        body = fetch(url)
        records = body.get("data") if isinstance(body, dict) else None
        if not isinstance(records, list):
            raise WondeResponseError(
                f"Wonde GET {clean(url)} returned no 'data' list (not a list endpoint?)",
                url=clean(url),
                method="GET",
            )
        next_url = next_page_url(url, body, clean)
        del body
        number += 1
        if not records and number > 1:
            log.warning(
                "Wonde page %d at %s is empty although the previous page announced more; "
                "the list may be incomplete",
                number,
                clean(url),
            )
        yield Page(records=records, number=number, url=url)
        del records
        if next_url is not None and next_url in seen:
            raise WondeResponseError(
                f"Wonde pagination loop: page {number} at {clean(url)} points back to "
                f"{clean(next_url)}, which was already fetched",
                url=clean(url),
                method="GET",
            )
        url = next_url


def next_page_url(current: str, body: dict[str, Any], clean: Callable[[str], str]) -> str | None:
    """The URL of the page after ``current``, or ``None`` on the last page."""
    meta = body.get("meta")
    pagination = meta.get("pagination") if isinstance(meta, dict) else None
    if not isinstance(pagination, dict):
        return None
    next_url = pagination.get("next")
    if not next_url or pagination.get("more") is False:
        return None
    if not isinstance(next_url, str):
        raise WondeResponseError(
            f"Wonde GET {clean(current)} returned a non-string pagination.next",
            url=clean(current),
            method="GET",
        )
    try:
        next_url = urljoin(current, next_url)  # verbatim when absolute (the normal case)
        downgrade = urlsplit(current).scheme == "https" and urlsplit(next_url).scheme != "https"
    except ValueError:  # e.g. an unclosed IPv6 bracket or a bad port: nothing to follow
        raise WondeResponseError(
            f"Wonde GET {clean(current)} returned a pagination.next that is not a URL",
            url=clean(current),
            method="GET",
        ) from None
    if downgrade:
        raise WondeResponseError(
            f"Wonde pagination.next {clean(next_url)} downgrades https; refusing to "
            "send the token over plain HTTP",
            url=clean(current),
            method="GET",
        )
    return next_url
