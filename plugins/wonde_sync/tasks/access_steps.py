"""The steps of the hourly reconcile of sites' school access with Wonde, and announcing
approvals to the import DAGs."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.engine import Engine

from wonde_sync.core.database import engine_for
from wonde_sync.school_access import import_targets
from wonde_sync.school_access import reconcile as access_reconcile
from wonde_sync.tasks.outcomes import no_retry_when_permanent


def reconcile() -> dict:
    """Bring every site's access in line with Wonde's lists; a small dict for XCom."""
    from wonde_sync.wonde.client import WondeClient

    with no_retry_when_permanent():
        return access_reconcile.reconcile(engine_for(), WondeClient()).summary()


def claim_approvals(
    site_ids: Iterable[str] | None = None, *, engine: Engine | None = None
) -> list[str]:
    """Mark approvals announced; return the sites this call marked, in order.

    ``site_ids`` None means every importable site whose approval was not announced yet.
    Each site is marked on its own, and only while unmarked, so when the approval watch
    and the reconcile DAG announce at once each approval is announced by one of them.
    """
    engine = engine or engine_for()
    if site_ids is None:
        site_ids = import_targets.unannounced_approvals(engine)
    return [s for s in site_ids if import_targets.mark_approvals_announced(engine, [s])]
