"""The emulator's own control API under ``/_emulator/`` (JSON, no authentication).

It drives what happens on Wonde's and the school's side: approvals, declines and revocations
(with webhooks), MIS edits and deletions, fault injection, token rotation. It also exposes
ground truth (each school's people and MIS status) and request counters for assertions.

    GET    /_emulator/health                              {"ok": true}
    GET    /_emulator/config
    POST   /_emulator/config            {"webhook_url", "webhook_secret", "next_host"} (any)
    GET    /_emulator/schools/{id}/state                  state, school_token, contacts
    POST   /_emulator/schools/{id}/approve               {"audited": true} (optional)
    POST   /_emulator/schools/{id}/decline               {"reason": ...}
    POST   /_emulator/schools/{id}/revoke                {"reason": ...}
    GET    /_emulator/schools/{id}/people?type=employee|student      ground truth
    POST   /_emulator/schools/{id}/employees|students     {"forename", "surname", "email"}
    PATCH  /_emulator/schools/{id}/employees|students/{pid}
                       any of {"forename", "surname", "email", "mis_status", "end_date"}
    DELETE /_emulator/schools/{id}/employees|students/{pid}
    POST   /_emulator/schools/{id}/employees|students/{pid}/restore
    GET|POST|DELETE /_emulator/faults                     see ``faults``
    POST   /_emulator/tokens/rotate                       {"token": "new"}
    GET|DELETE /_emulator/requests                        counts of Wonde-path requests
    GET|POST|DELETE /_emulator/mis-changes                see ``mis_changes``
    GET    /_emulator/webhooks                            webhook deliveries and outcomes

Errors: 400 for a bad body, 404 for an unknown school or person, 409 for a delete of a
deleted person or a restore of a live one.
"""

from __future__ import annotations

from .dates import utc_now
from .directory import SchoolRecord
from .faults import FaultBook
from .messages import HttpError, Request, Response
from .mis_changes import MisChangeBook, add_routes
from .people import EMPLOYEE, STUDENT
from .routing import Router
from .webhooks import deliver
from .world import KIND_BY_COLLECTION, Conflict, World

_SCHOOL = r"/_emulator/schools/(?P<school_id>[^/]+)"
_PEOPLE = _SCHOOL + r"/(?P<collection>employees|students)"
_PERSON = _PEOPLE + r"/(?P<person_id>[^/]+)"
_CONFIG_KEYS = ("webhook_url", "webhook_secret", "next_host")


class ControlApi:
    """Answers requests on ``/_emulator/`` paths."""

    def __init__(self, world: World, faults: FaultBook) -> None:
        self.world = world
        self.faults = faults
        self.router = router = Router()
        router.add("GET", "/_emulator/health", self.health)
        router.add("GET", "/_emulator/config", self.get_config)
        router.add("POST", "/_emulator/config", self.set_config)
        router.add("GET", _SCHOOL + "/state", self.state)
        router.add("POST", _SCHOOL + "/approve", self.approve)
        router.add("POST", _SCHOOL + "/decline", self.decline)
        router.add("POST", _SCHOOL + "/revoke", self.revoke)
        router.add("GET", _SCHOOL + "/people", self.people)
        router.add("POST", _PEOPLE, self.add_person)
        router.add("PATCH", _PERSON, self.edit_person)
        router.add("DELETE", _PERSON, self.delete_person)
        router.add("POST", _PERSON + "/restore", self.restore_person)
        router.add("GET", "/_emulator/faults", self.list_faults)
        router.add("POST", "/_emulator/faults", self.add_fault)
        router.add("DELETE", "/_emulator/faults", self.clear_faults)
        router.add("POST", "/_emulator/tokens/rotate", self.rotate_token)
        router.add("GET", "/_emulator/requests", self.request_counts)
        router.add("DELETE", "/_emulator/requests", self.reset_request_counts)
        router.add("GET", "/_emulator/webhooks", self.webhook_log)
        self.mis_changes = MisChangeBook(world)
        add_routes(router, self.mis_changes, _object)

    def dispatch(self, request: Request) -> Response:
        """Run the matching handler, mapping state errors to 400/404/409."""
        handler, args = self.router.resolve(request.method, request.path)
        try:
            return handler(request, **args)
        except Conflict as exc:
            raise HttpError(409, "conflict", str(exc)) from exc
        except LookupError as exc:
            raise HttpError(404, "not_found", str(exc).strip("'\"")) from exc
        except ValueError as exc:
            raise HttpError(400, "invalid_request", str(exc)) from exc

    # Emulator-wide ------------------------------------------------------------------------

    def health(self, request: Request) -> Response:
        """``GET /_emulator/health``."""
        return Response(200, {"ok": True})

    def get_config(self, request: Request) -> Response:
        """``GET /_emulator/config``."""
        return Response(200, self._config())

    def set_config(self, request: Request) -> Response:
        """``POST /_emulator/config`` with any of webhook_url, webhook_secret, next_host."""
        body = _object(request)
        unknown = set(body) - set(_CONFIG_KEYS)
        if unknown:
            raise ValueError(f"Unknown settings: {', '.join(sorted(unknown))}")
        for key in _CONFIG_KEYS:
            if key in body and body[key] is not None and not isinstance(body[key], str):
                raise ValueError(f"{key} must be a string or null")
        with self.world.lock:
            for key in _CONFIG_KEYS:
                if key in body:
                    setattr(self.world, key, body[key] or None)
        return Response(200, self._config())

    def _config(self) -> dict:
        return {key: getattr(self.world, key) for key in _CONFIG_KEYS}

    def rotate_token(self, request: Request) -> Response:
        """``POST /_emulator/tokens/rotate`` ``{"token": "new"}``."""
        token = _object(request).get("token")
        if not isinstance(token, str) or not token.strip():
            raise ValueError("token must be a non-empty string")
        self.world.rotate_app_token(token)
        return Response(200, {"token": token})

    def request_counts(self, request: Request) -> Response:
        """``GET /_emulator/requests``."""
        return Response(200, self.world.request_counts())

    def reset_request_counts(self, request: Request) -> Response:
        """``DELETE /_emulator/requests``."""
        self.world.reset_request_counts()
        return Response(200, self.world.request_counts())

    def webhook_log(self, request: Request) -> Response:
        """``GET /_emulator/webhooks``: every delivery attempt with its outcome."""
        with self.world.lock:
            return Response(200, {"data": list(self.world.webhook_log)})

    # Faults -------------------------------------------------------------------------------

    def add_fault(self, request: Request) -> Response:
        """``POST /_emulator/faults``."""
        fault = self.faults.add(_object(request))
        return Response(200, fault.view())

    def list_faults(self, request: Request) -> Response:
        """``GET /_emulator/faults``."""
        return Response(200, {"data": self.faults.views()})

    def clear_faults(self, request: Request) -> Response:
        """``DELETE /_emulator/faults``."""
        self.faults.clear()
        return Response(200, {"data": []})

    # Access lifecycle ---------------------------------------------------------------------

    def state(self, request: Request, school_id: str) -> Response:
        """``GET /_emulator/schools/{id}/state``."""
        self._record(school_id)
        return Response(200, self.world.state_view(school_id))

    def approve(self, request: Request, school_id: str) -> Response:
        """The school approves (and Wonde audits, unless ``{"audited": false}``)."""
        record = self._record(school_id)
        audited = _object(request).get("audited", True)
        if not isinstance(audited, bool):
            raise ValueError("audited must be true or false")
        token = self.world.approve(school_id, audited=audited)
        return self._notify(record, {"payload_type": "schoolApproved", "school_token": token})

    def decline(self, request: Request, school_id: str) -> Response:
        """The school declines the request; ``{"reason": ...}`` goes into the webhook."""
        record = self._record(school_id)
        reason = _object(request).get("reason")
        self.world.decline(school_id)
        return self._notify(record, {"payload_type": "accessDeclined", "decline_reason": reason})

    def revoke(self, request: Request, school_id: str) -> Response:
        """The school revokes access; ``{"reason": ...}`` goes into the webhook."""
        record = self._record(school_id)
        reason = _object(request).get("reason")
        self.world.revoke(school_id)
        return self._notify(record, {"payload_type": "accessRevoked", "revoke_reason": reason})

    def _notify(self, record: SchoolRecord, fields: dict) -> Response:
        """Send the webhook if configured; answer with the state and the delivery outcome."""
        payload = {
            "payload_type": fields.pop("payload_type"),
            "school_id": record.id,
            "school_name": record.name,
            **fields,
        }
        with self.world.lock:
            url, secret = self.world.webhook_url, self.world.webhook_secret
        outcome = {"status": None, "error": None}
        if url:
            # Delivered outside the lock: the receiver may call back into this emulator.
            outcome = deliver(url, secret, payload)
            with self.world.lock:
                self.world.webhook_log.append({"url": url, "payload": payload, **outcome})
        view = self.world.state_view(record.id)
        view["webhook_status"] = outcome["status"]
        view["webhook_error"] = outcome["error"]
        return Response(200, view)

    # People -------------------------------------------------------------------------------

    def people(self, request: Request, school_id: str) -> Response:
        """Ground truth: every person of ``type`` (default employee), deleted ones included."""
        record = self._record(school_id)
        wanted = request.params.get("type", EMPLOYEE).strip().lower().rstrip("s")
        if wanted not in (EMPLOYEE, STUDENT):
            raise ValueError("type must be employee or student")
        with self.world.lock:
            people = self.world.roster(record).people[wanted].values()
            return Response(200, {"data": [person.ground_truth() for person in people]})

    def add_person(self, request: Request, school_id: str, collection: str) -> Response:
        """Add an active person to the school's MIS."""
        record = self._record(school_id)
        body = _object(request)
        with self.world.lock:
            roster = self.world.roster(record)
            person = roster.add(KIND_BY_COLLECTION[collection], body, utc_now())
            return Response(200, {"data": person.ground_truth()})

    def edit_person(
        self, request: Request, school_id: str, collection: str, person_id: str
    ) -> Response:
        """Change forename/surname/email/mis_status/end_date; updated_at becomes now."""
        record = self._record(school_id)
        body = _object(request)
        with self.world.lock:
            roster = self.world.roster(record)
            person = roster.edit(KIND_BY_COLLECTION[collection], person_id, body, utc_now())
            return Response(200, {"data": person.ground_truth()})

    def delete_person(
        self, request: Request, school_id: str, collection: str, person_id: str
    ) -> Response:
        """Delete a person: gone from lists, present in the deletions feed."""
        record = self._record(school_id)
        with self.world.lock:
            roster = self.world.roster(record)
            deletion = roster.delete(KIND_BY_COLLECTION[collection], person_id, utc_now())
            return Response(200, {"data": deletion.render()})

    def restore_person(
        self, request: Request, school_id: str, collection: str, person_id: str
    ) -> Response:
        """Restore a deleted person (``restored_at`` and ``updated_at`` become now)."""
        record = self._record(school_id)
        with self.world.lock:
            roster = self.world.roster(record)
            person = roster.restore(KIND_BY_COLLECTION[collection], person_id, utc_now())
            return Response(200, {"data": person.ground_truth()})

    def _record(self, school_id: str) -> SchoolRecord:
        record = self.world.directory.get(school_id)
        if record is None:
            raise LookupError(f"School {school_id} not found")
        return record


def _object(request: Request) -> dict:
    """The JSON object body ({} when empty); 400 for any other JSON value."""
    body = request.json(default={})
    if not isinstance(body, dict):
        raise HttpError(400, "invalid_request", "Body must be a JSON object.")
    return body
