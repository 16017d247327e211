"""The change log as an admin reads it: one run's changes, or one person's across runs.

Answers "why is Jane not in CalmCompliance?": each change names the run, the action
(created, updated, archived, reactivated, linked), the reason (the filter rule's code,
``not_in_mis``, ``reactivated``, ``linked_by_email``/``linked_by_mis_id``) and the fields
that changed, before and after. Someone the filters left out from their first sight never
had a row to change: :func:`never_imported` names them, with the rule and when last seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from wonde_sync.core.database import as_utc, table
from wonde_sync.core.tables import CHANGE_SHOWN

#: Most changes one answer lists.
MAX_CHANGES = 5000


@dataclass(frozen=True)
class PersonChange:
    """One person's change in one run."""

    id: int
    run_id: int
    site_id: str
    record_type: str
    person_id: int | None
    external_id: str
    action: str
    reason: str | None
    planned: bool
    name: str
    #: {field: (before, after)} for the fields that changed.
    fields: dict[str, tuple]
    at: datetime | None

    def fields_text(self) -> str:
        """The changed fields as ``field: before -> after; …`` (``-`` for empty)."""
        return "; ".join(
            f"{f}: {'-' if b is None else b} -> {'-' if a is None else a}"
            for f, (b, a) in self.fields.items()
        )

    def as_dict(self) -> dict:
        """The change as JSON-ready values."""
        return {
            "id": self.id,
            "run_id": self.run_id,
            "site_id": self.site_id,
            "record_type": self.record_type,
            "person_id": self.person_id,
            "external_id": self.external_id,
            "action": self.action,
            "reason": self.reason,
            "planned": self.planned,
            "name": self.name,
            "fields": {f: {"before": b, "after": a} for f, (b, a) in self.fields.items()},
            "at": self.at.isoformat() if self.at else None,
        }


def _name(row, part: str) -> str | None:
    return row[f"after_{part}"] or row[f"before_{part}"]


def _change(row) -> PersonChange:
    fields = {
        f: (row[f"before_{f}"], row[f"after_{f}"])
        for f in CHANGE_SHOWN
        if row[f"before_{f}"] != row[f"after_{f}"]
        and not (row["action"] == "created" and f == "status")
    }
    if row["action"] == "linked":
        fields["source"] = (row["before_source"], "wonde")
    name = " ".join(p for p in (_name(row, "forename"), _name(row, "surname")) if p)
    return PersonChange(
        id=row["id"],
        run_id=row["sync_run_id"],
        site_id=row["site_id"],
        record_type=row["record_type"],
        person_id=row["person_id"],
        external_id=row["external_id"],
        action=row["action"],
        reason=row["reason"],
        planned=bool(row["planned"]),
        name=name or "(no name)",
        fields=fields,
        at=as_utc(row["created_at"]),
    )


def _name_contains(forename, surname, text: str):
    """Whether "forename surname" contains ``text``, any case (either part may be NULL)."""
    full = sa.func.coalesce(forename, "") + " " + sa.func.coalesce(surname, "")
    return sa.func.lower(full).contains(text.strip().lower(), autoescape=True)


def _named(changes: sa.Table, text: str):
    """Changes whose person's name (after, else before) contains ``text``, any case."""
    return _name_contains(
        sa.func.coalesce(changes.c.after_forename, changes.c.before_forename),
        sa.func.coalesce(changes.c.after_surname, changes.c.before_surname),
        text,
    )


def run_changes(
    engine: Engine,
    run_id: int,
    *,
    action: str | None = None,
    reason: str | None = None,
    search: str | None = None,
    limit: int = MAX_CHANGES,
) -> list[PersonChange]:
    """One run's changes in the order they were made, filtered by action, reason and name."""
    changes = table("wonde_person_changes")
    conditions = [changes.c.sync_run_id == run_id]
    if action:
        conditions.append(changes.c.action == action)
    if reason:
        conditions.append(changes.c.reason == reason)
    if search and search.strip():
        conditions.append(_named(changes, search))
    query = sa.select(changes).where(*conditions).order_by(changes.c.id).limit(limit)
    with engine.connect() as conn:
        return [_change(r) for r in conn.execute(query).mappings()]


def person_history(
    engine: Engine, site_id: str, name_or_id: str, *, limit: int = MAX_CHANGES
) -> list[PersonChange]:
    """A site's changes to the people a Wonde id, a people row id or a name matches, newest
    first."""
    changes = table("wonde_person_changes")
    text = name_or_id.strip()
    who = [changes.c.external_id == text, _named(changes, text)]
    if text.isdigit():
        who.append(changes.c.person_id == int(text))
    query = (
        sa.select(changes)
        .where(changes.c.site_id == site_id, sa.or_(*who))
        .order_by(changes.c.id.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        return [_change(r) for r in conn.execute(query).mappings()]


@dataclass(frozen=True)
class NotImported:
    """A person imports read from Wonde but never imported: the rule, and when last seen."""

    record_type: str
    external_id: str
    mis_id: str | None
    name: str
    reason: str
    first_run_id: int
    last_run_id: int
    first_seen_at: datetime | None
    last_seen_at: datetime | None

    def as_dict(self) -> dict:
        """JSON-ready values."""
        return {
            "record_type": self.record_type,
            "external_id": self.external_id,
            "mis_id": self.mis_id,
            "name": self.name,
            "reason": self.reason,
            "first_run_id": self.first_run_id,
            "last_run_id": self.last_run_id,
            "first_seen_at": self.first_seen_at.isoformat() if self.first_seen_at else None,
            "last_seen_at": self.last_seen_at.isoformat() if self.last_seen_at else None,
        }


def never_imported(
    engine: Engine, site_id: str, name_or_id: str, *, limit: int = MAX_CHANGES
) -> list[NotImported]:
    """The site's people a name, Wonde id or MIS id matches whom imports read from Wonde but
    left out from their first sight, most recently seen first."""
    kept = table("wonde_people_not_imported")
    text = name_or_id.strip()
    who = sa.or_(
        kept.c.external_id == text,
        kept.c.mis_id == text,
        _name_contains(kept.c.forename, kept.c.surname, text),
    )
    query = (
        sa.select(kept)
        .where(kept.c.site_id == site_id, who)
        .order_by(kept.c.last_seen_at.desc(), kept.c.external_id)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [
            NotImported(
                record_type=r["record_type"],
                external_id=r["external_id"],
                mis_id=r["mis_id"],
                name=" ".join(p for p in (r["forename"], r["surname"]) if p) or "(no name)",
                reason=r["reason"],
                first_run_id=r["first_sync_run_id"],
                last_run_id=r["last_sync_run_id"],
                first_seen_at=as_utc(r["first_seen_at"]),
                last_seen_at=as_utc(r["last_seen_at"]),
            )
            for r in conn.execute(query).mappings()
        ]
