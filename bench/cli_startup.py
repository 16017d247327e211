"""Benchmark: how long the admin CLI takes to answer, start-up included, on SQLite.

Each command runs in a new process, as an operator would type it, 5 times; the median
wall-clock time is printed per command. The database is a fresh SQLite file with the
schema, one site and one catalog run.

Usage: ``python bench/cli_startup.py [--runs 5]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

COMMANDS = (
    ["--help"],
    ["status"],
    ["history"],
    ["search", "fox"],
)


def _run(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "wonde_sync", *argv], env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    env = {**os.environ, "PYTHONPATH": str(REPO / "plugins")}
    with tempfile.TemporaryDirectory(prefix="cli-bench-") as folder:
        url = f"sqlite:///{Path(folder) / 'calm.db'}"
        _run(["--db", url, "init-db"], env)
        _run(["--db", url, "add-site", "bench", "--name", "Bench School"], env)
        print(f"admin CLI on SQLite, median of {runs} runs (python {sys.version.split()[0]})")
        for argv in COMMANDS:
            full = argv if argv == ["--help"] else ["--db", url, *argv]
            times = [_run(full, env) for _ in range(runs)]
            print(f"  {' '.join(argv):<12} {statistics.median(times):6.3f} s")


if __name__ == "__main__":
    main()
