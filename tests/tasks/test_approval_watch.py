"""The approval watch: the triggerer's poll of calm_db that announces each approval once."""

from __future__ import annotations

import asyncio
import importlib

import pytest

from wonde_sync.admin import sites
from wonde_sync.school_access import rows, token_vault
from wonde_sync.school_access.import_targets import unannounced_approvals
from wonde_sync.tasks.access_steps import claim_approvals
from wonde_sync.tasks.approval_watch import ApprovalWatch
from wonde_sync.tasks.assets import WONDE_CONNECTION_APPROVED

FAST = 0.05  # seconds between polls in these tests


def approve(engine, site_id: str, school_id: str, token: str | None = "token-0123456789") -> None:
    """A site whose access is approved (with a school token unless None), as a webhook does."""
    sites.add_site(engine, site_id, site_id.title())
    with engine.begin() as conn:
        rows.insert(
            conn,
            site_id,
            change="approved",
            source=rows.SOURCE_WEBHOOK,
            actor=None,
            school_id=school_id,
            status="approved",
            school_token_ciphertext=token_vault.encrypt(token) if token else None,
        )


async def _next_event(trigger: ApprovalWatch, timeout: float):
    events = trigger.run()
    try:
        return await asyncio.wait_for(anext(events), timeout)
    except TimeoutError:
        return None
    finally:
        await events.aclose()


def next_event(trigger: ApprovalWatch, timeout: float = 5.0):
    """The trigger's next event, or None when it fired none within ``timeout`` seconds."""
    return asyncio.run(_next_event(trigger, timeout))


def test_an_approval_is_announced_once(engine):
    approve(engine, "site-a", "A1")
    approve(engine, "site-b", "A2", token=None)  # School Already Approved: nothing to import

    event = next_event(ApprovalWatch(poll_interval=FAST))

    assert event is not None and event.payload == {"site_ids": ["site-a"]}
    assert unannounced_approvals(engine) == []
    assert next_event(ApprovalWatch(poll_interval=FAST), timeout=0.5) is None


def test_the_watch_leaves_out_what_the_reconcile_announced(engine):
    approve(engine, "site-a", "A1")
    approve(engine, "site-b", "A2")
    assert claim_approvals(["site-a"], engine=engine) == ["site-a"]

    event = next_event(ApprovalWatch(poll_interval=FAST))

    assert event.payload == {"site_ids": ["site-b"]}
    assert claim_approvals(["site-a", "site-b"], engine=engine) == []


def test_a_database_not_ready_yet_is_polled_again(calm_db, caplog):
    from wonde_sync.core.database import apply_schema, engine_from_url

    async def scenario():
        events = ApprovalWatch(poll_interval=FAST).run()
        waiting = asyncio.ensure_future(anext(events))
        await asyncio.sleep(0.5)  # polls while the database has no schema (or no file)
        assert not waiting.done()
        engine = engine_from_url(calm_db)
        apply_schema(engine)
        approve(engine, "site-a", "A1")
        event = await asyncio.wait_for(waiting, 10)
        await events.aclose()
        engine.dispose()
        return event

    event = asyncio.run(scenario())

    assert event.payload == {"site_ids": ["site-a"]}
    warnings = [r for r in caplog.records if "Approval watch cannot read" in r.getMessage()]
    assert len(warnings) == 1  # said once, not at every poll


def test_the_asset_is_watched_by_a_trigger_the_triggerer_can_rebuild():
    (watcher,) = WONDE_CONNECTION_APPROVED.watchers
    classpath, kwargs = watcher.trigger.serialize()
    module, _, name = classpath.rpartition(".")

    rebuilt = getattr(importlib.import_module(module), name)(**kwargs)

    assert isinstance(rebuilt, ApprovalWatch)
    assert rebuilt.serialize() == (classpath, kwargs)
    assert kwargs["poll_interval"] <= 10  # an approval is announced within seconds


@pytest.mark.parametrize("site_ids", [[], ["site-x"]])
def test_claiming_nothing_claims_nothing(engine, site_ids):
    assert claim_approvals(site_ids, engine=engine) == []
