"""MIS changes scheduled to land while a client is paging ("after page N of path P, ...").

A real school's MIS can delete, restore or edit a person between two page requests of one
client, and offset pages then shift under it. A test reproduces that exactly by scheduling
a change: once the ``after``-th Wonde request whose path contains ``path_contains`` has been
answered (its body computed, before it is written), the change is applied, so the client's
next request already sees it. Each change fires once.

    POST   /_emulator/mis-changes   {"after": 1, "path_contains": "/employees",
                                     "school_id": ..., "person_id": ..., "type": "employee",
                                     "action": "delete" | "restore" | "edit",
                                     "fields": {...}}   (edit only: as PATCH on a person)
    GET    /_emulator/mis-changes   every change, with ``matched``, ``applied`` and ``error``
    DELETE /_emulator/mis-changes   forget every change

Scheduling checks that the school and the person exist (404) and that the body is sound
(400); whether the change fits the person's state then (e.g. a delete of someone already
deleted) is only known when it fires, so such a failure is recorded in ``error``.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import asdict, dataclass, field

from .dates import utc_now
from .messages import Request, Response
from .people import EMPLOYEE, STUDENT
from .routing import Router
from .world import Conflict, World

ACTIONS = ("delete", "restore", "edit")


@dataclass
class MisChange:
    """One scheduled change and what became of it."""

    id: int
    after: int
    path_contains: str
    school_id: str
    person_id: str
    type: str
    action: str
    fields: dict = field(default_factory=dict)
    matched: int = 0
    applied: bool = False
    error: str | None = None

    def view(self) -> dict:
        """The change as JSON for the control API."""
        return asdict(self)


class MisChangeBook:
    """The scheduled changes of one emulator, applied by the server as requests pass."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._changes: list[MisChange] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, spec: dict) -> MisChange:
        """Validate ``spec`` (the control API body) and schedule it; ValueError/LookupError."""
        after = spec.get("after", 1)
        if isinstance(after, bool) or not isinstance(after, int) or after < 1:
            raise ValueError("after must be a positive integer (the number of answered pages)")
        path = spec.get("path_contains")
        if not isinstance(path, str) or not path:
            raise ValueError("path_contains must be a non-empty string, e.g. /employees")
        action = spec.get("action")
        if action not in ACTIONS:
            raise ValueError(f"action must be one of {', '.join(ACTIONS)}")
        kind = str(spec.get("type") or EMPLOYEE).strip().lower().rstrip("s")
        if kind not in (EMPLOYEE, STUDENT):
            raise ValueError("type must be employee or student")
        fields = spec.get("fields") or {}
        if not isinstance(fields, dict) or (action == "edit" and not fields):
            raise ValueError("fields must be an object of changes (required for edit)")
        school_id, person_id = spec.get("school_id"), spec.get("person_id")
        record = self.world.directory.get(school_id) if isinstance(school_id, str) else None
        if record is None:
            raise LookupError(f"School {school_id} not found")
        with self.world.lock:
            self.world.roster(record).find(kind, str(person_id))
        with self._lock:
            change = MisChange(
                next(self._ids), after, path, school_id, str(person_id), kind, action, fields
            )
            self._changes.append(change)
        return change

    def pending(self) -> bool:
        """Whether a scheduled change is still to come."""
        with self._lock:
            return any(not change.applied for change in self._changes)

    def answered(self, path: str) -> bool:
        """Count an answered Wonde request on ``path``; apply the changes now due (True when
        any was)."""
        due = []
        with self._lock:
            for change in self._changes:
                if change.applied or change.path_contains not in path:
                    continue
                change.matched += 1
                if change.matched >= change.after:
                    change.applied = True
                    due.append(change)
        for change in due:
            change.error = self._apply(change)
        return bool(due)

    def _apply(self, change: MisChange) -> str | None:
        record = self.world.directory.get(change.school_id)
        with self.world.lock:
            roster = self.world.roster(record)
            try:
                if change.action == "delete":
                    roster.delete(change.type, change.person_id, utc_now())
                elif change.action == "restore":
                    roster.restore(change.type, change.person_id, utc_now())
                else:
                    roster.edit(change.type, change.person_id, change.fields, utc_now())
            except (Conflict, LookupError, ValueError) as exc:
                return str(exc)
        return None

    def clear(self) -> None:
        """Forget every change."""
        with self._lock:
            self._changes.clear()

    def views(self) -> list[dict]:
        """Every change with its outcome, as JSON."""
        with self._lock:
            return [change.view() for change in self._changes]


def add_routes(router: Router, book: MisChangeBook, read_body) -> None:
    """Serve the book on ``/_emulator/mis-changes``; ``read_body`` gives a request's object."""

    def schedule(request: Request) -> Response:
        return Response(200, book.add(read_body(request)).view())

    def listing(request: Request) -> Response:
        return Response(200, {"data": book.views()})

    def forget(request: Request) -> Response:
        book.clear()
        return Response(200, {"data": []})

    router.add("POST", "/_emulator/mis-changes", schedule)
    router.add("GET", "/_emulator/mis-changes", listing)
    router.add("DELETE", "/_emulator/mis-changes", forget)
