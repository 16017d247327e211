"""Headless Chromium for tests, driven over the DevTools protocol (CDP).

    with Browser(tmp_path / "chromium") as browser:
        browser.goto("http://127.0.0.1:8080/wonde/ui/")
        browser.wait_for("document.querySelector('table') !== null")
        rows = browser.evaluate("document.querySelectorAll('tr').length")
        browser.screenshot(tmp_path / "page.png")

Chromium comes from Debian's package (``apt-get install -y chromium``), or from the path in
``CHROMIUM``; :func:`find_chromium` raises :class:`BrowserMissing`, which says how to
install it, rather than letting a test skip. The protocol goes over a WebSocket with the
``websockets`` package (already installed with uvicorn). Chromium runs with a new profile
and no network of its own (no updates, sync or background requests), so it only talks to
the servers the test started; it is stopped with its whole process group.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
)


class BrowserMissing(RuntimeError):
    """No Chromium on this machine."""


class BrowserError(RuntimeError):
    """Chromium did not start, a DevTools call failed, or a wait ran out."""


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


class Browser:
    """One headless Chromium with one page, driven over CDP."""

    def __init__(self, profile_dir: Path, width: int = 1440, height: int = 1000) -> None:
        self.profile_dir = Path(profile_dir)
        self.width, self.height = width, height
        self.process: subprocess.Popen | None = None
        self._ws = None
        self._session: str | None = None
        self._ids = itertools.count(1)
        self._events: list[dict] = []

    # -- life cycle ---------------------------------------------------------------------

    def start(self, timeout: float = 30) -> Browser:
        """Start Chromium, connect to it and open a blank page."""
        from websockets.sync.client import connect

        executable = find_chromium()
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.profile_dir.parent / "chromium.log", "ab")  # noqa: SIM115 - closed below
        self.process = subprocess.Popen(
            [
                executable,
                *FLAGS,
                f"--user-data-dir={self.profile_dir}",
                f"--window-size={self.width},{self.height}",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        try:
            endpoint = self._devtools_endpoint(time.monotonic() + timeout)
            # No proxy: the endpoint is on loopback whatever the environment says.
            self._ws = connect(endpoint, max_size=None, proxy=None, ping_interval=None)
            target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)
            attached = self.call(
                "Target.attachToTarget",
                {"targetId": target["targetId"], "flatten": True},
                session=False,
            )
            self._session = attached["sessionId"]
            for domain in ("Page", "Runtime", "Network"):
                self.call(f"{domain}.enable")
            self.call(
                "Emulation.setDeviceMetricsOverride",
                {
                    "width": self.width,
                    "height": self.height,
                    "deviceScaleFactor": 1,
                    "mobile": False,
                },
            )
        except BaseException:
            self.stop()
            raise
        return self

    def _devtools_endpoint(self, deadline: float) -> str:
        # Chromium writes its chosen port and browser path here once it listens.
        active = self.profile_dir / "DevToolsActivePort"
        while True:
            if self.process.poll() is not None:
                raise BrowserError(
                    f"Chromium exited with code {self.process.returncode}; see "
                    f"{self.profile_dir.parent / 'chromium.log'}"
                )
            if active.exists():
                lines = active.read_text().split()
                if len(lines) >= 2:
                    return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
            if time.monotonic() > deadline:
                raise BrowserError("Chromium did not open its DevTools port in time")
            time.sleep(0.1)

    def stop(self) -> None:
        """Close the connection and end Chromium's whole process group."""
        if self._ws is not None:
            try:
                self.call("Browser.close", session=False, timeout=5)
            except Exception:
                pass
            self._ws.close()
            self._ws = None
        if self.process is not None:
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.process.wait(timeout=10)
            self.process = None

    def __enter__(self) -> Browser:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- the protocol -------------------------------------------------------------------

    def call(
        self,
        method: str,
        params: dict | None = None,
        *,
        session: bool = True,
        timeout: float = 30,
    ) -> dict:
        """Send one CDP command (to the page unless ``session`` is False); return its result."""
        message: dict[str, Any] = {"id": next(self._ids), "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self._session
        self._ws.send(json.dumps(message))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"No answer to {method} in time")
            try:
                answer = json.loads(self._ws.recv(timeout=left))
            except TimeoutError:
                raise BrowserError(f"No answer to {method} in time") from None
            if answer.get("id") == message["id"]:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            if "method" in answer:
                # Keep the latest events only: enough to read, bounded in memory.
                self._events = [*self._events[-200:], answer]

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (awaited if it is a promise)."""
        result = self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, condition: str, timeout: float = 30, poll: float = 0.1) -> Any:
        """Wait until a JavaScript expression is truthy in the page; return its value."""
        deadline = time.monotonic() + timeout
        last_error = None
        while True:
            try:
                value = self.evaluate(condition)
                if value:
                    return value
            except BrowserError as exc:  # e.g. while the page is being replaced
                last_error = exc
            if time.monotonic() > deadline:
                raise BrowserError(
                    f"Still false after {timeout:g} s: {condition} (at {self.url()}; "
                    f"last error: {last_error})"
                )
            time.sleep(poll)

    def goto(self, url: str) -> None:
        """Open ``url`` and wait until the resulting page (after redirects) has loaded."""
        # A mark on the current document: only a new document lacks it.
        self.evaluate("window.__leaving = true")
        result = self.call("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise BrowserError(f"Opening {url} failed: {result['errorText']}")
        self.wait_for("!window.__leaving && document.readyState === 'complete'")

    def url(self) -> str:
        """The page's current URL."""
        try:
            return self.evaluate("location.href")
        except BrowserError:
            return "(unknown)"

    def text(self, selector: str = "body") -> str:
        """The visible text of the first element matching ``selector`` ("" when none)."""
        return self.evaluate(
            f"(document.querySelector({json.dumps(selector)}) || {{innerText: ''}}).innerText"
        )

    def type_into(self, selector: str, text: str) -> None:
        """Focus an input and type ``text`` as keyboard input (as a person would)."""
        self.evaluate(f"document.querySelector({json.dumps(selector)}).focus()")
        self.call("Input.insertText", {"text": text})

    def click(self, selector: str) -> None:
        """Click the centre of the first element matching ``selector``."""
        box = self.wait_for(
            f"""(() => {{
                const el = document.querySelector({json.dumps(selector)});
                if (!el) return null;
                el.scrollIntoView({{block: 'center'}});
                const r = el.getBoundingClientRect();
                return r.width && r.height ? {{x: r.x + r.width / 2, y: r.y + r.height / 2}} : null;
            }})()"""
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.call(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": box["x"], "y": box["y"], "button": "left", "clickCount": 1},
            )

    def download(self, selector: str, folder: Path, timeout: float = 30) -> Path:
        """Click a download link and wait for the file it saves into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        before = set(folder.iterdir())
        self.call(
            "Browser.setDownloadBehavior",
            {"behavior": "allow", "downloadPath": str(folder)},
            session=False,
        )
        self.click(selector)
        deadline = time.monotonic() + timeout
        while True:
            # Chromium writes to a .crdownload file and renames it when complete.
            done = [p for p in set(folder.iterdir()) - before if not p.name.endswith(".crdownload")]
            if done:
                return done[0]
            if time.monotonic() > deadline:
                raise BrowserError(f"Nothing was downloaded from {selector} in time")
            time.sleep(0.1)

    def cookies(self) -> list[dict]:
        """The browser's cookies."""
        return self.call("Network.getAllCookies")["cookies"]

    def clear_cookies(self) -> None:
        """Forget every cookie (sign out without asking the server)."""
        self.call("Network.clearBrowserCookies")

    def screenshot(self, path: Path, *, full_page: bool = True) -> Path:
        """Save a PNG of the page (the whole page by default) and return its path."""
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": full_page}
        if full_page:
            root = "document.documentElement"
            size = self.evaluate(f"({{w: {root}.scrollWidth, h: {root}.scrollHeight}})")
            params["clip"] = {"x": 0, "y": 0, "width": size["w"], "height": size["h"], "scale": 1}
        data = self.call("Page.captureScreenshot", params)["data"]
        path = Path(path)
        path.write_bytes(base64.b64decode(data))
        return path
