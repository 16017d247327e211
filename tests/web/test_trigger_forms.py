"""The sync DAGs' trigger forms in a real browser, inside a real Airflow.

One Airflow (api-server and dag-processor on loopback, every request an admin) for
the module, on a copy of the migrated PostgreSQL metadata database, with a SQLite
``calm_db`` and an in-process Wonde emulator. Headless Chromium opens each DAG's trigger
form, submits it with its defaults, and a manual run must be queued with them; a malformed
``since`` typed into the form's configuration JSON must be refused with a message, and no
run created.
"""

from __future__ import annotations

import json
import re
import secrets

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.support import postgres_server, shared_run
from tests.support.airflow_services import AirflowServices
from tests.support.browser import chromium_page

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("trigger_forms")]

TOKEN = "trigger-form-token"
FULL, INCREMENTAL = "wonde_schools_full_sync", "wonde_incremental_sync"
#: What each form must show with its defaults: field name -> value in the form.
DEFAULTS = {
    FULL: {"max_drop_pct": "10"},
    INCREMENTAL: {"sites": "", "since": "", "max_archive_pct": "10"},
}
#: The defaults as the form's configuration JSON holds them.
DEFAULT_CONF = {
    FULL: {
        "max_drop_pct": 10,
        "allow_large_drop": False,
        "approve_mass_archive": False,
        "max_archive_pct": 10,
        "batch_size": 25,
        "dry_run": False,
    },
    INCREMENTAL: {
        "sites": [],
        "since": None,
        "full_resync": False,
        "approve_mass_archive": False,
        "max_archive_pct": 10,
        "batch_size": 25,
        "dry_run": False,
    },
}


@pytest.fixture(scope="module")
def airflow(tmp_path_factory, postgres_url, airflow_metadata):
    """A real Airflow on loopback serving the sync DAGs against a small emulator."""
    from wonde_emulator import Emulator

    home = tmp_path_factory.mktemp("trigger-forms")
    emu = Emulator(
        schools=40, staff_per_school=5, students_per_school=5, token=TOKEN, port=0, approved=0
    )
    emu.start()
    # Named like the run's other databases, so the run's end finds it if it were left.
    name = f"airflow_{shared_run.tag()}_{secrets.token_hex(4)}"
    url = postgres_server.create_database(postgres_url, name, template=airflow_metadata)
    env = {
        "AIRFLOW_CONN_CALM_DB": json.dumps({"conn_type": "sqlite", "host": str(home / "calm.db")}),
        "AIRFLOW_CONN_WONDE_DEFAULT": json.dumps(
            {
                "conn_type": "http",
                "host": emu.api_url,
                "extra": {"Authorization": f"Bearer {TOKEN}"},
            }
        ),
    }
    # No scheduler: what the form creates stays queued, to be read back as it was sent. That
    # such a run succeeds is shown by the dag.test() runs of the defaults (tests/dags) and by
    # the cluster's manual runs (tests/scripts/test_cluster.py).
    services = AirflowServices(
        home / "airflow",
        metadata_url=url,
        migrated=True,
        env=env,
        services=("api-server", "dag-processor"),
    )
    try:
        services.start()
        services.wait_for_dags([FULL, INCREMENTAL])
        yield services
    finally:
        services.stop()
        emu.stop()
        postgres_server.drop_database(postgres_url, name)


def open_trigger_form(page: Page, airflow: AirflowServices, dag_id: str) -> Locator:
    """The DAG's page, its Trigger button pressed: the form's dialog."""
    page.goto(f"{airflow.api_url}/dags/{dag_id}")
    page.get_by_role("button", name="Trigger").first.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Trigger Dag - {dag_id}")
    expect(dialog.get_by_text("Run Parameters")).to_be_visible()
    return dialog


def form_conf(page: Page, dialog: Locator) -> dict:
    """The configuration JSON the form would send (its Advanced Options editor)."""
    show_advanced(dialog)
    text = dialog.locator(".monaco-editor .view-lines").inner_text()
    # The editor renders spaces as non-breaking ones.
    return json.loads(text.replace("\xa0", " "))


def show_advanced(dialog: Locator) -> None:
    """Open the Advanced Options section, where the configuration JSON is."""
    button = dialog.get_by_role("button", name="Advanced Options")
    if button.get_attribute("aria-expanded") != "true":
        button.click()
    expect(dialog.locator(".monaco-editor")).to_be_visible()


def replace_conf(page: Page, dialog: Locator, conf: dict) -> None:
    """Type ``conf`` over the configuration JSON, as a person pasting it would."""
    show_advanced(dialog)
    dialog.locator(".monaco-editor .view-lines").click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(json.dumps(conf))
    # The editor may have closed a bracket or quote itself: drop whatever follows.
    page.keyboard.press("Shift+Control+End")
    page.keyboard.press("Delete")
    dialog.get_by_text("Configuration JSON").click()  # leave the editor: the form takes it


def press_trigger(dialog: Locator) -> None:
    """The dialog's own Trigger button (the page has another behind it)."""
    dialog.get_by_role("button", name="Trigger", exact=True).last.click()


@pytest.mark.parametrize("dag_id", [FULL, INCREMENTAL])
def test_trigger_form_with_its_defaults_queues_a_run_with_them(airflow, dag_id, tmp_path):
    before = {r["dag_run_id"] for r in airflow.dag_runs(dag_id)}
    with chromium_page(height=1600) as page:  # tall enough for the whole form
        dialog = open_trigger_form(page, airflow, dag_id)
        for field, value in DEFAULTS[dag_id].items():
            expect(dialog.locator(f"[name=element_{field}]")).to_have_value(value)
        # Unpausing on trigger is the form's default: the scheduler runs nothing paused.
        expect(dialog.get_by_label(f"Unpause {dag_id} on trigger")).to_be_checked()
        shot = tmp_path / f"{dag_id}-trigger-form.png"
        dialog.screenshot(path=shot)
        print(f"trigger form of {dag_id}: {shot}")
        assert form_conf(page, dialog) == DEFAULT_CONF[dag_id]

        press_trigger(dialog)
        expect(dialog).to_be_hidden()

    created = [r for r in airflow.dag_runs(dag_id) if r["dag_run_id"] not in before]
    assert [r["run_type"] for r in created] == ["manual"]
    assert created[0]["conf"] == DEFAULT_CONF[dag_id]
    assert created[0]["state"] == "queued"


def test_incremental_form_refuses_a_since_that_is_not_a_date(airflow, tmp_path):
    before = airflow.dag_runs(INCREMENTAL)
    with chromium_page() as page:
        dialog = open_trigger_form(page, airflow, INCREMENTAL)
        # The date field takes only dates; the configuration JSON takes any text.
        replace_conf(page, dialog, {**DEFAULT_CONF[INCREMENTAL], "since": "yesterday"})
        assert form_conf(page, dialog)["since"] == "yesterday"

        press_trigger(dialog)
        expect(dialog).to_contain_text(
            re.compile(r"Invalid input for param since: 'yesterday' is not a 'date'")
        )
        expect(dialog).to_be_visible()
        dialog.screenshot(path=tmp_path / "since-refused.png")
        print(f"refused since: {tmp_path / 'since-refused.png'}")

    assert airflow.dag_runs(INCREMENTAL) == before
