"""Undoing an import from its change log: each person back to how the run found them.

Archived people become active again, changed fields get their values back, links are
undone (the record is hand-made again), and people the run created are archived with the
reason ``undone`` (nobody is deleted). A person is left alone, and the report says why,
when a later run changed them too or their row no longer holds what the run wrote. The undo
is a Sync History run (kind ``undo``) under the site's lock, with its own change log, each
row naming the change it reverted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from wonde_sync.core import run_locks, sync_history
from wonde_sync.core.database import table, utcnow
from wonde_sync.core.tables import CHANGE_SHOWN
from wonde_sync.people.change_log import BEFORE_FIELDS, CHANGES
from wonde_sync.people.store import TARGET_TABLES

UNDONE = "undone"


class UndoRefused(ValueError):
    """The run cannot be undone (what it is, or an undo already reverted it)."""


@dataclass
class UndoReport:
    """What an undo did: its own run, the people reverted, and those it left alone."""

    undo_run_id: int
    undone_run_id: int
    #: Who asked for the undo, when known.
    by: str | None = None
    reverted: int = 0
    archived: int = 0
    #: (record type, Wonde id, name, why), one per person left alone.
    refused: list[tuple[str, str, str, str]] = field(default_factory=list)

    def message(self) -> str:
        """The Sync History message of the undo."""
        text = (
            f"Undid run #{self.undone_run_id}{f' (asked by {self.by})' if self.by else ''}: "
            f"{self.reverted} change(s) reverted, of which "
            f"{self.archived} archived a person the run had created."
        )
        if self.refused:
            shown = "; ".join(f"{name} ({ext}): {why}" for _, ext, name, why in self.refused[:10])
            more = f" and {len(self.refused) - 10} more" if len(self.refused) > 10 else ""
            text += f" Left alone: {len(self.refused)} ({shown}{more})."
        return text


def undo_run(
    engine: Engine, run_id: int, *, by: str | None = None, lock_wait: float | None = None
) -> UndoReport:
    """Revert a completed import's changes; return the report (raises UndoRefused).

    ``by`` (who asked) goes into the undo's message; ``lock_wait`` bounds the wait for the
    site's lock (default :func:`~wonde_sync.core.run_locks.wait_bound`; raises
    :class:`~wonde_sync.core.run_locks.LockTimeout`).
    """
    try:
        run = sync_history.get_run(engine, run_id)
    except LookupError:
        raise UndoRefused(f"There is no run #{run_id}.") from None
    _check(engine, run)
    key = run_locks.site_key(run.site_id)
    with run_locks.held(engine, key, holder=f"undo of run #{run_id}", wait=lock_wait):
        _check(engine, run)  # again under the lock: two undos of one run cannot both pass
        undo_id = sync_history.start_run(
            engine, sync_history.UNDO, site_id=run.site_id, message=f"Undoing run #{run_id}"
        )
        report = UndoReport(undo_id, run_id, by=by)
        try:
            with engine.begin() as conn:
                _revert(conn, run.site_id, run_id, report)
                sync_history.complete_run(
                    conn,
                    undo_id,
                    report.message(),
                    updated_count=report.reverted - report.archived,
                    archived_count=report.archived,
                )
        except Exception as exc:
            sync_history.fail_run(engine, undo_id, f"Undo failed, nothing was changed: {exc}")
            raise
    return report


def _check(engine: Engine, run: sync_history.SyncRun) -> None:
    with engine.connect() as conn:
        why = refusal(conn, run)
    if why:
        raise UndoRefused(why)


def refusal(conn: Connection, run: sync_history.SyncRun) -> str | None:
    """Why ``run`` cannot be undone now (None when it can)."""
    if run.kind not in sync_history.IMPORT_KINDS or run.status != sync_history.COMPLETED:
        return (
            f"Run #{run.id} is a {sync_history.kind_label(run.kind).lower()} that is "
            f"{run.status}: only a completed full or incremental import can be undone."
        )
    changes = table(CHANGES)
    mine = sa.select(changes.c.id).where(changes.c.sync_run_id == run.id, ~changes.c.planned)
    logged = conn.execute(sa.select(sa.func.count()).select_from(mine.subquery())).scalar()
    if not logged:
        return f"Run #{run.id} changed nobody: there is nothing to undo."
    undone, by = conn.execute(
        sa.select(sa.func.count(), sa.func.min(changes.c.sync_run_id)).where(
            changes.c.undoes_change_id.in_(mine)
        )
    ).one()
    if undone >= logged:
        return f"Run #{run.id} was undone already, by run #{by}."
    return None


def _revert(conn: Connection, site_id: str, run_id: int, report: UndoReport) -> None:
    changes = table(CHANGES)
    mine = (
        conn.execute(
            sa.select(changes)
            .where(changes.c.sync_run_id == run_id, ~changes.c.planned)
            .order_by(changes.c.id.desc())
        )
        .mappings()
        .all()
    )
    undone = set(
        conn.execute(
            sa.select(changes.c.undoes_change_id).where(
                changes.c.undoes_change_id.in_([c["id"] for c in mine])
            )
        ).scalars()
    )
    for record_type, target_name in TARGET_TABLES.items():
        theirs = [c for c in mine if c["record_type"] == record_type and c["id"] not in undone]
        if theirs:
            _revert_type(conn, site_id, run_id, record_type, table(target_name), theirs, report)


def _revert_type(conn, site_id, run_id, record_type, target, theirs, report) -> None:
    changes = table(CHANGES)
    person_ids = {c["person_id"] for c in theirs if c["person_id"] is not None}
    rows = {
        r["id"]: dict(r)
        for r in conn.execute(sa.select(target).where(target.c.id.in_(person_ids))).mappings()
    }
    later = {
        r.person_id: r.sync_run_id
        for r in conn.execute(
            sa.select(changes.c.person_id, sa.func.max(changes.c.sync_run_id).label("sync_run_id"))
            .where(
                changes.c.site_id == site_id,
                changes.c.record_type == record_type,
                changes.c.person_id.in_(person_ids),
                changes.c.sync_run_id > run_id,
                ~changes.c.planned,
            )
            .group_by(changes.c.person_id)
        )
    }
    now = utcnow()
    for change in theirs:
        row = rows.get(change["person_id"])
        why = _why_not(change, row, later)
        if why:
            name = " ".join(p for p in (change["after_forename"], change["after_surname"]) if p)
            report.refused.append((record_type, change["external_id"], name or "-", why))
            continue
        if change["action"] == "created":
            values = {
                "status": "archived",
                "archived_reason": UNDONE,
                "archived_at": now,
                "updated_at": now,
                "last_sync_run_id": report.undo_run_id,
            }
            report.archived += 1
        else:
            values = {c: change[f"before_{c}"] for c in BEFORE_FIELDS if c in target.c}
        _log(conn, report.undo_run_id, site_id, record_type, target, row, values, change)
        conn.execute(sa.update(target).where(target.c.id == row["id"]).values(**values))
        row.update(values)
        report.reverted += 1


def _why_not(change, row, later: dict) -> str | None:
    """Why a change cannot be reverted (None when it can)."""
    if row is None:
        return "the person's row is gone"
    if change["person_id"] in later:
        return f"run #{later[change['person_id']]} changed them later"
    for f in CHANGE_SHOWN:
        if row.get(f) != change[f"after_{f}"]:
            return f"their {f.replace('_', ' ')} changed since"
    return None


def _log(conn, undo_id, site_id, record_type, target, row, values, change) -> None:
    after = {**row, **values}
    if after["status"] != row["status"]:
        action = "archived" if after["status"] == "archived" else "reactivated"
    else:
        action = "updated"
    conn.execute(
        sa.insert(table(CHANGES)).values(
            sync_run_id=undo_id,
            site_id=site_id,
            record_type=record_type,
            person_id=row["id"],
            external_id=after["external_id"] or change["external_id"],
            action=action,
            reason=UNDONE,
            undoes_change_id=change["id"],
            **{f"before_{c}": row.get(c) for c in BEFORE_FIELDS},
            **{f"after_{c}": after.get(c) for c in CHANGE_SHOWN},
        )
    )
