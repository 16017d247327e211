"""Fault injection rules for Wonde paths (never for the control API).

A rule matches a request when ``path_contains`` is a substring of its path (no rule path
matches everything). It lets the first ``skip`` matching requests pass, then fires on the
next ``times`` matching ones (``None``: forever). Rules are consulted in the order they were
added and at most one fires per request; a rule that fires hides the request from later ones.

Kinds: ``status`` answers with an error status (``Retry-After`` on 429/503 when
``retry_after`` is given; these headers are not documented by Wonde), ``slow`` sleeps
``delay`` seconds before answering normally, ``truncate`` declares a longer Content-Length
than it writes and closes, ``reset`` closes the connection without answering, ``empty``
answers 200 with an empty last page (404 on a single person's path: nobody to find).
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import asdict, dataclass

KINDS = ("status", "slow", "truncate", "reset", "empty")


@dataclass
class Fault:
    """One injection rule and its counters."""

    id: int
    kind: str
    status: int | None = None
    retry_after: float | None = None
    delay: float = 0.0
    path_contains: str | None = None
    skip: int = 0
    times: int | None = 1
    matched: int = 0
    fired: int = 0

    def view(self) -> dict:
        """The rule as JSON for the control API."""
        return asdict(self)


class FaultBook:
    """The active fault rules."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, spec: dict) -> Fault:
        """Validate ``spec`` (the control API body) and add a rule; ValueError if invalid."""
        if not isinstance(spec, dict):
            raise ValueError("fault must be a JSON object")
        kind = spec.get("kind")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        status = spec.get("status")
        if kind == "status" and not (isinstance(status, int) and 400 <= status <= 599):
            raise ValueError("status must be an HTTP error status such as 429, 500, 502, 503")
        retry_after = _number(spec, "retry_after", None)
        delay = _number(spec, "delay", 0.0)
        if kind == "slow" and not delay:
            raise ValueError("slow needs a positive delay in seconds")
        skip = spec.get("skip", 0)
        times = spec.get("times", 1)
        if not isinstance(skip, int) or skip < 0:
            raise ValueError("skip must be a non-negative integer")
        if times is not None and (not isinstance(times, int) or times < 1):
            raise ValueError("times must be a positive integer or null")
        path = spec.get("path_contains")
        if path is not None and not isinstance(path, str):
            raise ValueError("path_contains must be a string")
        with self._lock:
            fault = Fault(
                id=next(self._ids),
                kind=kind,
                status=status if kind == "status" else None,
                retry_after=retry_after,
                delay=delay,
                path_contains=path or None,
                skip=skip,
                times=times,
            )
            self._faults.append(fault)
        return fault

    def take(self, path: str) -> Fault | None:
        """The rule that fires for a request on ``path``, counting it; None if none fires."""
        with self._lock:
            for fault in self._faults:
                if fault.path_contains and fault.path_contains not in path:
                    continue
                fault.matched += 1
                if fault.matched <= fault.skip:
                    continue
                if fault.times is not None and fault.fired >= fault.times:
                    continue
                fault.fired += 1
                return fault
        return None

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._faults.clear()

    def views(self) -> list[dict]:
        """All rules with their counters, as JSON."""
        with self._lock:
            return [fault.view() for fault in self._faults]


def _number(spec: dict, name: str, default: float | None) -> float | None:
    value = spec.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{name} must be a non-negative number of seconds")
    return float(value)
