"""Missed webhooks repaired from Wonde's lists, by reconcile() and by the hourly DAG."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.school_access.conftest import CONTACT
from wonde_sync.school_access.admin_actions import request_access
from wonde_sync.school_access.import_targets import import_targets, mark_approvals_announced
from wonde_sync.school_access.reconcile import StatusChange, reconcile
from wonde_sync.school_access.status import access_status
from wonde_sync.school_access.transitions import record_approval
from wonde_sync.wonde.errors import WondeAuthError

DAGS = Path(__file__).resolve().parents[2] / "dags"
ASSET_URI = "calm-db://calm_db/wonde_connections/approved"


def request(world, site: str, school: str) -> None:
    request_access(world.engine, world.client(), site, school, CONTACT)


def test_missed_approval_becomes_school_already_approved(world):
    school = world.schools[5]
    request(world, "site-a", school)
    world.control.approve(school)  # no webhook URL configured: the approval is missed
    assert access_status(world.engine, "site-a").state == "pending"

    result = reconcile(world.engine, world.client())
    assert result.changed == ("site-a",)
    assert result.changes == (StatusChange("site-a", school, "pending", "already_approved"),)
    assert result.newly_approved == ()  # no token: nothing to import
    status = access_status(world.engine, "site-a")
    assert (status.label, status.actions[0]) == ("School Already Approved", "revoke_and_rerequest")
    assert import_targets(world.engine) == []
    assert "pending -> School Already Approved" not in str(result)
    assert "site-a: Pending approval -> School Already Approved" in str(result)

    again = reconcile(world.engine, world.client())
    assert again.changed == () and again.checked == 1
    assert world.history("site-a") == ["requested", "already_approved"]


def test_missed_decline_and_revocation_are_applied(world):
    declined_school, revoked_school = world.schools[6], world.schools[7]
    request(world, "site-a", declined_school)
    request(world, "site-b", revoked_school)
    token = world.control.approve(revoked_school)["school_token"]
    record_approval(world.engine, revoked_school, token)
    world.control.decline(declined_school, reason="Not now")
    world.control.revoke(revoked_school, reason="Contract ended")

    result = reconcile(world.engine, world.client())
    assert result.changed == ("site-a", "site-b")
    assert access_status(world.engine, "site-a").state == "declined"
    revoked = access_status(world.engine, "site-b")
    assert revoked.state == "revoked" and not revoked.has_school_token
    assert world.row("site-b")["school_token_ciphertext"] is None


def test_approved_with_token_and_pending_stay_as_they_are(world):
    approved_school, pending_school = world.schools[8], world.schools[9]
    request(world, "site-a", approved_school)
    request(world, "site-b", pending_school)
    token = world.control.approve(approved_school)["school_token"]
    record_approval(world.engine, approved_school, token)
    before = world.snapshot()["wonde_connections"]

    result = reconcile(world.engine, world.client())
    assert result.changed == () and result.newly_approved == ("site-a",)
    after = world.snapshot()["wonde_connections"]
    assert len(after) == len(before) == 2
    assert import_targets(world.engine)[0].school_token == token

    assert mark_approvals_announced(world.engine, result.newly_approved) == 1
    assert reconcile(world.engine, world.client()).newly_approved == ()


def test_a_failed_read_changes_nothing(world):
    school = world.schools[10]
    request(world, "site-a", school)
    world.control.decline(school)
    world.control.fault(kind="status", status=401, path_contains="/schools/pending", times=None)
    before = world.snapshot()
    with pytest.raises(WondeAuthError):
        reconcile(world.engine, world.client())
    assert world.snapshot() == before


class ApprovesAfterReading:
    """The real client; once every list is read, the school approves and the webhook lands,
    as if it happened while the reconciliation was running."""

    def __init__(self, world, school_id: str) -> None:
        self.world = world
        self.school_id = school_id
        self.client = world.client()

    def iter_records(self, path, params=None):
        yield from self.client.iter_records(path, params)
        if path == "schools":
            token = self.world.control.approve(self.school_id)["school_token"]
            record_approval(self.world.engine, self.school_id, token)


def test_an_access_that_changes_meanwhile_is_left_for_the_next_run(world):
    school = world.schools[11]
    request(world, "site-a", school)
    world.control.approve(school)
    world.control.revoke(school)  # missed: locally still pending; Wonde says revoked

    result = reconcile(world.engine, ApprovesAfterReading(world, school))
    assert result.skipped == ("site-a",) and result.changed == ()
    status = access_status(world.engine, "site-a")
    assert status.state == "approved" and status.has_school_token  # the fresh approval stays
    assert reconcile(world.engine, world.client()).changed == ()


def test_school_not_on_any_list_is_reported_and_kept(world):
    import sqlalchemy as sa

    from wonde_sync.core.database import table

    # A pending row Wonde never heard of (e.g. written before this code existed).
    with world.engine.begin() as conn:
        conn.execute(
            sa.insert(table("wonde_connections")).values(
                site_id="site-a", school_id=world.schools[20], status="pending", enabled=True
            )
        )
    before = world.snapshot()["wonde_connections"]
    result = reconcile(world.engine, world.client())
    assert result.not_listed == ("site-a",) and result.changed == ()
    assert world.snapshot()["wonde_connections"] == before


# --------------------------------------------------------------------------- the DAG


def asset_events(run_id: str) -> list[dict]:
    import sqlalchemy as sa
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.execute(
            sa.select(AssetEvent.extra)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.uri == ASSET_URI, AssetEvent.source_run_id == run_id)
        ).all()
    return [row.extra for row in rows]


def run_dag():
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(DAGS / "wonde_connections_reconcile.py")).dags[
        "wonde_connections_reconcile"
    ]
    dag_run = dag.test()
    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    return dag_run, states


@pytest.mark.slow
@pytest.mark.usefixtures("receiver")
def test_dag_repairs_a_missed_webhook_and_announces_approvals(airflow_db, world):
    approved_school, missed_school = world.schools[13], world.schools[14]
    request(world, "site-a", approved_school)
    request(world, "site-b", missed_school)
    assert world.control.approve(approved_school)["webhook_status"] == 200
    world.control.configure(webhook_url=None)
    world.control.approve(missed_school)  # this webhook never arrives

    dag_run, states = run_dag()
    assert str(dag_run.state) == "success", states
    assert states["announce_approvals"] == "success"
    assert states["prune_change_log"] == "success"
    assert asset_events(dag_run.run_id) == [{"site_ids": ["site-a"]}]
    assert access_status(world.engine, "site-b").state == "already_approved"
    assert world.row("site-a")["approval_announced_at"] is not None

    # Nothing new: the run succeeds and announces nothing.
    dag_run, states = run_dag()
    assert str(dag_run.state) == "success", states
    assert states["announce_approvals"] == "skipped"
    assert asset_events(dag_run.run_id) == []
