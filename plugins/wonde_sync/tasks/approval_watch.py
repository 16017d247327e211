"""An approval starts its site's first import within seconds: an event trigger on ``calm_db``.

The webhook receiver records a school's approval in ``calm_db`` and nothing else; it does
not talk to Airflow. :class:`ApprovalWatch` is the ``AssetWatcher`` of the Asset
``wonde_connection_approved``: Airflow's triggerer runs it, and every few seconds it claims
the approvals not yet announced (sites whose access became enabled, approved and holds a
token) and fires one event for them, payload ``{"site_ids": [...]}``. The scheduler turns
the event into an asset event, which starts ``wonde_incremental_sync`` at once instead of
after the next hourly reconcile. It reads only ``calm_db``: no Wonde credentials.

A claim marks the approvals announced (each by one announcer, this watch or the reconcile
DAG) before the event is stored; should the triggerer die in between, the daily sync
imports the site. A database that cannot be read yet (down, not migrated) is tried again
at the next poll.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from wonde_sync.core.database import CALM_DB_CONN_ID

log = logging.getLogger(__name__)

#: Seconds between two looks at calm_db: an approval waits at most this long to be announced.
POLL_SECONDS = 5.0


class ApprovalWatch(BaseEventTrigger):
    """Fires ``{"site_ids": [...]}`` for approvals not yet announced, polling ``calm_db``."""

    def __init__(self, conn_id: str = CALM_DB_CONN_ID, poll_interval: float = POLL_SECONDS):
        super().__init__()
        self.conn_id = conn_id
        self.poll_interval = float(poll_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Class path and arguments, as the triggerer stores them (they make its identity)."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"conn_id": self.conn_id, "poll_interval": self.poll_interval},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll for ever; one event per poll that claimed at least one approval."""
        engine = None
        last_problem = None
        try:
            while True:
                try:
                    if engine is None:
                        engine = await asyncio.to_thread(self._engine)
                    # The database calls block: off the triggerer's event loop.
                    site_ids = await asyncio.to_thread(_claim, engine)
                    last_problem = None
                except Exception as exc:
                    site_ids = []
                    problem = f"{type(exc).__name__}: {exc}"
                    if problem != last_problem:  # once per problem, not once per poll
                        log.warning("Approval watch cannot read %s yet: %s", self.conn_id, problem)
                        last_problem = problem
                if site_ids:
                    log.info("Announcing approved sites: %s", ", ".join(site_ids))
                    yield TriggerEvent({"site_ids": site_ids})
                await asyncio.sleep(self.poll_interval)
        finally:
            if engine is not None:
                engine.dispose()

    def _engine(self):
        from wonde_sync.core.database import engine_for

        return engine_for(self.conn_id, create_missing=False)


def _claim(engine) -> list[str]:
    from wonde_sync.tasks.access_steps import claim_approvals

    return claim_approvals(engine=engine)
