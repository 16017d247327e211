"""The emulator's mutable state: access states, tokens, people edits, deletions, counters.

Access states per school: ``none`` (never requested), ``pending``, ``approved`` (approved by
the school, not yet audited by Wonde), ``audited`` (approved and audited: data readable),
``declined`` and ``revoked``. Only approved or audited schools hold a per-school token; it
is replaced on every approval and dropped on decline and revocation.

Everything here is guarded by one re-entrant lock, since the HTTP server is threaded.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

from .dates import timestamp
from .directory import Directory, SchoolRecord
from .people import EMPLOYEE, MIS_STATUSES, STUDENT, PeopleFactory, Person

STATES = ("none", "pending", "approved", "audited", "declined", "revoked")
READABLE = ("approved", "audited")


class Conflict(Exception):
    """A control-API change that does not fit the current state (answered as 409)."""


@dataclass
class Access:
    """One school's access to the app."""

    state: str = "none"
    token: str | None = None
    approvals: int = 0
    contacts: list[dict] = field(default_factory=list)


@dataclass
class Deletion:
    """One record of a school's ``/deletions`` feed."""

    id: str
    type: str
    mis_id: str
    deleted_at: datetime
    restored_at: datetime | None = None

    @property
    def changed_at(self) -> datetime:
        """The later of ``deleted_at`` and ``restored_at``, used by date filters."""
        return max(self.deleted_at, self.restored_at or self.deleted_at)

    def render(self) -> dict:
        """Wonde JSON for the record."""
        return {
            "id": self.id,
            "type": self.type,
            "mis_id": self.mis_id,
            "deleted_at": timestamp(self.deleted_at),
            "restored_at": timestamp(self.restored_at),
        }


class Roster:
    """The people of one school and its deletions feed, in MIS order."""

    def __init__(self, factory: PeopleFactory, staff: int, students: int) -> None:
        self.factory = factory
        self.people: dict[str, dict[str, Person]] = {
            EMPLOYEE: {p.id: p for p in factory.generate(EMPLOYEE, staff)},
            STUDENT: {p.id: p for p in factory.generate(STUDENT, students)},
        }
        self.deletions: dict[tuple[str, str], Deletion] = {}

    def listed(self, kind: str) -> list[Person]:
        """People of ``kind`` that Wonde lists (not deleted)."""
        return [p for p in self.people[kind].values() if not p.deleted]

    def find(self, kind: str, person_id: str) -> Person:
        """A person, deleted or not; LookupError if unknown."""
        person = self.people[kind].get(person_id)
        if person is None:
            raise LookupError(f"No {kind} {person_id}")
        return person

    def edit(self, kind: str, person_id: str, changes: dict, now: datetime) -> Person:
        """Apply ``forename``/``surname``/``email``/``mis_status``/``end_date`` changes.

        ``end_date`` (``YYYY-MM-DD`` or null) is the employment end / leaving date; it is
        applied after ``mis_status``, so a leaver can be given a date of the test's choice.
        updated_at becomes ``now``.
        """
        person = self.find(kind, person_id)
        unknown = set(changes) - {"forename", "surname", "email", "mis_status", "end_date"}
        if unknown:
            raise ValueError(f"Unknown fields: {', '.join(sorted(unknown))}")
        # Validate everything first so a bad field leaves the person untouched.
        for name in ("forename", "surname"):
            if name in changes and not (isinstance(changes[name], str) and changes[name].strip()):
                raise ValueError(f"{name} must be a non-empty string")
        if "email" in changes and not isinstance(changes["email"], str | None):
            raise ValueError("email must be a string or null")
        if "mis_status" in changes and changes["mis_status"] not in MIS_STATUSES:
            raise ValueError(f"mis_status must be one of {', '.join(MIS_STATUSES)}")
        end_date = _calendar_day(changes["end_date"]) if "end_date" in changes else None
        for name in ("forename", "surname"):
            if name in changes:
                setattr(person, name, changes[name])
                if getattr(person, f"legal_{name}") is not None:
                    setattr(person, f"legal_{name}", changes[name])
        if "email" in changes:
            person.set_email(changes["email"])
        if "mis_status" in changes:
            person.set_mis_status(changes["mis_status"], now.date())
        if "end_date" in changes:
            person.end_date = end_date
        person.updated_at = now
        return person

    def add(self, kind: str, body: dict, now: datetime) -> Person:
        """Add an active person from ``{"forename", "surname", "email"}``."""
        names = [body.get("forename"), body.get("surname")]
        if not all(isinstance(n, str) and n.strip() for n in names):
            raise ValueError("forename and surname are required")
        email = body.get("email")
        if email is not None and not isinstance(email, str):
            raise ValueError("email must be a string or null")
        person = self.factory.added(kind, names[0], names[1], email, now)
        self.people[kind][person.id] = person
        return person

    def delete(self, kind: str, person_id: str, now: datetime) -> Deletion:
        """Remove a person from the lists and record it in the deletions feed."""
        person = self.find(kind, person_id)
        if person.deleted:
            raise Conflict(f"{kind} {person_id} is already deleted")
        person.deleted = True
        self.deletions.pop((kind, person_id), None)
        record = Deletion(person.id, kind, person.mis_id, now)
        self.deletions[(kind, person_id)] = record
        return record

    def restore(self, kind: str, person_id: str, now: datetime) -> Person:
        """Bring a deleted person back; the deletion record keeps ``restored_at``."""
        person = self.find(kind, person_id)
        if not person.deleted:
            raise Conflict(f"{kind} {person_id} is not deleted")
        person.deleted = False
        person.restored_at = now
        person.updated_at = now
        self.deletions[(kind, person_id)].restored_at = now
        return person

    def deletion_feed(self, kind: str | None) -> list[Deletion]:
        """Deletion records, oldest first, optionally of one type."""
        return [d for d in self.deletions.values() if kind is None or d.type == kind]


class World:
    """All mutable state of one emulator instance."""

    def __init__(
        self,
        directory: Directory,
        *,
        seed: int,
        staff_per_school: int,
        students_per_school: int,
        token: str,
        approved: int,
    ) -> None:
        self.lock = threading.RLock()
        self.directory = directory
        self.seed = seed
        self.staff_per_school = staff_per_school
        self.students_per_school = students_per_school
        self.app_token = token
        self.gbr_domain = "127.0.0.1"
        self.aus_domain = "localhost"
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self.next_host: str | None = None
        self.webhook_log: list[dict] = []
        self._access: dict[str, Access] = {}
        self._school_tokens: dict[str, str] = {}
        self._rosters: dict[str, Roster] = {}
        self.requests_total = 0
        self.requests_by_path: Counter[str] = Counter()
        for record in directory.records[:approved]:
            self.approve(record.id, audited=True)

    # Access lifecycle ------------------------------------------------------------------

    def state(self, school_id: str) -> str:
        """The access state of a school (``none`` when never touched)."""
        access = self._access.get(school_id)
        return access.state if access else "none"

    def access(self, school_id: str) -> Access:
        """The access record of a school, created on first use."""
        with self.lock:
            return self._access.setdefault(school_id, Access())

    def schools_in(self, states: tuple[str, ...]) -> list[SchoolRecord]:
        """Schools whose state is in ``states``, in directory order."""
        with self.lock:
            ids = [sid for sid, access in self._access.items() if access.state in states]
        records = [self.directory.get(sid) for sid in ids]
        return sorted((r for r in records if r is not None), key=lambda r: r.index)

    def request_access(self, school_id: str, contacts: list[dict]) -> str:
        """Record an access request; none/declined/revoked become pending."""
        with self.lock:
            access = self.access(school_id)
            access.contacts = contacts
            if access.state in ("none", "declined", "revoked"):
                access.state = "pending"
            return access.state

    def approve(self, school_id: str, audited: bool = True) -> str:
        """Approve (and by default audit) a school; returns its new per-school token."""
        with self.lock:
            access = self.access(school_id)
            self._drop_token(access)
            access.approvals += 1
            digest = hashlib.sha1(f"{self.seed}/{school_id}/{access.approvals}".encode())
            access.token = digest.hexdigest()
            access.state = "audited" if audited else "approved"
            self._school_tokens[access.token] = school_id
            return access.token

    def decline(self, school_id: str) -> None:
        """The school declines the request."""
        with self.lock:
            access = self.access(school_id)
            self._drop_token(access)
            access.state = "declined"

    def revoke(self, school_id: str) -> None:
        """Access is revoked (by the school or the app); the school token stops working."""
        with self.lock:
            access = self.access(school_id)
            self._drop_token(access)
            access.state = "revoked"

    def _drop_token(self, access: Access) -> None:
        if access.token:
            self._school_tokens.pop(access.token, None)
        access.token = None

    def state_view(self, school_id: str) -> dict:
        """The control API's view of a school's access."""
        with self.lock:
            access = self._access.get(school_id) or Access()
            return {
                "school_id": school_id,
                "state": access.state,
                "school_token": access.token,
                "contacts": list(access.contacts),
            }

    # Tokens ------------------------------------------------------------------------------

    def principal(self, token: str | None) -> tuple[str, str | None] | None:
        """``("app", None)``, ``("school", school_id)`` or None for an unknown token."""
        if not token:
            return None
        with self.lock:
            if token == self.app_token:
                return ("app", None)
            school_id = self._school_tokens.get(token)
        return ("school", school_id) if school_id else None

    def rotate_app_token(self, token: str) -> None:
        """Replace the application token; the old one becomes invalid."""
        with self.lock:
            self.app_token = token

    # People ------------------------------------------------------------------------------

    def roster(self, record: SchoolRecord) -> Roster:
        """The people of a school, generated on first access."""
        with self.lock:
            roster = self._rosters.get(record.id)
            if roster is None:
                factory = PeopleFactory(self.seed, record.id, record.name, record.phase)
                roster = Roster(factory, self.staff_per_school, self.students_per_school)
                self._rosters[record.id] = roster
            return roster

    # Hosts -------------------------------------------------------------------------------

    def domain_for(self, record: SchoolRecord) -> str:
        """The ``region.domain`` of a school (host:port of this emulator)."""
        return self.aus_domain if record.aus else self.gbr_domain

    def link_host(self, request_host: str) -> str:
        """Host for absolute pagination URLs: the configured next_host or the request's."""
        return self.next_host or request_host or self.gbr_domain

    # Request counting --------------------------------------------------------------------

    def count_request(self, path: str) -> None:
        """Count one request on a Wonde path (trailing slash ignored)."""
        key = path.rstrip("/") or "/"
        with self.lock:
            self.requests_total += 1
            self.requests_by_path[key] += 1

    def request_counts(self) -> dict:
        """``{"total": n, "by_path": {...}}``."""
        with self.lock:
            return {"total": self.requests_total, "by_path": dict(self.requests_by_path)}

    def reset_request_counts(self) -> None:
        """Zero the request counters."""
        with self.lock:
            self.requests_total = 0
            self.requests_by_path.clear()


KIND_BY_COLLECTION = {"employees": EMPLOYEE, "students": STUDENT}


def _calendar_day(value: object) -> date | None:
    """A ``YYYY-MM-DD`` string as a date (None stays None); ValueError otherwise."""
    if value is None:
        return None
    try:
        if isinstance(value, str):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise ValueError("end_date must be a date such as 2026-07-15, or null")
