"""Following a Wonde list page by page, as ``meta.pagination.next`` says.

``next`` is followed verbatim (joined to the current URL only when relative); a page that
points back to one already read, or from https to plain http, is refused.

Reading ahead (``ahead`` > 0), later pages are requested while the current one is used:
page N+k's URL is page N's ``next`` with its ``page`` parameter set to N+k. A page read
ahead is used only when its URL is exactly the ``next`` the page before it gave; otherwise
that ``next`` is fetched as it is, so a list whose links do not follow the pattern is read
as without reading ahead. The read-ahead grows with the pages read (1, 2, … up to
``ahead``), so a short list costs at most a request or two it did not need, and it only
happens while pages take a while to arrive (on loopback, threads cost more than they save).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from wonde_sync.wonde.errors import WondeResponseError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a Wonde list: its records, its 1-based position in the stream, its URL."""

    records: list[dict[str, Any]]
    number: int
    url: str


def follow_pages(
    fetch: Callable[[str], Any], url: str | None, clean: Callable[[str], str], *, ahead: int = 0
) -> Iterator[Page]:
    """Yield the pages from ``url`` on; ``fetch`` GETs one URL, ``clean`` redacts secrets.

    ``ahead``: how many later pages may be requested (from other threads) in advance.
    """
    reader = _ReadAhead(fetch, ahead)
    try:
        yield from _follow(reader, url, clean)
    finally:
        reader.close()


def _follow(reader: _ReadAhead, url: str | None, clean: Callable[[str], str]) -> Iterator[Page]:
    seen: set[str] = set()
    number = 0
    while url is not None:
        seen.add(url)
        body = reader.get(url)
        records = body.get("data") if isinstance(body, dict) else None
        if not isinstance(records, list):
            raise WondeResponseError(
                f"Wonde GET {clean(url)} returned no 'data' list (not a list endpoint?)",
                url=clean(url),
                method="GET",
            )
        next_url = next_page_url(url, body, clean)
        number += 1
        if next_url is not None:
            reader.plan(next_url, _current_page(body), reads=number)
        del body
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


def page_link(url: str, page: int) -> str | None:
    """``url`` with its ``page`` query parameter set to ``page`` (None when it has none)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if sum(key == "page" for key, _ in query) != 1:
        return None
    query = [(key, str(page) if key == "page" else value) for key, value in query]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _current_page(body: dict[str, Any]) -> int | None:
    meta = body.get("meta")
    pagination = meta.get("pagination") if isinstance(meta, dict) else None
    page = pagination.get("current_page") if isinstance(pagination, dict) else None
    return page if isinstance(page, int) and not isinstance(page, bool) else None


#: Pages answered faster than this are not worth reading ahead (threads cost more).
SLOW_PAGE_SECONDS = 0.01


class _ReadAhead:
    """Bodies of URLs, fetched now or, for pages planned ahead, by a small thread pool."""

    def __init__(self, fetch: Callable[[str], Any], ahead: int) -> None:
        self._fetch = fetch
        self._ahead = max(0, ahead)
        self._pool: ThreadPoolExecutor | None = None
        self._planned: dict[str, Future] = {}
        #: How long the latest page took to arrive.
        self._last_wait = 0.0

    def get(self, url: str) -> Any:
        """The body at ``url``: the planned request's answer, else fetched here and now."""
        planned = self._planned.pop(url, None)
        return planned.result() if planned is not None else self._timed(url)

    def _timed(self, url: str) -> Any:
        started = time.monotonic()
        try:
            return self._fetch(url)
        finally:
            self._last_wait = time.monotonic() - started

    def plan(self, next_url: str, current: int | None, *, reads: int) -> None:
        """Request the pages after ``current`` (the page whose ``next`` is ``next_url``),
        when pages are slow to arrive."""
        if not self._ahead or self._last_wait < SLOW_PAGE_SECONDS:
            return
        if current is None or page_link(next_url, current + 1) != next_url:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._ahead, thread_name_prefix="wonde-page")
        for page in range(current + 1, current + 1 + min(self._ahead, reads)):
            link = page_link(next_url, page)
            if link is not None and link not in self._planned:
                self._planned[link] = self._pool.submit(self._timed, link)

    def close(self) -> None:
        """Drop what was requested and not used (pages past the end of the list), once the
        requests already sent have ended: no request outlives the list it was read for."""
        self._planned.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
