"""Failure notifications, end to end: real failures in dag.test() runs against the emulator,
mailed through the SMTP provider's notifier to a real SMTP server on loopback."""

from __future__ import annotations

import email
import html
import json
import logging
import re
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from wonde_sync.admin import sites
from wonde_sync.catalog import rebuild
from wonde_sync.core import sync_history
from wonde_sync.core.database import table
from wonde_sync.school_access import admin_actions
from wonde_sync.school_access.transitions import record_approval

DAGS = Path(__file__).resolve().parents[2] / "dags"
CONTACT = {"first_name": "Siân", "last_name": "O'Neill", "email": "sian@school.example"}
APP_TOKEN = "test-app-token"
RECIPIENTS = ["ops@calm.example", "data@calm.example"]
#: Names that HTML would change: the message must show them as written.
SITE_NAMES = {"site-a": "Oak & Ash <Primary>", "site-b": "St Mary's"}

pytestmark = pytest.mark.slow


class _Inbox:
    """What the SMTP server received: (recipients, parsed message) per delivery."""

    def __init__(self):
        self.mails: list[tuple[list[str], email.message.Message]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.mails.append((list(envelope.rcpt_tos), email.message_from_bytes(envelope.content)))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on 127.0.0.1 and a free port; yields (inbox, port)."""
    from aiosmtpd.controller import Controller

    inbox = _Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def smtp_connection(port: int) -> str:
    return json.dumps(
        {
            "conn_type": "smtp",
            "host": "127.0.0.1",
            "port": port,
            "extra": {
                "from_email": "wonde-sync@calm.example",
                "to": ", ".join(RECIPIENTS),
                "disable_tls": True,
                "disable_ssl": True,
                "timeout": 5,
                "retry_limit": 0,
            },
        }
    )


@pytest.fixture
def notification_logs():
    """Lines the notifier logged (collected at the source: Airflow reroutes handlers)."""
    lines: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: lines.append(record.getMessage())
    logger = logging.getLogger("wonde_sync.tasks.notifications")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    yield lines
    logger.removeHandler(handler)
    logger.setLevel(old_level)


@pytest.fixture
def emu(start_emulator):
    return start_emulator(
        schools=4, staff_per_school=12, students_per_school=4, seed=8, approved=0, token=APP_TOKEN
    )


def run_dag(dag_id: str, conf: dict | None = None, import_retries: int = 0) -> str:
    """Run ``dag_id`` with dag.test(): no retries, except ``import_retries`` at once for
    ``import_sites`` (Airflow's own retry waits minutes)."""
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(DAGS)).dags[dag_id]
    for task in dag.tasks:
        task.retries = import_retries if task.task_id == "import_sites" else 0
        task.retry_delay = timedelta(0)
    return str(dag.test(run_conf=conf).state)


def publish_catalog(engine) -> None:
    from wonde_sync.wonde.client import WondeClient

    run_id = sync_history.start_run(engine, "catalog")
    pages = (p.records for p in WondeClient().iter_pages("schools/all"))
    rebuild.stage(engine, run_id, pages)
    rebuild.publish(engine, run_id, started_at=datetime.now(UTC), dag_run_id=None)


def connect(engine, control, site_id: str, school_id: str) -> str:
    """Add a site, request access to its school, have the school approve; its token."""
    from wonde_sync.wonde.client import WondeClient

    sites.add_site(engine, site_id, SITE_NAMES[site_id])
    admin_actions.request_access(engine, WondeClient(), site_id, school_id, CONTACT)
    token = control.approve(school_id)["school_token"]
    record_approval(engine, school_id, token)
    return token


def import_first(engine, site_id: str) -> None:
    from wonde_sync.people import importer
    from wonde_sync.school_access.import_targets import import_targets
    from wonde_sync.wonde.client import WondeClient

    target = next(t for t in import_targets(engine) if t.site_id == site_id)
    importer.import_site(engine, WondeClient(), target, importer.ImportOptions(full=True))


def text_of(message: email.message.Message) -> str:
    """The message's HTML body as the reader sees it: tags dropped, entities decoded."""
    part = next(p for p in message.walk() if p.get_content_type() == "text/html")
    body = part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def catalog_ids(engine) -> list[str]:
    schools = table("wonde_schools")
    with engine.connect() as conn:
        return conn.execute(sa.select(schools.c.id).order_by(schools.c.id)).scalars().all()


def test_each_failure_mails_once_with_site_reason_and_next_step(
    airflow_db, emu, control, engine, smtp_server, quick_backoff, monkeypatch
):
    inbox, port = smtp_server
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_connection(port))
    ids = emu.school_ids()
    publish_catalog(engine)
    tokens = [
        connect(engine, control, "site-a", ids[0]),
        connect(engine, control, "site-b", ids[1]),
    ]
    import_first(engine, "site-a")  # people for the guard to protect
    assert inbox.mails == []

    # Site a's MIS suddenly lists nobody (the guard holds it); site b's school fails
    # every call, on both tries of the batch. Each site in a batch of its own: a mail each.
    control.fault(kind="empty", path_contains=f"/schools/{ids[0]}/employees", times=None)
    control.fault(kind="status", status=500, path_contains=f"/schools/{ids[1]}/", times=None)
    conf = {"full_resync": True, "batch_size": 1}
    assert run_dag("wonde_incremental_sync", conf, import_retries=1) == "failed"

    subjects = sorted(m["Subject"] for _, m in inbox.mails)
    assert subjects == [
        "Wonde sync: import of site site-a (Oak & Ash <Primary>) held by the mass-archive guard",
        "Wonde sync: import of site site-b (St Mary's) failed",
    ]
    held, failed = (m for _, m in sorted(inbox.mails, key=lambda rm: rm[1]["Subject"]))
    held_text = " ".join(text_of(held).split())
    assert re.search(r"would archive \d+ of \d+ active people of site site-a", held_text)
    assert "nothing was changed" in held_text
    assert "sites = site-a, full_resync = true and approve_mass_archive = true" in held_text
    failed_text = " ".join(text_of(failed).split())
    assert "500" in failed_text
    assert "next scheduled run of wonde_incremental_sync retries its import" in failed_text
    assert "Sync History" in failed_text and "/wonde/ui/" in failed_text
    # One mail after the second (last) try: the first, up for retry, sent none.
    assert "task import_sites, after 2 attempts." in failed_text
    assert "task import_sites, after 1 attempt." in held_text  # refused: never retried

    # Both sites in one batch: one mail names each failed site with its own reason.
    inbox.mails.clear()
    assert run_dag("wonde_incremental_sync", {"full_resync": True}, import_retries=1) == "failed"
    [(_, both)] = inbox.mails
    assert both["Subject"] == (
        "Wonde sync: imports of 2 sites failed: site-a (Oak & Ash <Primary>), site-b (St Mary's)"
    )
    both_text = " ".join(text_of(both).split())
    assert "Site site-a (Oak & Ash <Primary>) was held" in both_text
    assert "Site site-b (St Mary's) failed. Reason:" in both_text and "500" in both_text
    assert "task import_sites, after 2 attempts." in both_text

    # The catalog sync fails for good: Wonde refuses the app token.
    before = catalog_ids(engine)
    control.fault(kind="status", status=401, path_contains="/schools/all", times=None)
    assert run_dag("wonde_schools_full_sync") == "failed"
    assert catalog_ids(engine) == before
    assert len(inbox.mails) == 2
    catalog = inbox.mails[-1][1]
    assert (
        catalog["Subject"] == "Wonde sync: the school directory sync failed (previous catalog kept)"
    )
    catalog_text = " ".join(text_of(catalog).split())
    assert "failed at stage_directory" in catalog_text and "401" in catalog_text
    assert "the previous catalog is kept" in catalog_text

    for recipients, message in inbox.mails:
        assert recipients == RECIPIENTS
        raw = message.as_string()
        for secret in [APP_TOKEN, *tokens]:
            assert secret not in raw


def test_unconfigured_sends_nothing_and_changes_no_outcome(
    airflow_db, emu, control, engine, smtp_server, notification_logs, monkeypatch
):
    inbox, _ = smtp_server
    monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)
    control.fault(kind="status", status=401, path_contains="/schools/all", times=None)

    assert run_dag("wonde_schools_full_sync") == "failed"

    assert inbox.mails == []
    assert notification_logs == [
        "Failure notifications are off: no Airflow connection 'smtp_default'."
    ]
    run = sync_history.list_runs(engine, kind="catalog")[0]
    assert run.status == "Failed" and "401" in run.message
    assert catalog_ids(engine) == []
