"""The "Wonde" page in a real browser, inside a real Airflow.

Airflow's api-server, scheduler and dag-processor run as subprocesses on loopback
(:mod:`tests.support.airflow_services`) with the project's plugin, sign-in required (simple auth
manager, user ``ops``), on the seeded PostgreSQL database. Headless Chromium, driven by
Playwright (:mod:`tests.support.browser`), signs in through Airflow's login form and reads the
page as a person would; screenshots are saved under the test's tmp folder and their paths
printed.
"""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, unquote_plus, urlsplit

import pytest
import requests
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from tests.monitoring.seed import (
    EXPECTED_CONNECTION,
    EXPECTED_HEALTH,
    IMPORT_DAG,
    IMPORT_DAG_RUN,
    SITES,
)
from tests.support.browser import BrowserMissing, chromium_page, find_chromium
from wonde_sync.core.database import table

#: Support staff read the page with Airflow's lowest role; an admin queues the DAG run.
USER, PASSWORD = "ops", "ops-wonde-browser-test"
ADMIN, ADMIN_PASSWORD = "admin", "admin-wonde-browser-test"


@pytest.fixture
def airflow(world, tmp_path, start_airflow):
    """A real Airflow on loopback that requires signing in, serving the seeded database."""
    passwords = tmp_path / "passwords.json"
    passwords.write_text(json.dumps({USER: PASSWORD, ADMIN: ADMIN_PASSWORD}))
    return start_airflow(
        env={
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:viewer,{ADMIN}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        },
    )


def api_token(airflow, username: str, password: str) -> str:
    """An Airflow API token (JWT) for a user of the simple auth manager."""
    answer = requests.post(
        f"{airflow.api_url}/auth/token",
        json={"username": username, "password": password},
        timeout=15,
    )
    answer.raise_for_status()
    return answer.json()["access_token"]


def queue_dag_run(airflow, token: str) -> None:
    """Create the DAG run the seeded imports name, so that their links lead somewhere real.

    The DAG stays paused, so the run is only queued: nothing is imported again.
    """
    headers = {"Authorization": f"Bearer {token}"}
    # The services' own helpers call the API without signing in; this Airflow requires it.
    deadline = time.monotonic() + 120
    while not requests.get(
        f"{airflow.api_url}/api/v2/dags/{IMPORT_DAG}", headers=headers, timeout=15
    ).ok:
        airflow.check_alive()
        assert time.monotonic() < deadline, f"{IMPORT_DAG} was not parsed in time"
        time.sleep(1)
    created = requests.post(
        f"{airflow.api_url}/api/v2/dags/{IMPORT_DAG}/dagRuns",
        headers=headers,
        json={"dag_run_id": IMPORT_DAG_RUN, "logical_date": None},
        timeout=15,
    )
    assert created.status_code == 200, created.text


def site_rows(page: Page) -> dict[str, dict]:
    """The sites table as the page shows it, by site id."""
    return page.evaluate(
        """Object.fromEntries(Array.from(document.querySelectorAll('tr[data-site]'))
             .filter(tr => tr.closest('[data-testid=sites]'))
             .map(tr => [tr.dataset.site, {
                health: tr.dataset.health,
                connection: tr.querySelector('[data-testid=connection]').innerText,
                staff: tr.querySelector('[data-testid=active-staff]').innerText,
                healthText: tr.querySelector('[data-testid=health]').innerText,
                reasons: Object.fromEntries(Array.from(tr.querySelectorAll('[data-reason]'))
                    .map(e => [e.dataset.reason, Number(e.dataset.count)])),
             }]))"""
    )


def history_rows(page: Page) -> list[dict]:
    """The Sync History rows on the page, top to bottom."""
    return page.evaluate(
        """Array.from(document.querySelectorAll('tr[data-run-id]')).map(tr => ({
             id: Number(tr.dataset.runId), status: tr.dataset.status,
             kind: tr.dataset.kind, site: tr.dataset.site}))"""
    )


def filter_history(page: Page, **choices: str) -> None:
    """Pick options of the Sync History filters, press their button, wait for the new page."""
    for name, value in choices.items():
        page.select_option(f"form.filters select[name={name}]", value)
    before = page.url
    page.click("form.filters button[type=submit]")
    page.wait_for_url(lambda url: url != before)


@pytest.mark.slow
@pytest.mark.parametrize("calm_db", ["postgresql"], indirect=True)
def test_wonde_page_in_airflow(world, airflow, tmp_path):
    seeded = world.seeded
    base = airflow.api_url
    queue_dag_run(airflow, api_token(airflow, ADMIN, ADMIN_PASSWORD))

    # Without signing in: the JSON is refused, the page is Airflow's login.
    assert requests.get(f"{base}/wonde/ui/api/overview", timeout=15).status_code == 401

    with chromium_page() as page:
        page.goto(f"{base}/wonde/ui/")
        page.wait_for_selector("input[name=username]")
        assert urlsplit(page.url).path == "/auth/login"
        assert "Ashdown" not in page.inner_text("body")

        # Sign in through Airflow's own form; it sends us back to the page.
        page.locator("input[name=username]").press_sequentially(USER)
        page.locator("input[name=password]").press_sequentially(PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: urlsplit(url).path == "/wonde/ui/")
        viewer = page.get_by_test_id("viewer")
        expect(viewer).to_contain_text(f"Signed in as {USER} (Airflow user)")

        # The catalog.
        assert page.get_by_test_id("catalog-count").inner_text() == str(seeded.school_count)
        assert page.get_by_test_id("catalog").get_attribute("data-health") == "ok"
        assert page.get_by_test_id("catalog-warning").count() == 0

        # Every site with its connection, health and counts.
        rows = site_rows(page)
        assert list(rows) == list(SITES)
        assert {k: r["health"] for k, r in rows.items()} == EXPECTED_HEALTH
        assert {k: r["connection"] for k, r in rows.items()} == EXPECTED_CONNECTION
        ashdown = rows["ashdown"]
        assert ashdown["staff"] == str(seeded.ashdown_active_staff)
        assert ashdown["reasons"] == {
            f"{t}:{r}": n for (t, r), n in seeded.ashdown_filtered.items()
        }
        assert "Failing" in rows["beacon"]["healthText"] and "401" in rows["beacon"]["healthText"]
        assert "Stale" in rows["cedar"]["healthText"]
        assert "Revoke & Re-request" in rows["elm"]["healthText"]

        # Sync History: every run, newest first.
        every = [
            seeded.cedar_run,
            seeded.beacon_failed_run,
            seeded.beacon_good_run,
            seeded.ashdown_run,
            seeded.catalog_run,
        ]
        assert [r["id"] for r in history_rows(page)] == every
        page.screenshot(path=tmp_path / "wonde-overview.png", full_page=True)
        print(f"\nscreenshot: {tmp_path / 'wonde-overview.png'}")

        # Filters, through the form.
        filter_history(page, status="Failed")
        assert parse_qs(urlsplit(page.url).query) == {"status": ["Failed"]}
        assert [(r["id"], r["status"]) for r in history_rows(page)] == [
            (seeded.beacon_failed_run, "Failed")
        ]
        filter_history(page, status="", site="beacon")
        assert {r["site"] for r in history_rows(page)} == {"beacon"}
        assert len(history_rows(page)) == 2
        filter_history(page, site="", kind="catalog")
        assert [r["id"] for r in history_rows(page)] == [seeded.catalog_run]

        # A run's detail: counts, filtered counts by reason, record issues and their CSV.
        page.goto(f"{base}/wonde/ui/")
        page.click(f"tr[data-run-id='{seeded.ashdown_run}'] a[href$='/runs/{seeded.ashdown_run}']")
        page.wait_for_url(lambda url: urlsplit(url).path == f"/wonde/ui/runs/{seeded.ashdown_run}")
        detail = page.inner_text("body")
        assert f"Run #{seeded.ashdown_run}: Full import" in detail
        assert "Completed" in detail and "Suspended in the MIS" in detail
        assert seeded.ashdown_bad_email_id in page.get_by_test_id("issues").inner_text()
        with page.expect_download() as download:
            page.get_by_test_id("csv").click()
        assert download.value.suggested_filename == f"wonde-run-{seeded.ashdown_run}-issues.csv"
        csv_path = tmp_path / "downloads" / download.value.suggested_filename
        download.value.save_as(csv_path)
        csv_text = csv_path.read_text()
        assert csv_text.splitlines()[0].startswith("run_id,site_id,record_type,external_id")
        assert seeded.ashdown_bad_email_id in csv_text
        page.screenshot(path=tmp_path / "wonde-run.png", full_page=True)
        print(f"screenshot: {tmp_path / 'wonde-run.png'}")

        # The run's changes, filtered by action and name, then one person's history.
        first = page.get_by_test_id("changes").locator("tbody tr").first.locator("td").first
        name = first.inner_text().strip()
        form = page.get_by_test_id("change-filters")
        form.locator("select[name=action]").select_option("created")
        form.locator("input[name=q]").fill(name.split()[-1])
        form.locator("button").click()
        page.wait_for_url(lambda url: "action=created" in url)
        assert name in page.get_by_test_id("changes").inner_text()
        page.screenshot(path=tmp_path / "wonde-run-changes.png", full_page=True)
        print(f"screenshot: {tmp_path / 'wonde-run-changes.png'}")
        page.get_by_test_id("changes").get_by_role("link", name=name).first.click()
        page.wait_for_url(lambda url: urlsplit(url).path == "/wonde/ui/sites/ashdown/people")
        history = page.get_by_test_id("person-history").inner_text()
        assert name in history and "created" in history
        page.screenshot(path=tmp_path / "wonde-person.png", full_page=True)
        print(f"screenshot: {tmp_path / 'wonde-person.png'}")
        # Someone the filters left out from their first sight, found through the search form.
        kept = table("wonde_people_not_imported")
        with world.engine.connect() as conn:
            left_out = (
                conn.execute(sa.select(kept).where(kept.c.site_id == "ashdown").limit(1))
                .mappings()
                .one()
            )
        search = page.get_by_test_id("person-search")
        search.locator("input[name=q]").fill(left_out["surname"])
        search.locator("button").click()
        page.wait_for_url(lambda url: "q=" in url and left_out["surname"][:3] in unquote_plus(url))
        never = page.get_by_test_id("not-imported")
        expect(never.locator(f"tr[data-reason='{left_out['reason']}']").first).to_contain_text(
            left_out["external_id"]
        )
        page.screenshot(path=tmp_path / "wonde-person-not-imported.png", full_page=True)
        print(f"screenshot: {tmp_path / 'wonde-person-not-imported.png'}")
        page.goto(f"{base}/wonde/ui/runs/{seeded.ashdown_run}")
        # Airflow's lowest role may read, not undo.
        expect(page.get_by_test_id("review")).to_contain_text("may not start DAG runs")
        assert page.get_by_test_id("undo-form").count() == 0

        # Its DAG run opens in Airflow's UI.
        page.click("a[data-dag-run]")
        page.wait_for_url(lambda url: urlsplit(url).path.startswith(f"/dags/{IMPORT_DAG}/runs/"))
        expect(page.locator("body")).to_contain_text(IMPORT_DAG_RUN)

        # The nav entry "Wonde" shows the page inside Airflow's UI.
        page.goto(f"{base}/")
        page.click("a[aria-label=Wonde]")
        # Airflow's UI mirrors the framed page's path after its own: /plugin/wonde/...
        page.wait_for_url(lambda url: urlsplit(url).path.startswith("/plugin/wonde"))
        framed = page.frame_locator("iframe")
        expect(framed.locator("h1")).to_contain_text("Wonde integration")
        iframe_src = page.locator("iframe").get_attribute("src")
        assert urlsplit(iframe_src).path == "/wonde/ui/"
        page.screenshot(path=tmp_path / "wonde-in-airflow.png")
        print(f"screenshot: {tmp_path / 'wonde-in-airflow.png'}")

        # Signed out: refused again.
        page.context.clear_cookies()
        run_path = f"/wonde/ui/runs/{seeded.ashdown_run}"
        page.goto(f"{base}{run_path}")
        page.wait_for_url(lambda url: urlsplit(url).path == "/auth/login")
        assert seeded.ashdown_bad_email_id not in page.inner_text("body")

        # An admin undoes the run through its form (no script: a ticked box and a button).
        page.locator("input[name=username]").press_sequentially(ADMIN)
        page.locator("input[name=password]").press_sequentially(ADMIN_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: urlsplit(url).path == run_path)
        undo = page.get_by_test_id("undo-form")
        undo.locator("input[name=confirm]").check()
        undo.locator("button").click()
        page.wait_for_url(lambda url: urlsplit(url).path not in (run_path, f"{run_path}/undo"))
        expect(page.locator("h1")).to_contain_text("Undo")
        expect(page.get_by_test_id("message")).to_contain_text(
            f"Undid run #{seeded.ashdown_run} (asked by {ADMIN}, Airflow user)"
        )
        expect(page.get_by_test_id("changes")).to_contain_text("archived")
        page.screenshot(path=tmp_path / "wonde-undo.png", full_page=True)
        print(f"screenshot: {tmp_path / 'wonde-undo.png'}")


def test_a_missing_chromium_fails_and_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setenv("CHROMIUM", str(tmp_path / "nowhere"))
    with pytest.raises(BrowserMissing, match="is not an executable file"):
        find_chromium()
    monkeypatch.delenv("CHROMIUM")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BrowserMissing, match="apt-get install -y chromium"):
        find_chromium()
