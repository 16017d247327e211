"""Headless Chromium for tests, driven by Playwright.

    with chromium_page() as page:
        page.goto("http://127.0.0.1:8080/wonde/ui/")
        expect(page.locator("h1")).to_contain_text("Wonde integration")
        page.screenshot(path=tmp_path / "page.png", full_page=True)

Playwright drives the machine's Chromium, Debian's package (``apt-get install -y chromium``)
or the executable in ``CHROMIUM``; :func:`find_chromium` raises :class:`BrowserMissing`,
which says how to install it, rather than letting a test skip. Chromium runs headless with a
new profile and no network of its own (no updates, sync or background requests), so it only
talks to the servers the test started.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
)


class BrowserMissing(RuntimeError):
    """No Chromium on this machine."""


def find_chromium() -> str:
    """The Chromium executable: ``$CHROMIUM``, else the first of CANDIDATES on the PATH."""
    given = os.environ.get("CHROMIUM")
    if given:
        if Path(given).is_file() and os.access(given, os.X_OK):
            return given
        raise BrowserMissing(f"CHROMIUM={given} is not an executable file.")
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise BrowserMissing(
        "Chromium is needed for the browser tests and was not found: install it with "
        "`apt-get install -y chromium` (Debian/Ubuntu), or set CHROMIUM to its path."
    )


@contextmanager
def chromium_page(
    width: int = 1440, height: int = 1000, timeout: float = 30
) -> Generator[Page, None, None]:
    """A page in a fresh headless Chromium, closed afterwards; waits give up after ``timeout`` s."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=find_chromium(), headless=True, args=FLAGS
        )
        try:
            context = browser.new_context(
                viewport={"width": width, "height": height}, accept_downloads=True
            )
            context.set_default_timeout(timeout * 1000)
            expect.set_options(timeout=timeout * 1000)
            yield context.new_page()
        finally:
            browser.close()
