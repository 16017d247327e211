"""The steps of the hourly reconcile of sites' school access with Wonde."""

from __future__ import annotations

from wonde_sync.core.database import engine_for
from wonde_sync.school_access import import_targets
from wonde_sync.school_access import reconcile as access_reconcile
from wonde_sync.tasks.outcomes import no_retry_when_permanent


def reconcile() -> dict:
    """Bring every site's access in line with Wonde's lists; a small dict for XCom."""
    from wonde_sync.wonde.client import WondeClient

    with no_retry_when_permanent():
        return access_reconcile.reconcile(engine_for(), WondeClient()).summary()


def mark_announced(site_ids: list[str]) -> int:
    """Record that the approvals of ``site_ids`` were announced to the import DAGs."""
    return import_targets.mark_approvals_announced(engine_for(), site_ids)
