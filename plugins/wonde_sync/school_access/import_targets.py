"""Which sites imports may run for, and the approvals not yet announced to the import DAGs.

A site is importable when its access is enabled, approved and holds a school token; the
calls for its school use that token. "School Already Approved" (approved, no token) is not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from wonde_sync.core.database import table, transaction, utcnow
from wonde_sync.school_access import token_vault
from wonde_sync.school_access.status import APPROVED


@dataclass(frozen=True)
class ImportTarget:
    """An importable site: enabled, approved, with its school's (decrypted) token, and the
    school's region domain and time zone as the catalog has them."""

    site_id: str
    school_id: str
    school_token: str = field(repr=False)
    region_domain: str | None = None
    timezone: str | None = None

    def school(self) -> dict:
        """The school as :meth:`WondeClient.for_school` takes it (its region's domain)."""
        school = {"id": self.school_id, "timezone": self.timezone}
        if self.region_domain:
            school["region"] = {"domain": self.region_domain}
        return school


def import_targets(engine: Engine) -> list[ImportTarget]:
    """The sites imports may run for, by site id, each with its school token.

    Tokens are decrypted here (``WONDE_TOKEN_KEY``); an unreadable token is an error
    rather than a silently skipped site.
    """
    return [_target(row) for row in _importable_rows(engine, with_token=True)]


def import_target(bind: Engine | Connection, site_id: str) -> ImportTarget | None:
    """``site_id``'s import target (its one token decrypted), or None when not importable."""
    rows = _importable_rows(bind, with_token=True, site_id=site_id)
    return _target(rows[0]) if rows else None


def importable_sites(engine: Engine) -> dict[str, str]:
    """The school id of each importable site, by site id; no token is decrypted."""
    return {row.site_id: row.school_id for row in _importable_rows(engine, with_token=False)}


def _importable_rows(
    bind: Engine | Connection, *, with_token: bool, site_id: str | None = None
) -> list:
    accesses = table("wonde_connections")
    columns = [accesses.c.site_id, accesses.c.school_id]
    source = accesses
    if with_token:
        schools = table("wonde_schools")
        columns += [accesses.c.school_token_ciphertext, schools.c.region_domain, schools.c.timezone]
        source = accesses.outerjoin(schools, schools.c.id == accesses.c.school_id)
    query = (
        sa.select(*columns)
        .select_from(source)
        .where(*_importable(accesses))
        .order_by(accesses.c.site_id)
    )
    if site_id is not None:
        query = query.where(accesses.c.site_id == site_id)
    with transaction(bind) as conn:
        return conn.execute(query).all()


def _target(row) -> ImportTarget:
    return ImportTarget(
        row.site_id,
        row.school_id,
        token_vault.decrypt(row.school_token_ciphertext),
        row.region_domain,
        row.timezone,
    )


def unannounced_approvals(engine: Engine) -> list[str]:
    """Importable sites whose approval has not been announced to the import DAGs yet."""
    accesses = table("wonde_connections")
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(accesses.c.site_id)
                .where(*_importable(accesses), accesses.c.approval_announced_at.is_(None))
                .order_by(accesses.c.site_id)
            ).scalars()
        )


def mark_approvals_announced(engine: Engine, site_ids: Iterable[str]) -> int:
    """Record that the approvals of ``site_ids`` were announced; return how many."""
    site_ids = list(site_ids)
    if not site_ids:
        return 0
    accesses = table("wonde_connections")
    with engine.begin() as conn:
        return conn.execute(
            sa.update(accesses)
            .where(
                accesses.c.site_id.in_(site_ids),
                accesses.c.approval_announced_at.is_(None),
            )
            .values(approval_announced_at=utcnow())
        ).rowcount


def _importable(accesses: sa.Table) -> tuple:
    return (
        accesses.c.enabled == sa.true(),
        accesses.c.status == APPROVED,
        accesses.c.school_token_ciphertext.is_not(None),
    )
