"""Each site's access as its admin reads it, alone or as the list of the admin's sites."""

from __future__ import annotations

import pytest

from tests.school_access.conftest import CONTACT
from wonde_sync.school_access.admin_actions import request_access
from wonde_sync.school_access.errors import UnknownSiteError
from wonde_sync.school_access.status import access_status, read_statuses


def test_my_connections_lists_only_my_sites(api, world):
    request_access(world.engine, world.client(), "site-a", world.schools[14], CONTACT)
    mine = api.get("/connections", headers=world.auth("ann@site-a")).json()["data"]
    assert [(c["site_id"], c["label"]) for c in mine] == [("site-a", "Pending approval")]
    theirs = api.get("/connections", headers=world.auth("bob@site-b")).json()["data"]
    assert [(c["site_id"], c["label"]) for c in theirs] == [("site-b", "Not connected")]
    assert api.get("/connections", headers=world.auth("eve")).json()["data"] == []


def test_one_site_or_several(world):
    not_connected = access_status(world.engine, "site-b")
    assert (not_connected.state, not_connected.school_id) == ("not_connected", None)
    assert not_connected.actions == ("request_access",)
    with pytest.raises(UnknownSiteError, match="No site 'nowhere'"):
        access_status(world.engine, "nowhere")
    assert [s.site_id for s in read_statuses(world.engine)] == ["site-a", "site-b"]
    assert [s.site_id for s in read_statuses(world.engine, ["site-b", "nowhere"])] == ["site-b"]
    assert read_statuses(world.engine, []) == []
