"""Approving a run the mass-archive guard held: applying exactly the plan the admin reviewed.

The held run kept its plan in the change log (``planned`` rows). Approving applies those
rows, and nothing else, under the site's lock, as a Sync History run of the held run's kind
with its own change log (each row naming the planned change it applied). It refuses, and
changes nothing, when the site's people changed since the plan was made: a later change
logged for the site, or a planned person whose row no longer is as the plan found it.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from wonde_sync.core import run_locks, sync_history
from wonde_sync.core.database import table, utcnow
from wonde_sync.core.vocabulary import WONDE_SOURCE
from wonde_sync.people.change_log import BEFORE_FIELDS, CHANGES, IMPORTED_FIELDS
from wonde_sync.people.store import TARGET_TABLES

APPLIED_ALREADY = "plan was applied already"


class ApprovalRefused(ValueError):
    """The plan cannot be applied (not a held run, applied already, or out of date)."""


def approve_run(
    engine: Engine, run_id: int, *, by: str | None = None, lock_wait: float | None = None
) -> tuple[int, int]:
    """Apply a held run's plan; return (the approval's run id, changes applied).

    ``by`` (who approved) goes into the approval's message; ``lock_wait`` bounds the wait
    for the site's lock (raises :class:`~wonde_sync.core.run_locks.LockTimeout`).
    """
    try:
        run = sync_history.get_run(engine, run_id)
    except LookupError:
        raise ApprovalRefused(f"There is no run #{run_id}.") from None
    with engine.connect() as conn:
        _check(conn, run)
    key = run_locks.site_key(run.site_id)
    with run_locks.held(engine, key, holder=f"approval of #{run_id}", wait=lock_wait):
        with engine.begin() as conn:
            _check(conn, run)  # again under the lock: two approvals cannot both pass
            plan = _plan(conn, run_id)
            approval = sync_history.start_run(
                conn,
                run.kind,
                site_id=run.site_id,
                message=f"Applying the reviewed plan of run #{run_id}",
            )
            archived = created = 0
            for change in plan:
                target = table(TARGET_TABLES[change["record_type"]])
                _apply(conn, target, change, approval)
                archived += change["action"] == "archived"
                created += change["action"] == "created"
            sync_history.complete_run(
                conn,
                approval,
                f"Applied the reviewed plan of run #{run_id}"
                + (f" (approved by {by})" if by else "")
                + f": {len(plan)} change(s), {archived} archived, {created} created.",
                archived_count=archived,
                created_count=created,
                updated_count=len(plan) - archived - created,
            )
    return approval, len(plan)


def refusal(conn: Connection, run: sync_history.SyncRun) -> str | None:
    """Why ``run``'s plan cannot be approved now (None when it can, as far as the change log
    shows; applying checks each planned person's row as well)."""
    if run.kind not in sync_history.IMPORT_KINDS or run.status != sync_history.FAILED:
        return (
            f"Run #{run.id} is not an import the mass-archive guard held: only such a run's "
            "plan can be approved."
        )
    changes = table(CHANGES)
    planned = sa.select(changes.c.id).where(changes.c.sync_run_id == run.id, changes.c.planned)
    last = conn.execute(sa.select(sa.func.max(planned.subquery().c.id))).scalar()
    if last is None:
        return f"Run #{run.id} kept no plan to approve."
    applied = conn.execute(
        sa.select(changes.c.sync_run_id).where(changes.c.applies_change_id.in_(planned)).limit(1)
    ).scalar()
    if applied is not None:
        return f"Run #{run.id}'s {APPLIED_ALREADY}, by run #{applied}."
    later = conn.execute(
        sa.select(changes.c.sync_run_id)
        .where(changes.c.site_id == run.site_id, ~changes.c.planned, changes.c.id > last)
        .limit(1)
    ).scalar()
    if later is not None:
        return (
            f"Site {run.site_id}'s people changed since run #{run.id} made its plan (run "
            f"#{later}): {_preview_again(run.site_id)}."
        )
    return None


def _preview_again(site_id: str) -> str:
    return f"preview again (python -m wonde_sync preview-import {site_id} --full)"


def _check(conn: Connection, run: sync_history.SyncRun) -> None:
    why = refusal(conn, run)
    if why:
        raise ApprovalRefused(why)


def _plan(conn: Connection, run_id: int) -> list:
    """The held run's planned changes, each checked to be still applicable."""
    changes = table(CHANGES)
    plan = (
        conn.execute(
            sa.select(changes)
            .where(changes.c.sync_run_id == run_id, changes.c.planned)
            .order_by(changes.c.id)
        )
        .mappings()
        .all()
    )
    for change in plan:
        if not _as_planned(conn, change):
            raise ApprovalRefused(
                f"{change['after_forename'] or ''} {change['after_surname'] or ''} "
                f"({change['external_id']}) changed since run #{run_id} made its plan: "
                f"{_preview_again(change['site_id'])}."
            )
    return plan


def _as_planned(conn: Connection, change) -> bool:
    target = table(TARGET_TABLES[change["record_type"]])
    if change["person_id"] is None:  # to be created: nobody has taken the Wonde id since
        taken = conn.execute(
            sa.select(target.c.id).where(
                target.c.site_id == change["site_id"],
                target.c.source == WONDE_SOURCE,
                target.c.external_id == change["external_id"],
            )
        ).first()
        return taken is None
    row = conn.execute(sa.select(target).where(target.c.id == change["person_id"])).mappings()
    row = row.first()
    return row is not None and all(
        row[c] == change[f"before_{c}"] for c in BEFORE_FIELDS if c in target.c
    )


def _apply(conn: Connection, target: sa.Table, change, approval: int) -> None:
    now = utcnow()
    action = change["action"]
    imported = {c: change[f"after_{c}"] for c in IMPORTED_FIELDS if c in target.c}
    # A plan does not link, so a person it links is also one it creates: the linked record.
    linked = (
        conn.execute(
            sa.select(target.c.id).where(
                target.c.site_id == change["site_id"],
                target.c.source == WONDE_SOURCE,
                target.c.external_id == change["external_id"],
            )
        ).scalar()
        if action == "created"
        else None
    )
    if action == "created" and linked is None:
        values = {
            **imported,
            "site_id": change["site_id"],
            "source": WONDE_SOURCE,
            "external_id": change["external_id"],
            "status": "active",
            "content_hash": change["after_content_hash"],
            "last_sync_run_id": approval,
        }
        person_id = conn.execute(
            sa.insert(target).values(**values).returning(target.c.id)
        ).scalar_one()
    else:
        if action == "linked":
            values = {
                "source": WONDE_SOURCE,
                "external_id": change["external_id"],
                "linked_from_source": change["before_source"],
            }
        elif action == "archived":
            values = {
                "status": "archived",
                "archived_reason": change["after_archived_reason"],
                "archived_at": now,
                "updated_at": now,
                "last_sync_run_id": approval,
            }
        else:  # updated, reactivated, or created as a linked record
            values = {
                **imported,
                "status": "active",
                "archived_at": None,
                "archived_reason": None,
                "content_hash": change["after_content_hash"],
                "updated_at": now,
                "last_sync_run_id": approval,
            }
        person_id = change["person_id"] or linked
        conn.execute(sa.update(target).where(target.c.id == person_id).values(**values))
    copied = {k: v for k, v in change.items() if k.startswith(("before_", "after_"))}
    conn.execute(
        sa.insert(table(CHANGES)).values(
            **copied,
            sync_run_id=approval,
            site_id=change["site_id"],
            record_type=change["record_type"],
            person_id=person_id,
            external_id=change["external_id"],
            action=action,
            reason=change["reason"],
            applies_change_id=change["id"],
        )
    )
