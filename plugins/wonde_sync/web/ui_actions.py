"""Approving a held run's plan and undoing a run, from the integration details.

For a viewer who may change runs (:attr:`~wonde_sync.web.viewers.Viewer.may_change`) and
sees the run's site, two ways in:

* the run page's forms, ``POST /runs/{id}/approve`` and ``POST /runs/{id}/undo``: the form
  carries a token bound to the viewer's credential (a browser sends Airflow's cookie with a
  form posted from any site; only the run's page can know the token) and a ticked
  ``confirm``; the answer sends the browser to the new run's page (303);
* JSON, ``POST /api/runs/{id}/approve`` and ``POST /api/runs/{id}/undo``: only with
  ``Authorization: Bearer`` (which no browser adds by itself), answered with the new run.

A refusal (not a held run, applied or undone already, people changed since) is 409 with
the reason and changes nothing; so is a site whose lock an import holds, as a web request
does not wait for it.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from sqlalchemy.engine import Engine

from wonde_sync.core import run_locks, sync_history
from wonde_sync.web.auth import EngineDep, WebError, bearer_token, read_body
from wonde_sync.web.links import Links
from wonde_sync.web.ui_json import RunId
from wonde_sync.web.viewers import JsonViewerDep, PageViewerDep, Viewer, credential
from wonde_sync.web.visible_history import visible_run

Action = Literal["approve", "undo"]
#: A form holds a token and a tick: anything longer is not from the run page.
FORM_LIMIT = 2048

router = APIRouter()


def form_token(request: Request, action: str, run_id: int) -> str:
    """The token the run page's ``action`` form carries: an HMAC keyed by the credential."""
    key = (credential(request) or "").encode()
    return hmac.new(key, f"wonde_sync:{action}:{run_id}".encode(), hashlib.sha256).hexdigest()


def review(engine: Engine, request: Request, viewer: Viewer, run: sync_history.SyncRun) -> dict:
    """What the run page offers: ``action`` (approve, undo or None), its ``token``, and a
    ``note`` saying why an import offers neither (when that is worth saying)."""
    from wonde_sync.people import approval, undo

    offer = {"action": None, "token": None, "note": None}
    if run.kind not in sync_history.IMPORT_KINDS or run.status not in (
        sync_history.COMPLETED,
        sync_history.FAILED,
    ):
        return offer
    completed = run.status == sync_history.COMPLETED
    action, rules = ("undo", undo) if completed else ("approve", approval)
    with engine.connect() as conn:
        why = rules.refusal(conn, run)
    if why is None:
        offer.update(action=action, token=form_token(request, action, run.id))
        if not viewer.may_change:
            offer.update(action=None, note=f"{_NOT_ALLOWED} ({_cli(action, run.id)}).")
    elif completed or approval.APPLIED_ALREADY in why:
        offer["note"] = why
    return offer


@router.post("/runs/{run_id}/{action}")
async def run_action_form(
    run_id: RunId, action: Action, request: Request, viewer: PageViewerDep, engine: EngineDep
) -> RedirectResponse:
    """The run page's approve or undo form; on success, the new run's page."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise WebError(403, "This form may only be sent from the run's page.")
    form = parse_qs((await read_body(request, FORM_LIMIT)).decode("utf-8", "replace"))
    sent = form.get("token", [""])[0]
    if not hmac.compare_digest(sent.encode(), form_token(request, action, run_id).encode()):
        raise WebError(
            403, "This form is out of date or came from elsewhere: reload the run's page."
        )
    if form.get("confirm", [""])[0] != "yes":
        raise WebError(422, "Tick the box to confirm, then send the form again.")
    done = await run_in_threadpool(_perform, engine, viewer, run_id, action)
    return RedirectResponse(Links(request).run(done["run_id"]), status_code=303)


@router.post("/api/runs/{run_id}/{action}")
def run_action_json(
    run_id: RunId, action: Action, request: Request, viewer: JsonViewerDep, engine: EngineDep
) -> dict:
    """Approve a held run's plan or undo a run, by API token: the new run and what it did."""
    if bearer_token(request) is None:
        raise WebError(
            403, "Send the API token as Authorization: Bearer to approve or undo a run by API."
        )
    done = _perform(engine, viewer, run_id, action)
    return {**done, "run": Links(request).run(done["run_id"])}


_NOT_ALLOWED = "Your Airflow role may not start DAG runs, so it may not approve or undo runs"


def _cli(action: str, run_id: int) -> str:
    return f"python -m wonde_sync {action}-run {run_id}"


def _perform(engine: Engine, viewer: Viewer, run_id: int, action: str) -> dict:
    from wonde_sync.people.approval import ApprovalRefused, approve_run
    from wonde_sync.people.undo import UndoRefused, undo_run

    run = visible_run(engine, viewer, run_id, issue_limit=0).run
    if not viewer.may_change:
        raise WebError(403, _NOT_ALLOWED + ".")
    by = f"{viewer.name}, {viewer.via}"
    try:
        if action == "approve":
            new_run, applied = approve_run(engine, run_id, by=by, lock_wait=0)
            return {"run_id": new_run, "applied": applied}
        report = undo_run(engine, run_id, by=by, lock_wait=0)
    except (ApprovalRefused, UndoRefused) as exc:
        raise WebError(409, str(exc)) from None
    except run_locks.LockTimeout as exc:
        raise WebError(
            409,
            f"Site {run.site_id} is busy ({exc.holder} holds its lock): try again when that ends.",
            headers={"Retry-After": "60"},
        ) from None
    return {
        "run_id": report.undo_run_id,
        "reverted": report.reverted,
        "archived": report.archived,
        "left_alone": [
            {"record_type": t, "external_id": ext, "name": name, "why": why}
            for t, ext, name, why in report.refused
        ],
    }
