"""The change log (``wonde_person_changes``): what an import did to each person, and why.

Written set-based by ``store.apply`` in the transaction that makes the changes: one
``INSERT … SELECT`` per kind of change, run just before the change, reading the person's
row as it is (``before_*``) and what it becomes (``after_*``); the created are logged just
after their insert, with their row ids. A preview's rows are
``planned``: what the import would do, with nothing applied.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from wonde_sync.core.database import table, utcnow
from wonde_sync.core.tables import CHANGE_RESTORED, CHANGE_SHOWN
from wonde_sync.people import not_imported

CHANGES = "wonde_person_changes"
RETENTION_ENV = "WONDE_CHANGE_LOG_RETENTION_DAYS"
DEFAULT_RETENTION = timedelta(days=400)
#: Every column of a person an import writes: what ``before_*`` keeps, and undo restores.
BEFORE_FIELDS = (*CHANGE_SHOWN, *CHANGE_RESTORED, "archived_at", "updated_at", "last_sync_run_id")
#: The fields an import copies from Wonde (status and archived_reason are its own).
IMPORTED_FIELDS = CHANGE_SHOWN[:5]


@dataclass(frozen=True)
class RunScope:
    """Whose changes are logged: one run, one site, one record type."""

    run_id: int
    site_id: str
    record_type: str
    planned: bool = False


def _column(source: sa.Table, name: str):
    # Staff have no year group.
    return source.c[name] if name in source.c else sa.null()


def _before(target: sa.Table) -> dict:
    return {f"before_{c}": _column(target, c) for c in BEFORE_FIELDS}


def _as_is(target: sa.Table) -> dict:
    return {f"after_{c}": _column(target, c) for c in CHANGE_SHOWN}


def _insert(conn: Connection, scope: RunScope, select_from, where, values: dict, params=None):
    columns = {
        "sync_run_id": sa.literal(scope.run_id),
        "site_id": sa.literal(scope.site_id),
        "record_type": sa.literal(scope.record_type),
        "planned": sa.literal(scope.planned),
        **values,
    }
    # Labelled, so that equal expressions (NULLs, literals) stay separate columns.
    select = sa.select(*(expr.label(name) for name, expr in columns.items()))
    insert = sa.insert(table(CHANGES)).from_select(
        list(columns), select.select_from(select_from).where(where)
    )
    return conn.execute(insert, params) if params else conn.execute(insert)


def log_links(conn: Connection, scope: RunScope, target: sa.Table, links: dict) -> None:
    """Log hand-made records about to be linked ({record id: (Wonde id, reason)})."""
    if not links:
        return
    values = {
        "person_id": target.c.id,
        "external_id": sa.bindparam("ext_id", type_=sa.Text()),
        "action": sa.literal("linked"),
        "reason": sa.bindparam("reason", type_=sa.Text()),
        **_before(target),
        **_as_is(target),
    }
    params = [{"target_id": k, "ext_id": e, "reason": why} for k, (e, why) in links.items()]
    _insert(conn, scope, target, target.c.id == sa.bindparam("target_id"), values, params)


def log_upserts(conn: Connection, scope: RunScope, target, staging, where, on_person) -> None:
    """Log the staged people about to be created, updated or reactivated: ``where`` selects
    them from staging, outer-joined on ``on_person`` to their rows."""
    back = target.c.status != "active"
    values = {
        "person_id": target.c.id,
        "external_id": staging.c.external_id,
        "action": sa.case(
            (target.c.id.is_(None), "created"), (back, "reactivated"), else_="updated"
        ),
        "reason": sa.case((back, "reactivated")),
        **_before(target),
        **_after_staged(target, staging),
    }
    _insert(conn, scope, staging.outerjoin(target, on_person), where, values)


def log_created(conn: Connection, scope: RunScope, target: sa.Table, where) -> None:
    """Log the people just created, ``where`` selecting their new rows: logged after the
    insert, with their row ids and, as after values, what was inserted (nothing before)."""
    values = {
        "person_id": target.c.id,
        "external_id": target.c.external_id,
        "action": sa.literal("created"),
        "reason": sa.null(),
        **{f"before_{c}": sa.null() for c in BEFORE_FIELDS},
        **_as_is(target),
        "after_content_hash": target.c.content_hash,
    }
    _insert(conn, scope, target, where, values)


def _after_staged(target: sa.Table, staging: sa.Table) -> dict:
    return {
        **{f"after_{c}": staging.c[c] if c in target.c else sa.null() for c in IMPORTED_FIELDS},
        "after_status": sa.literal("active"),
        "after_archived_reason": sa.null(),
        "after_content_hash": staging.c.content_hash,
    }


def log_archives(conn: Connection, scope: RunScope, target, where, reason) -> None:
    """Log the people ``where`` selects, about to be archived for ``reason`` (an expression)."""
    values = {
        "person_id": target.c.id,
        "external_id": target.c.external_id,
        "action": sa.literal("archived"),
        "reason": reason,
        **_before(target),
        **_as_is(target),
        "after_status": sa.literal("archived"),
        "after_archived_reason": reason,
    }
    _insert(conn, scope, target, where, values)


def retention_from_env() -> timedelta:
    """How long change rows are kept: ``WONDE_CHANGE_LOG_RETENTION_DAYS`` (default 400)."""
    raw = os.environ.get(RETENTION_ENV, "").strip()
    if not raw:
        return DEFAULT_RETENTION
    try:
        days = int(raw)
    except ValueError:
        raise ValueError(f"{RETENTION_ENV} must be a whole number of days, not {raw!r}") from None
    if days < 1:
        raise ValueError(f"{RETENTION_ENV} must be at least 1 day, not {raw!r}")
    return timedelta(days=days)


def prune(engine: Engine, retention: timedelta | None = None) -> int:
    """Delete change rows older than ``retention`` (default: the setting), and the people
    not imported whom no import has read since; return how many rows went."""
    changes = table(CHANGES)
    cutoff = utcnow() - (retention or retention_from_env())
    with engine.begin() as conn:
        gone = conn.execute(sa.delete(changes).where(changes.c.created_at < cutoff)).rowcount
        return gone + not_imported.prune(conn, cutoff)


def redone_after_undo(conn: Connection, run_id: int) -> int:
    """How many of the run's changes hit people whose latest earlier change was an undo's:
    the MIS still says what the undone run had read."""
    return conn.execute(_redone_after_undo(), {"run_id": run_id}).scalar_one()


@functools.cache
def _redone_after_undo() -> sa.Select:
    # Built once: most runs that change anyone ask, and building costs more than running it.
    changes = table(CHANGES)
    prior = changes.alias("prior")
    # The person's latest earlier change, found through the person index, a few rows each.
    undone_before = (
        sa.select(prior.c.undoes_change_id)
        .where(
            prior.c.site_id == changes.c.site_id,
            prior.c.record_type == changes.c.record_type,
            prior.c.external_id == changes.c.external_id,
            prior.c.id < changes.c.id,
            ~prior.c.planned,
        )
        .order_by(prior.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return (
        sa.select(sa.func.count())
        .select_from(changes)
        .where(changes.c.sync_run_id == sa.bindparam("run_id"), undone_before.is_not(None))
    )
