"""``make airflow`` (scripts/airflow_local.py): it starts, answers on loopback only, and
leaves nothing running after Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests

from tests.support.airflow_services import free_port

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "airflow_local.py"

pytestmark = pytest.mark.slow


@pytest.fixture
def demo(tmp_path, airflow_db):
    """A demo folder as ``make demo`` leaves it, small: calm.db, emulator.json, Airflow home."""
    subprocess.run(
        [sys.executable, "-m", "wonde_sync", "--db", f"sqlite:///{tmp_path}/calm.db", "init-db"],
        check=True,
        capture_output=True,
    )
    (tmp_path / "emulator.json").write_text(
        json.dumps(
            {
                "schools": 20,
                "staff_per_school": 3,
                "students_per_school": 3,
                "seed": 7,
                "token": "local-token",
                "port": free_port(),
            }
        )
    )
    (tmp_path / "airflow").mkdir()
    # The run's migrated SQLite metadata (airflow_db put it in this process's Airflow home).
    shutil.copyfile(
        Path(os.environ["AIRFLOW_HOME"]) / "airflow.db", tmp_path / "airflow/airflow.db"
    )
    return tmp_path


def read_until(proc: subprocess.Popen, marker: str, timeout: float) -> str:
    """What the script printed up to ``marker`` (fails after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    seen = ""
    while marker not in seen:
        assert time.monotonic() < deadline, f"no {marker!r} in time; printed:\n{seen}"
        line = proc.stdout.readline()
        assert line or proc.poll() is None, f"exited with {proc.returncode}:\n{seen}"
        seen += line
    return seen


def test_starts_on_loopback_and_stops_everything_on_ctrl_c(demo):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--port", str(port)],
        env={**env, "DEMO_DIR": str(demo)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        banner = read_until(proc, "Press Ctrl-C to stop.", timeout=300)
        base = f"http://127.0.0.1:{port}"
        assert f"Airflow:      {base}/" in banner
        user, password = re.search(r"Sign in:\s+(\S+) / (\S+)", banner).groups()
        pids = [int(p) for p in re.findall(r"\(pid (\d+)\)", banner)]
        assert len(pids) == 5, banner  # the emulator and four Airflow services

        assert requests.get(f"{base}/api/v2/version", timeout=15).json()["version"]
        login = requests.get(f"{base}/wonde/ui/", allow_redirects=False, timeout=15)
        assert login.status_code in (302, 303, 307) and "/auth/login" in login.headers["location"]
        token = requests.post(
            f"{base}/auth/token", json={"username": user, "password": password}, timeout=15
        )
        assert token.ok, token.text
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        assert requests.get(f"{base}/wonde/ui/api/overview", headers=headers, timeout=15).ok

        # Nothing the script started listens beyond loopback (no log server on 0.0.0.0).
        started = {p.pid for pid in pids for p in [psutil.Process(pid), *_children(pid)]}
        listening = [
            (c.pid, c.laddr)
            for c in psutil.net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN and c.pid in started
        ]
        assert listening and all(addr.ip == "127.0.0.1" for _, addr in listening), listening

        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out
    assert "Stopped the emulator and Airflow." in out
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.killpg(pid, 0)  # each service led its own process group: all of it is gone


def _children(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
