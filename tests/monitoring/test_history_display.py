"""Sync History as the page, the JSON and a 1440 px browser show it: run type, window,
duration and the whole message, wrapped."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.support.browser import chromium_page
from wonde_sync.core import sync_history
from wonde_sync.core.database import table, utcnow

#: A message as long as a failed import's can be, with an unbroken run of characters.
LONG = (
    "Import failed: "
    + " ".join(f"page {n} of the employees of school A1930499544 was refused;" for n in range(30))
    + " https://api.wonde.com/v1.0/schools/A1930499544/employees?page=31&per_page=200&"
    + "include=employment_details,contact_details&updated_after=2026-11-01T01:00:00"
)
DAG_RUN = "manual__2026-11-04T09:15:02.123456+00:00_averylongsuffixwithoutanyspaces"


@pytest.fixture
def long_run(world) -> int:
    """A finished manual import of ashdown with a long message: 12.5 s over a window."""
    end = utcnow()
    start = end - timedelta(seconds=12.5)
    run_id = sync_history.start_run(
        world.engine,
        sync_history.INCREMENTAL_IMPORT,
        site_id="ashdown",
        dag_id="wonde_incremental_sync",
        dag_run_id=DAG_RUN,
        run_type=sync_history.MANUAL,
        started_at=start,
        window_start=start - timedelta(days=1, hours=2),
        window_end=start,
    )
    sync_history.fail_run(world.engine, run_id, LONG)
    runs = table("wonde_sync_runs")
    with world.engine.begin() as conn:  # the end as recorded, not the test's clock
        conn.execute(sa.update(runs).where(runs.c.id == run_id).values(finished_at=end))
    return run_id


def test_the_page_and_json_show_the_whole_message_and_the_run_context(world, long_run):
    from fastapi.testclient import TestClient

    from wonde_sync.web.ui import create_app

    with TestClient(create_app(engine=world.engine)) as client:
        page = client.get("/", headers=world.auth("ann")).text
        detail = client.get(f"/runs/{long_run}", headers=world.auth("ann")).text
        listed = client.get("/api/runs", headers=world.auth("ann")).json()["data"][0]
        one = client.get(f"/api/runs/{long_run}", headers=world.auth("ann")).json()
    for html in (page, detail):
        assert LONG.replace("&", "&amp;") in html
        assert "12 s" in html and "Manual" in html
        assert "changes from " in html
    assert "…" not in page and "..." not in page
    for found in (listed, one):
        assert found["message"] == LONG
        assert (found["run_type"], found["run_type_label"]) == ("manual", "Manual")
        assert found["duration_seconds"] == pytest.approx(12.5, abs=0.01)
        assert found["duration_label"] == "12 s"
        assert found["window_start"] and found["window_end"]


def test_long_messages_and_dag_run_ids_wrap_within_1440_px(world, long_run):
    from fastapi.testclient import TestClient

    from wonde_sync.web.ui import create_app

    with TestClient(create_app(engine=world.engine)) as client:
        html = client.get("/", headers=world.auth("ann")).text
    with chromium_page(width=1440) as page:
        page.set_content(html)
        sizes = page.evaluate(
            """(id) => {
                 const row = document.querySelector(`tr[data-run-id="${id}"]`);
                 const box = (sel) => row.querySelector(sel).getBoundingClientRect();
                 return {page: document.documentElement.scrollWidth,
                         table: document.querySelector('[data-testid=runs]').scrollWidth,
                         message: box('td.message'), dagRun: box('td.dag-run'),
                         text: row.querySelector('td.message').innerText};
               }""",
            long_run,
        )
    assert sizes["page"] <= 1440 and sizes["table"] <= 1440 - 2 * 28
    assert sizes["message"]["right"] <= 1440 and sizes["dagRun"]["right"] <= 1440
    assert sizes["message"]["width"] <= 460 and sizes["message"]["height"] > 100  # wrapped
    assert sizes["text"] == LONG
