"""Running the emulator as a separate process (for the demo and benchmarks).

A separate process keeps the emulator's CPU and memory out of the measured process.
"""

from __future__ import annotations

import re
import subprocess
import sys


def start_process(**options: object) -> tuple[subprocess.Popen, str]:
    """Start ``python -m wonde_emulator`` with ``options`` as flags; return it and its URL.

    Options are the CLI's flags with underscores, e.g. ``staff_per_school=40``; the port
    defaults to a free one. Stop it with ``proc.terminate()``.
    """
    options.setdefault("port", 0)
    args = [sys.executable, "-m", "wonde_emulator"]
    for name, value in options.items():
        args += [f"--{name.replace('_', '-')}", str(value)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    found = re.search(r"http://\S+", line)
    if not found:
        proc.kill()
        raise RuntimeError(f"The Wonde emulator did not start: {line!r}")
    return proc, found.group(0)
