"""A small method + regular-expression router shared by the Wonde and control APIs."""

from __future__ import annotations

import re
from collections.abc import Callable

from .messages import HttpError

Handler = Callable[..., object]


class Router:
    """Maps ``(method, path)`` to a handler and the path's named groups.

    Patterns are written without a trailing slash; every route also accepts one.
    """

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        """Register ``handler`` for ``method`` on paths matching ``pattern``."""
        self._routes.append((method, re.compile(f"^{pattern}/?$"), handler))

    def resolve(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        """The handler and path arguments; 404 for an unknown path, 405 for a wrong method."""
        allowed = []
        for route_method, pattern, handler in self._routes:
            match = pattern.match(path)
            if match:
                if route_method == method:
                    return handler, match.groupdict()
                allowed.append(route_method)
        if allowed:
            raise HttpError(405, "method_not_allowed", f"{method} is not allowed on {path}")
        raise HttpError(404, "not_found", f"No route for {path}")
