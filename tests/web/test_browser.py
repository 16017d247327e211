"""The "Wonde" page in a real browser, inside a real Airflow.

Airflow's api-server, scheduler and dag-processor run as subprocesses on loopback
(:mod:`tests.support.airflow_services`) with the project's plugin, sign-in required (simple auth
manager, user ``ops``), on the seeded PostgreSQL database. Headless Chromium
(:mod:`tests.support.browser`) signs in through Airflow's login form and reads the page as a person
would; screenshots are saved under the test's tmp folder and their paths printed.
"""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.support.airflow_services import AirflowServices
from tests.support.browser import Browser, BrowserMissing, find_chromium
from tests.web.seed import EXPECTED_CONNECTION, EXPECTED_HEALTH, IMPORT_DAG, IMPORT_DAG_RUN, SITES

#: Support staff read the page with Airflow's lowest role; an admin queues the DAG run.
USER, PASSWORD = "ops", "ops-wonde-browser-test"
ADMIN, ADMIN_PASSWORD = "admin", "admin-wonde-browser-test"


@pytest.fixture
def airflow(world, tmp_path, request):
    """A real Airflow on loopback that requires signing in, serving the seeded database."""
    passwords = tmp_path / "passwords.json"
    passwords.write_text(json.dumps({USER: PASSWORD, ADMIN: ADMIN_PASSWORD}))
    services = AirflowServices(
        tmp_path / "airflow",
        env={
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:viewer,{ADMIN}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        },
    )
    failed_before = request.session.testsfailed
    services.start()
    try:
        yield services
    finally:
        services.stop(show_logs=request.session.testsfailed > failed_before)


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


def site_rows(browser) -> dict[str, dict]:
    """The sites table as the page shows it, by site id."""
    return browser.evaluate(
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


def history_rows(browser) -> list[dict]:
    """The Sync History rows on the page, top to bottom."""
    return browser.evaluate(
        """Array.from(document.querySelectorAll('tr[data-run-id]')).map(tr => ({
             id: Number(tr.dataset.runId), status: tr.dataset.status,
             kind: tr.dataset.kind, site: tr.dataset.site}))"""
    )


def choose(browser, name: str, value: str) -> None:
    """Pick an option of one of the Sync History filters."""
    browser.evaluate(
        f"""(() => {{ const s = document.querySelector('form.filters select[name={name}]');
                     s.value = {json.dumps(value)};
                     s.dispatchEvent(new Event('change', {{bubbles: true}})); }})()"""
    )


def submit_filters(browser) -> None:
    """Press the filters' button and wait for the page it leads to."""
    browser.evaluate("window.__before = location.href")
    browser.click("form.filters button[type=submit]")
    browser.wait_for("location.href !== window.__before && document.readyState === 'complete'")


@pytest.mark.slow
@pytest.mark.parametrize("calm_db", ["postgresql"], indirect=True)
def test_wonde_page_in_airflow(world, airflow, tmp_path):
    seeded = world.seeded
    base = airflow.api_url
    queue_dag_run(airflow, api_token(airflow, ADMIN, ADMIN_PASSWORD))

    # Without signing in: the JSON is refused, the page is Airflow's login.
    assert requests.get(f"{base}/wonde/ui/api/overview", timeout=15).status_code == 401

    with Browser(tmp_path / "chromium-profile") as browser:
        browser.goto(f"{base}/wonde/ui/")
        browser.wait_for("document.querySelector('input[name=username]') !== null")
        assert urlsplit(browser.url()).path == "/auth/login"
        assert "Ashdown" not in browser.text()

        # Sign in through Airflow's own form; it sends us back to the page.
        browser.type_into("input[name=username]", USER)
        browser.type_into("input[name=password]", PASSWORD)
        browser.click("button[type=submit]")
        browser.wait_for(
            "location.pathname === '/wonde/ui/' && document.querySelector('h1') !== null"
        )
        assert f"Signed in as {USER} (Airflow user)" in browser.text("[data-testid=viewer]")

        # The catalog.
        assert browser.text("[data-testid=catalog-count]") == str(seeded.school_count)
        assert (
            browser.evaluate("document.querySelector('[data-testid=catalog]').dataset.health")
            == "ok"
        )
        assert browser.evaluate("document.querySelector('[data-testid=catalog-warning]')") is None

        # Every site with its connection, health and counts.
        rows = site_rows(browser)
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
        assert [r["id"] for r in history_rows(browser)] == every
        overview_png = browser.screenshot(tmp_path / "wonde-overview.png")
        print(f"\nscreenshot: {overview_png}")

        # Filters, through the form.
        choose(browser, "status", "Failed")
        submit_filters(browser)
        assert parse_qs(urlsplit(browser.url()).query) == {"status": ["Failed"]}
        assert [(r["id"], r["status"]) for r in history_rows(browser)] == [
            (seeded.beacon_failed_run, "Failed")
        ]
        choose(browser, "status", "")
        choose(browser, "site", "beacon")
        submit_filters(browser)
        assert {r["site"] for r in history_rows(browser)} == {"beacon"}
        assert len(history_rows(browser)) == 2
        choose(browser, "site", "")
        choose(browser, "kind", "catalog")
        submit_filters(browser)
        assert [r["id"] for r in history_rows(browser)] == [seeded.catalog_run]

        # A run's detail: counts, filtered counts by reason, record issues and their CSV.
        browser.goto(f"{base}/wonde/ui/")
        browser.click(
            f"tr[data-run-id='{seeded.ashdown_run}'] a[href$='/runs/{seeded.ashdown_run}']"
        )
        browser.wait_for(f"location.pathname === '/wonde/ui/runs/{seeded.ashdown_run}'")
        detail = browser.text("body")
        assert f"Run #{seeded.ashdown_run}: Full import" in detail
        assert "Completed" in detail and "Suspended in the MIS" in detail
        assert seeded.ashdown_bad_email_id in browser.text("[data-testid=issues]")
        download = browser.download("[data-testid=csv]", tmp_path / "downloads")
        assert download.name == f"wonde-run-{seeded.ashdown_run}-issues.csv"
        csv_text = download.read_text()
        assert csv_text.splitlines()[0].startswith("run_id,site_id,record_type,external_id")
        assert seeded.ashdown_bad_email_id in csv_text
        run_png = browser.screenshot(tmp_path / "wonde-run.png")
        print(f"screenshot: {run_png}")

        # Its DAG run opens in Airflow's UI.
        browser.click("a[data-dag-run]")
        browser.wait_for(f"location.pathname.startsWith('/dags/{IMPORT_DAG}/runs/')")
        browser.wait_for(f"document.body.innerText.includes({json.dumps(IMPORT_DAG_RUN)})")

        # The nav entry "Wonde" shows the page inside Airflow's UI.
        browser.goto(f"{base}/")
        browser.click("a[aria-label=Wonde]")
        # Airflow's UI mirrors the framed page's path after its own: /plugin/wonde/...
        browser.wait_for("location.pathname.startsWith('/plugin/wonde')")
        browser.wait_for(
            "(() => { const f = document.querySelector('iframe');"
            " const h = f && f.contentDocument && f.contentDocument.querySelector('h1');"
            " return h && h.innerText.includes('Wonde integration'); })()"
        )
        assert browser.evaluate("new URL(document.querySelector('iframe').src).pathname") == (
            "/wonde/ui/"
        )
        in_airflow_png = browser.screenshot(tmp_path / "wonde-in-airflow.png", full_page=False)
        print(f"screenshot: {in_airflow_png}")

        # Signed out: refused again.
        browser.clear_cookies()
        browser.goto(f"{base}/wonde/ui/runs/{seeded.ashdown_run}")
        browser.wait_for("location.pathname === '/auth/login'")
        assert seeded.ashdown_bad_email_id not in browser.text()


def test_a_missing_chromium_fails_and_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setenv("CHROMIUM", str(tmp_path / "nowhere"))
    with pytest.raises(BrowserMissing, match="is not an executable file"):
        find_chromium()
    monkeypatch.delenv("CHROMIUM")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BrowserMissing, match="apt-get install -y chromium"):
        find_chromium()
