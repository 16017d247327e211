"""What the school decides, applied directly (as the webhook receiver and reconcile do)."""

from __future__ import annotations

from tests.school_access.conftest import CONTACT
from wonde_sync.school_access.admin_actions import request_access
from wonde_sync.school_access.import_targets import import_targets
from wonde_sync.school_access.transitions import (
    record_approval,
    record_decline,
    record_migration,
    record_revocation,
)

TOKEN = "token-0123456789abcdef"


def test_record_approval_is_the_one_way_in(world):
    """Idempotent, encrypted, and never taking a received token away."""
    school = world.schools[15]
    request_access(world.engine, world.client(), "site-b", school, CONTACT)
    first = record_approval(world.engine, school, TOKEN)
    assert first.changed == ("site-b",)
    again = record_approval(world.engine, school, TOKEN)
    assert again.changed == () and again.unchanged == ("site-b",)
    # Wonde listing the school as approved never takes a received token away.
    assert record_approval(world.engine, school, None).changed == ()
    replaced = record_approval(world.engine, school, "token-fedcba9876543210")
    assert replaced.changed == ("site-b",)
    assert world.history("site-b") == ["requested", "approved", "token_replaced"]
    target = import_targets(world.engine)[0]
    assert target.school_token == "token-fedcba9876543210"
    assert "token-fedcba9876543210" not in repr(target)
    assert record_approval(world.engine, "A404", TOKEN).matched == ()


def test_a_declined_request_the_school_approves_later_is_approved(world):
    school = world.schools[17]
    request_access(world.engine, world.client(), "site-a", school, CONTACT)
    assert record_decline(world.engine, school, "Not now").changed == ("site-a",)
    assert world.row("site-a")["decline_reason"] == "Not now"

    assert record_approval(world.engine, school, TOKEN).changed == ("site-a",)
    assert [t.site_id for t in import_targets(world.engine)] == ["site-a"]
    assert world.history("site-a") == ["requested", "declined", "approved"]


def test_an_event_concerns_the_site_that_holds_the_school(world):
    school = world.schools[18]
    request_access(world.engine, world.client(), "site-a", school, CONTACT)
    record_decline(world.engine, school)
    request_access(world.engine, world.client(), "site-b", school, CONTACT)

    assert record_approval(world.engine, school, TOKEN).matched == ("site-b",)
    assert world.row("site-a")["status"] == "declined"


def test_events_that_do_not_fit_the_state_change_nothing(world):
    school = world.schools[19]
    request_access(world.engine, world.client(), "site-a", school, CONTACT)
    before = world.snapshot()
    # Only an approval can be revoked; only a pending request can be declined.
    assert record_revocation(world.engine, school, "Too early").unchanged == ("site-a",)
    assert world.snapshot() == before

    record_approval(world.engine, school, TOKEN)
    assert record_decline(world.engine, school).unchanged == ("site-a",)
    assert record_migration(world.engine, school, "SIMS", "Arbor").changed == ("site-a",)
    assert record_migration(world.engine, school, "SIMS", "Arbor").changed == ()
    assert [t.school_token for t in import_targets(world.engine)] == [TOKEN]
    assert world.history("site-a") == ["requested", "approved", "mis_migration"]
