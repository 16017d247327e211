"""Wonde's page-based pagination: parameters, slicing and ``meta.pagination`` links.

``page`` is 1-based, ``per_page`` defaults to 50 and is clamped to the configured maximum (the
effective value is echoed). ``next``/``previous`` are absolute URLs that keep every other query
parameter of the request in its original order and set ``page`` last. On the last page, past
the end and for an empty collection ``next`` is null and ``more`` false; on every other page
``next`` is set and ``more`` true, so clients stopping on either signal agree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from urllib.parse import urlencode

from .messages import HttpError, Request

DEFAULT_PER_PAGE = 50


def paging(request: Request, max_per_page: int) -> tuple[int, int]:
    """``(page, per_page)`` of the request; 400 when either is not a positive integer."""
    params = request.params
    page = _positive(params, "page", 1)
    per_page = min(_positive(params, "per_page", DEFAULT_PER_PAGE), max_per_page)
    return page, per_page


def lenient_paging(request: Request, max_per_page: int) -> tuple[int, int]:
    """Like ``paging`` but falls back to the defaults instead of failing."""
    try:
        return paging(request, max_per_page)
    except HttpError:
        return 1, min(DEFAULT_PER_PAGE, max_per_page)


def collection(
    request: Request,
    items: Sequence,
    render: Callable[[object], dict],
    *,
    page: int,
    per_page: int,
    link_host: str,
    includes: Sequence[str] = (),
) -> dict:
    """The collection envelope for one page of ``items`` (only that page is rendered)."""
    start = (page - 1) * per_page
    window = items[start : start + per_page]
    more = start + per_page < len(items)
    return {
        "data": [render(item) for item in window],
        "meta": {
            "pagination": pagination_meta(request, page, per_page, more, link_host),
            "includes": list(includes),
        },
    }


def pagination_meta(request: Request, page: int, per_page: int, more: bool, link_host: str) -> dict:
    """The five-key ``meta.pagination`` object."""
    return {
        "next": page_url(request, page + 1, link_host) if more else None,
        "previous": page_url(request, page - 1, link_host) if page > 1 else None,
        "more": more,
        "per_page": per_page,
        "current_page": page,
    }


def page_url(request: Request, page: int, host: str) -> str:
    """Absolute URL of ``page`` of the same request on ``host``."""
    kept = [(key, value) for key, value in request.query if key != "page"]
    kept.append(("page", str(page)))
    return f"http://{host}{request.path}?{urlencode(kept)}"


def _positive(params: dict[str, str], name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        value = 0
    if value < 1:
        raise HttpError(400, "invalid_parameter", f"{name} must be a positive integer")
    return value
