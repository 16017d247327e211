"""``scripts/cluster.py``: the distributed set-up with real processes (CeleryExecutor, Redis,
two workers), checked end to end, and nothing left running afterwards.

Minutes, not seconds: marked ``cluster`` and run as a step of its own.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "cluster.py"

pytestmark = pytest.mark.cluster


def start(workdir: Path) -> subprocess.Popen:
    """The script with small data, its output piped, without the tests' Airflow settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), "--sites", "2", "--schools", "30", "--workdir", str(workdir)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def started_pids(output: str) -> dict[str, int]:
    """The ``Processes:`` line: name -> pid of every process the script started."""
    line = re.search(r"^Processes: (.*)$", output, re.MULTILINE).group(1)
    return {name: int(pid) for name, pid in re.findall(r"(\S+) \(pid (\d+)\)", line)}


def assert_all_gone(pids: dict[str, int]) -> None:
    """None of the processes, nor any of their process groups, is left (zombies are gone:
    only their parent, here init, still has to reap them)."""
    alive = {name: pid for name, pid in pids.items() if _running(pid)}
    groups = {p.pid for p in psutil.process_iter() if _pgid(p) in pids.values() and _running(p.pid)}
    assert not alive and not groups, (alive, groups)


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _pgid(process: psutil.Process) -> int | None:
    try:
        return os.getpgid(process.pid)
    except ProcessLookupError:
        return None


def test_the_cluster_syncs_on_two_workers_and_imports_an_approval_within_a_minute(tmp_path):
    proc = start(tmp_path / "cluster")
    try:
        output, _ = proc.communicate(timeout=900)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    print(output)  # the script's tables, shown by make cluster (pytest -rP)

    assert proc.returncode == 0, output
    assert "All checks passed." in output and "FAIL" not in output, output
    services = started_pids(output)
    expected = {"postgres", "redis", "emulator", "api-server", "scheduler", "dag-processor",
                "triggerer", "worker-1", "worker-2"}  # fmt: skip
    assert set(services) == expected, services
    per_worker = dict(re.findall(r"^  (worker-\d+) +(\d+)$", output, re.MULTILINE))
    assert set(per_worker) == {"worker-1", "worker-2"}, output
    assert all(int(n) > 0 for n in per_worker.values()), per_worker
    runs = re.findall(r"^  (wonde_\w+) +(\w+) +(\w+) +[\d.]+ s", output, re.MULTILINE)
    assert ("wonde_schools_full_sync", "manual", "success") in runs, output
    assert ("wonde_incremental_sync", "manual", "success") in runs, output
    assert ("wonde_incremental_sync", "asset_triggered", "success") in runs, output
    delays = [float(s) for s in re.findall(r"^  site-\d+ +([\d.]+) s$", output, re.MULTILINE)]
    assert len(delays) == 2 and max(delays) <= 60, output
    assert int(re.search(r"^Rows checked: (\d+)$", output, re.MULTILINE).group(1)) > 30
    assert "Stopped every process it started." in output
    assert_all_gone(services)


def test_ctrl_c_stops_every_process(tmp_path):
    proc = start(tmp_path / "cluster")
    seen = ""
    try:
        deadline = time.monotonic() + 300
        while "Waiting for the scheduled runs" not in seen:  # tasks start on the workers
            assert time.monotonic() < deadline, seen
            line = proc.stdout.readline()
            assert line or proc.poll() is None, seen
            seen += line
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    assert proc.returncode == 130, seen + rest
    assert "Stopped every process it started." in rest
    assert_all_gone(started_pids(seen))
