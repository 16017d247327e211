"""Which sites imports run for (with their tokens), and announcing their approvals once."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from wonde_sync.core.database import table
from wonde_sync.school_access import rows, token_vault
from wonde_sync.school_access.import_targets import (
    ImportTarget,
    import_target,
    import_targets,
    importable_sites,
    mark_approvals_announced,
    unannounced_approvals,
)


def insert(engine, site_id: str, school_id: str, status: str, token: str | None) -> dict:
    ciphertext = token_vault.encrypt(token) if token else None
    with engine.begin() as conn:
        return rows.insert(
            conn,
            site_id,
            change="approved",
            source=rows.SOURCE_WEBHOOK,
            actor=None,
            school_id=school_id,
            status=status,
            school_token_ciphertext=ciphertext,
        )


@pytest.fixture
def four_sites(two_sites):
    """Approved with a token (a), approved without (b), pending (c), disabled (d)."""
    from wonde_sync.admin import sites

    sites.add_site(two_sites, "site-c", "Cedar Primary")
    sites.add_site(two_sites, "site-d", "Dale High")
    insert(two_sites, "site-a", "A1", "approved", "token-a-0123456789")
    insert(two_sites, "site-b", "A2", "approved", None)
    insert(two_sites, "site-c", "A3", "pending", None)
    disabled = insert(two_sites, "site-d", "A4", "approved", "token-d-0123456789")
    with two_sites.begin() as conn:
        rows.write(conn, disabled, change="disabled", source=rows.SOURCE_API, enabled=False)
    return two_sites


def test_only_enabled_approved_sites_with_a_token(four_sites):
    target = ImportTarget("site-a", "A1", "token-a-0123456789")
    assert import_targets(four_sites) == [target]
    assert import_target(four_sites, "site-a") == target
    assert [import_target(four_sites, s) for s in ("site-b", "site-c", "site-d")] == [None] * 3
    assert importable_sites(four_sites) == {"site-a": "A1"}


def test_a_target_carries_its_schools_region_and_time_zone(four_sites):
    # The importer reaches the school on its region's domain, read with the access row.
    with four_sites.begin() as conn:
        conn.execute(
            table("wonde_schools")
            .insert()
            .values(id="A1", name="School A", region_domain="api.wonde.com.au", timezone="X/Y")
        )
    target = import_target(four_sites, "site-a")
    assert (target.region_domain, target.timezone) == ("api.wonde.com.au", "X/Y")
    assert target.school() == {
        "id": "A1",
        "timezone": "X/Y",
        "region": {"domain": "api.wonde.com.au"},
    }
    assert [t.region_domain for t in import_targets(four_sites)] == ["api.wonde.com.au"]


def test_one_site_decrypts_only_its_own_token(four_sites):
    # Another site's unreadable token is no concern of this site's import.
    with four_sites.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE wonde_connections SET school_token_ciphertext = 'not-a-token' "
            "WHERE site_id = 'site-d'"
        )
        conn.exec_driver_sql("UPDATE wonde_connections SET enabled = TRUE WHERE site_id = 'site-d'")
    assert import_target(four_sites, "site-a").school_token == "token-a-0123456789"
    assert sorted(importable_sites(four_sites)) == ["site-a", "site-d"]


def test_approvals_are_announced_once(four_sites):
    assert unannounced_approvals(four_sites) == ["site-a"]
    assert mark_approvals_announced(four_sites, []) == 0
    assert mark_approvals_announced(four_sites, ["site-a"]) == 1
    assert unannounced_approvals(four_sites) == []
    assert mark_approvals_announced(four_sites, ["site-a"]) == 0


def test_an_unreadable_token_is_an_error_not_a_skipped_site(four_sites, monkeypatch):
    monkeypatch.setenv("WONDE_TOKEN_KEY", Fernet.generate_key().decode())
    with pytest.raises(token_vault.TokenVaultError, match="cannot be decrypted"):
        import_targets(four_sites)
