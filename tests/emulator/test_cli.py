"""Command line: ``python -m wonde_emulator`` announces its URL, serves, stops on SIGTERM."""

from __future__ import annotations

import re
import subprocess
import sys

import requests

from tests.support.emulator_control import EmulatorControl


def test_cli_serves_until_sigterm():
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wonde_emulator",
            "--port",
            "0",
            "--schools",
            "7",
            "--staff-per-school",
            "4",
            "--students-per-school",
            "2",
            "--seed",
            "5",
            "--token",
            "cli-token",
            "--approved",
            "2",
            "--max-per-page",
            "3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        match = re.fullmatch(
            r"Wonde emulator on (http://127\.0\.0\.1:(\d+)) \(7 schools, token cli-token\)\n",
            line,
        )
        assert match, line
        base = match.group(1)
        assert EmulatorControl(base).health() == {"ok": True}
        http = requests.Session()
        http.trust_env = False
        http.headers["Authorization"] = "Bearer cli-token"
        page = http.get(f"{base}/v1.0/schools/all?per_page=50", timeout=10).json()
        assert page["meta"]["pagination"]["per_page"] == 3
        approved = http.get(f"{base}/v1.0/schools", timeout=10).json()["data"]
        assert len(approved) == 2
        staff = http.get(f"{base}/v1.0/schools/{approved[0]['id']}/employees", timeout=10)
        assert len(staff.json()["data"]) == 3
        process.terminate()
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
