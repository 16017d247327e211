"""The Wonde emulator's control API (``/_emulator/``, see :mod:`wonde_emulator.control`).

Tests use it to act as the school or Wonde (approve, decline, revoke, edit the MIS), to
inject faults, and to read ground truth and request counts:

    control = EmulatorControl(emu)            # an Emulator, or its base URL
    token = control.approve(school_id)["school_token"]
    control.fault(kind="status", status=503, path_contains="/schools/all", times=1)
    assert control.requests_to("/schools/all") == 3

Every call but :meth:`request` raises ``requests.HTTPError`` on an error status.
"""

from __future__ import annotations

from typing import Any

import requests


class EmulatorControl:
    """A client of one emulator's control API (JSON over HTTP, no authentication)."""

    def __init__(self, emulator: Any) -> None:
        base_url = emulator if isinstance(emulator, str) else emulator.base_url
        self.url = f"{base_url.rstrip('/')}/_emulator"
        self.http = requests.Session()
        self.http.trust_env = False  # loopback: never through a proxy

    def request(self, method: str, path: str, body: Any = None, **params: Any) -> requests.Response:
        """Send ``method`` to ``/_emulator/{path}`` with a JSON body; the status is not checked."""
        return self.http.request(
            method, f"{self.url}/{path.lstrip('/')}", json=body, params=params, timeout=10
        )

    def _json(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        answer = self.request(method, path, body, **params)
        if not answer.ok:
            raise requests.HTTPError(
                f"{method} {answer.url}: {answer.status_code} {answer.text}", response=answer
            )
        return answer.json()

    # The emulator ---------------------------------------------------------------------------

    def health(self) -> dict:
        """``{"ok": true}`` while the emulator serves."""
        return self._json("GET", "health")

    def config(self) -> dict:
        """The settings: webhook_url, webhook_secret, next_host."""
        return self._json("GET", "config")

    def configure(self, **settings: str | None) -> dict:
        """Change any of webhook_url, webhook_secret, next_host (None clears); the settings."""
        return self._json("POST", "config", settings)

    def rotate_token(self, token: str) -> dict:
        """Make ``token`` the only application token Wonde accepts."""
        return self._json("POST", "tokens/rotate", {"token": token})

    def request_counts(self) -> dict:
        """Wonde-path requests served: ``{"total": n, "by_path": {path: n}}``."""
        return self._json("GET", "requests")

    def reset_request_counts(self) -> dict:
        """Start counting requests from zero."""
        return self._json("DELETE", "requests")

    def requests_to(self, fragment: str = "") -> int:
        """How many requests were served on paths containing ``fragment`` (all when empty)."""
        counts = self.request_counts()
        if not fragment:
            return counts["total"]
        return sum(n for path, n in counts["by_path"].items() if fragment in path)

    def deliveries(self) -> list[dict]:
        """Every webhook delivery attempt: url, payload, status, error."""
        return self._json("GET", "webhooks")["data"]

    # Faults ---------------------------------------------------------------------------------

    def fault(self, **spec: Any) -> dict:
        """Add a fault (kind, status, path_contains, skip, times, ...); the fault as stored."""
        return self._json("POST", "faults", spec)

    def faults(self) -> list[dict]:
        """The faults in force, with how often each fired."""
        return self._json("GET", "faults")["data"]

    def clear_faults(self) -> None:
        """Remove every fault."""
        self._json("DELETE", "faults")

    # A school's access ----------------------------------------------------------------------

    def state(self, school_id: str) -> dict:
        """The school's access state, school token and contacts."""
        return self._json("GET", f"schools/{school_id}/state")

    def school_token(self, school_id: str) -> str | None:
        """The school's current token (None unless approved)."""
        return self.state(school_id)["school_token"]

    def approve(self, school_id: str, *, audited: bool = True) -> dict:
        """The school approves (audited by Wonde unless told not); state and webhook outcome."""
        return self._json("POST", f"schools/{school_id}/approve", {"audited": audited})

    def decline(self, school_id: str, reason: str | None = None) -> dict:
        """The school declines the request; state and webhook outcome."""
        return self._json("POST", f"schools/{school_id}/decline", {"reason": reason})

    def revoke(self, school_id: str, reason: str | None = None) -> dict:
        """The school revokes access; state and webhook outcome."""
        return self._json("POST", f"schools/{school_id}/revoke", {"reason": reason})

    # A school's MIS -------------------------------------------------------------------------

    def people(self, school_id: str, kind: str = "employee") -> list[dict]:
        """Ground truth: every ``employee`` or ``student``, deleted ones included."""
        return self._json("GET", f"schools/{school_id}/people", type=kind)["data"]

    def add_person(self, school_id: str, kind: str = "employee", **fields: str) -> dict:
        """Add an active person (forename, surname, email); the person."""
        return self._json("POST", f"schools/{school_id}/{kind}s", fields)["data"]

    def edit_person(self, school_id: str, person_id: str, kind: str = "employee", **fields) -> dict:
        """Change forename, surname, email, mis_status or end_date (YYYY-MM-DD); the person."""
        return self._json("PATCH", f"schools/{school_id}/{kind}s/{person_id}", fields)["data"]

    def delete_person(self, school_id: str, person_id: str, kind: str = "employee") -> dict:
        """Delete a person from the MIS; the deletion record."""
        return self._json("DELETE", f"schools/{school_id}/{kind}s/{person_id}")["data"]

    def restore_person(self, school_id: str, person_id: str, kind: str = "employee") -> dict:
        """Restore a deleted person; the person."""
        return self._json("POST", f"schools/{school_id}/{kind}s/{person_id}/restore")["data"]

    # MIS changes while a client is paging ----------------------------------------------------

    def change_after(
        self,
        after: int,
        path_contains: str,
        action: str,
        school_id: str,
        person_id: str,
        kind: str = "employee",
        **fields,
    ) -> dict:
        """Once ``after`` requests on paths containing ``path_contains`` have been answered,
        ``action`` (delete, restore or edit with ``fields``) the person; the change as stored.

        The change lands before the ``after``-th answer is written, so the client's next page
        already sees it, as when a school edits its MIS while an import is paging.
        """
        spec = {
            "after": after,
            "path_contains": path_contains,
            "action": action,
            "school_id": school_id,
            "person_id": person_id,
            "type": kind,
        }
        if fields:
            spec["fields"] = fields
        return self._json("POST", "mis-changes", spec)

    def mis_changes(self) -> list[dict]:
        """The scheduled changes, each with ``matched``, ``applied`` and ``error``."""
        return self._json("GET", "mis-changes")["data"]

    def clear_mis_changes(self) -> None:
        """Forget every scheduled change."""
        self._json("DELETE", "mis-changes")
