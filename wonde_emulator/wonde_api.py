"""Handlers for the emulated Wonde paths under ``/v1.0/``.

Choices where Wonde's behaviour is not publicly known (see the reference's open questions):

* ``GET /schools`` lists approved *or* audited schools; ``/schools/offline`` is always empty.
* ``GET /schools/{id}``: 404 for an unknown id, 403 unless approved or audited.
* Data endpoints need the school approved *and* audited, else 403 ``invalid_permissions``.
* Wrong host: a list of a school's data requested on a host other than its
  ``region.domain`` is empty, counts are zero and single records are 404 ("no data").
* ``updated_after`` is inclusive and ``updated_before`` exclusive; a value that is not a date
  is a 400. Unknown query parameters and unknown includes are ignored.
* ``/deletions`` without ``type`` returns every type; an unknown ``type`` returns nothing.
* A per-school token only works on ``/v1.0/schools/{its id}`` and below (403 elsewhere).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from functools import partial

from .auth import token_from
from .dates import parse_query_datetime
from .directory import SchoolRecord, render_school
from .messages import HttpError, Request, Response
from .pagination import collection, paging
from .people import EMPLOYEE, EMPLOYEE_INCLUDES, STUDENT, STUDENT_INCLUDES, render_person
from .routing import Router
from .world import READABLE, World

SCHOOL_INCLUDES = ("cbds",)
COUNT_INCLUDES = ("employees", "students")
CONTACT_FIELDS = ("first_name", "last_name", "phone_number", "email_address", "notes")
_SUPPORTED = {EMPLOYEE: EMPLOYEE_INCLUDES, STUDENT: STUDENT_INCLUDES}
_LISTS = {
    "pending": ("pending",),
    "audited": ("audited",),
    "declined": ("declined",),
    "revoked": ("revoked",),
    "offline": (),
}
_SCHOOL = r"/v1\.0/schools/(?P<school_id>[^/]+)"


class WondeApi:
    """Authenticates and answers requests on Wonde paths."""

    def __init__(self, world: World, max_per_page: int) -> None:
        self.world = world
        self.max_per_page = max_per_page
        self.router = router = Router()
        router.add("GET", r"/v1\.0/schools/all", self.directory)
        for name, states in _LISTS.items():
            router.add("GET", rf"/v1\.0/schools/{name}", partial(self.school_list, states=states))
        router.add("GET", r"/v1\.0/schools", partial(self.school_list, states=READABLE))
        router.add("GET", _SCHOOL, self.school)
        router.add("POST", _SCHOOL + "/request-access", self.request_access)
        router.add("DELETE", _SCHOOL + "/revoke-access", self.revoke_access)
        for collection_name, kind in (("employees", EMPLOYEE), ("students", STUDENT)):
            router.add("GET", f"{_SCHOOL}/{collection_name}", partial(self.people, kind=kind))
            router.add(
                "GET",
                f"{_SCHOOL}/{collection_name}/(?P<person_id>[^/]+)",
                partial(self.person, kind=kind),
            )
        router.add("GET", _SCHOOL + "/deletions", self.deletions)
        router.add("GET", _SCHOOL + "/counts", self.counts)
        router.add("GET", r"/v1\.0/meta/schools/(?P<school_id>[^/]+)", self.meta)

    def dispatch(self, request: Request) -> Response:
        """Authenticate, check the token's scope and run the matching handler."""
        principal = self.world.principal(token_from(request.headers))
        if principal is None:
            raise HttpError(401, "unauthenticated", "Missing, invalid or revoked API token.")
        handler, args = self.router.resolve(request.method, request.path)
        kind, scope = principal
        if kind == "school" and not re.match(
            rf"^/v1\.0/schools/{re.escape(scope)}(/|$)", request.path
        ):
            raise HttpError(
                403, "invalid_permissions", "A school token only gives access to its school."
            )
        return handler(request, **args)

    # Schools ------------------------------------------------------------------------------

    def directory(self, request: Request) -> Response:
        """``GET /schools/all``: the filtered directory."""
        return self._schools_page(request, self.world.directory.search(request.params))

    def school_list(self, request: Request, states: tuple[str, ...]) -> Response:
        """``GET /schools`` and ``/schools/{pending,audited,declined,revoked,offline}``."""
        return self._schools_page(request, self.world.schools_in(states))

    def school(self, request: Request, school_id: str) -> Response:
        """``GET /schools/{id}``."""
        record = self._record(school_id)
        if self.world.state(school_id) not in READABLE:
            raise _no_access(school_id, "has not approved access for this application")
        return _single(self._render_school(record), SCHOOL_INCLUDES)

    def meta(self, request: Request, school_id: str) -> Response:
        """``GET /meta/schools/{id}``: access flags."""
        self._record(school_id)
        state = self.world.state(school_id)
        return Response(
            200,
            {
                "data": {
                    "online": True,
                    "approved": state in READABLE,
                    "audited": state == "audited",
                    "custom_attendance_codes": False,
                }
            },
        )

    def request_access(self, request: Request, school_id: str) -> Response:
        """``POST /schools/{id}/request-access`` with optional contacts."""
        self._record(school_id)
        contacts = _contacts(request.json(default=None))
        state = self.world.request_access(school_id, contacts)
        return Response(
            200,
            {
                "success": True,
                "state": state,
                "message": "Access request successfully received",
            },
        )

    def revoke_access(self, request: Request, school_id: str) -> Response:
        """``DELETE /schools/{id}/revoke-access``."""
        self._record(school_id)
        self.world.revoke(school_id)
        return Response(200, {"success": True, "state": "revoked", "message": "Access revoked"})

    # School data --------------------------------------------------------------------------

    def people(self, request: Request, school_id: str, kind: str) -> Response:
        """``GET /schools/{id}/employees`` and ``/students``."""
        record = self._data_school(school_id)
        page, per_page = paging(request, self.max_per_page)
        supported = _SUPPORTED[kind]
        includes = _includes(request, supported)
        after, before = _window(request)
        people = []
        if self._on_domain(request, record):
            people = [
                p
                for p in self.world.roster(record).listed(kind)
                if _in_window(p.updated_at, after, before)
            ]
        body = collection(
            request,
            people,
            lambda p: render_person(p, includes),
            page=page,
            per_page=per_page,
            link_host=self.world.link_host(request.host),
            includes=supported,
        )
        return Response(200, body)

    def person(self, request: Request, school_id: str, person_id: str, kind: str) -> Response:
        """``GET /schools/{id}/employees/{eid}`` and ``/students/{sid}``."""
        record = self._data_school(school_id)
        supported = _SUPPORTED[kind]
        try:
            found = self.world.roster(record).find(kind, person_id)
        except LookupError:
            found = None
        if found is None or found.deleted or not self._on_domain(request, record):
            raise HttpError(404, "not_found", f"No {kind} {person_id} at school {school_id}.")
        return _single(render_person(found, _includes(request, supported)), supported)

    def deletions(self, request: Request, school_id: str) -> Response:
        """``GET /schools/{id}/deletions`` (``type`` = employee | student)."""
        record = self._data_school(school_id)
        page, per_page = paging(request, self.max_per_page)
        after, before = _window(request)
        wanted = request.params.get("type", "").strip().lower() or None
        if wanted in ("employees", "students"):
            wanted = wanted[:-1]
        records = []
        if self._on_domain(request, record):
            records = [
                d
                for d in self.world.roster(record).deletion_feed(wanted)
                if _in_window(d.changed_at, after, before)
            ]
        body = collection(
            request,
            records,
            lambda d: d.render(),
            page=page,
            per_page=per_page,
            link_host=self.world.link_host(request.host),
        )
        return Response(200, body)

    def counts(self, request: Request, school_id: str) -> Response:
        """``GET /schools/{id}/counts?include=students,employees``."""
        record = self._data_school(school_id)
        on_domain = self._on_domain(request, record)
        asked = _includes(request, COUNT_INCLUDES)
        data = {}
        for name in (name for name in COUNT_INCLUDES if name in asked):
            kind = EMPLOYEE if name == "employees" else STUDENT
            count = len(self.world.roster(record).listed(kind)) if on_domain else 0
            data[name] = {"data": {"count": count}}
        return _single(data, COUNT_INCLUDES)

    # Helpers ------------------------------------------------------------------------------

    def _record(self, school_id: str) -> SchoolRecord:
        record = self.world.directory.get(school_id)
        if record is None:
            raise HttpError(404, "not_found", f"School {school_id} not found.")
        return record

    def _data_school(self, school_id: str) -> SchoolRecord:
        record = self._record(school_id)
        if self.world.state(school_id) != "audited":
            raise _no_access(school_id, "is not approved and audited for this application")
        return record

    def _on_domain(self, request: Request, record: SchoolRecord) -> bool:
        """Whether the request reached the school's ``region.domain``."""
        return not request.host or request.host.lower() == self.world.domain_for(record).lower()

    def _render_school(self, record: SchoolRecord) -> dict:
        return render_school(record, self.world.gbr_domain, self.world.aus_domain)

    def _schools_page(self, request: Request, records: Sequence[SchoolRecord]) -> Response:
        page, per_page = paging(request, self.max_per_page)
        body = collection(
            request,
            records,
            self._render_school,
            page=page,
            per_page=per_page,
            link_host=self.world.link_host(request.host),
            includes=SCHOOL_INCLUDES,
        )
        return Response(200, body)


def _single(data: dict, includes: Sequence[str]) -> Response:
    return Response(200, {"data": data, "meta": {"includes": list(includes)}})


def _no_access(school_id: str, why: str) -> HttpError:
    return HttpError(403, "invalid_permissions", f"School {school_id} {why}.")


def _includes(request: Request, supported: Sequence[str]) -> set[str]:
    """Requested includes (comma-separated, repeatable) that the endpoint supports."""
    asked = {part.strip() for value in request.values("include") for part in value.split(",")}
    return asked & set(supported)


def _window(request: Request) -> tuple[datetime | None, datetime | None]:
    """The ``updated_after``/``updated_before`` bounds, in UTC; 400 when unparsable."""
    bounds = []
    for name in ("updated_after", "updated_before"):
        raw = request.params.get(name, "").strip()
        if not raw:
            bounds.append(None)
            continue
        try:
            bounds.append(parse_query_datetime(raw))
        except ValueError as exc:
            raise HttpError(
                400,
                "invalid_parameter",
                f"{name} must be a date such as 2024-06-24 00:00:00 or 2024-06-24T00:00:00Z",
            ) from exc
    return bounds[0], bounds[1]


def _in_window(moment: datetime, after: datetime | None, before: datetime | None) -> bool:
    return (after is None or moment >= after) and (before is None or moment < before)


def _contacts(body: object) -> list[dict]:
    """Validated contacts of a request-access body (empty, ``[]`` or ``{"contacts": [...]}``)."""
    if body is None or body == [] or body == {}:
        return []
    if not isinstance(body, dict):
        raise _invalid({"contacts": ["The request body must be a JSON object."]})
    contacts = body.get("contacts") or []
    if not isinstance(contacts, list):
        raise _invalid({"contacts": ["The contacts field must be an array."]})
    errors: dict[str, list[str]] = {}
    kept = []
    for position, contact in enumerate(contacts):
        prefix = f"contacts.{position}"
        if not isinstance(contact, dict):
            errors[prefix] = [f"The {prefix} field must be an object."]
            continue
        for name in CONTACT_FIELDS:
            value = contact.get(name)
            required = name in ("first_name", "last_name")
            if required and not (isinstance(value, str) and value.strip()):
                errors[f"{prefix}.{name}"] = [f"The {prefix}.{name} field is required."]
            elif value is not None and not isinstance(value, str):
                errors[f"{prefix}.{name}"] = [f"The {prefix}.{name} must be a string."]
        kept.append({name: contact.get(name) for name in CONTACT_FIELDS})
    if errors:
        raise _invalid(errors)
    return kept


def _invalid(errors: dict[str, list[str]]) -> HttpError:
    return HttpError(422, "validation_failed", "The given data was invalid.", errors=errors)
