"""The migrations ship inside the package: a wheel carries and runs them; Alembic's command
line finds them through pyproject.toml."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.core.schema_state import REVISIONS
from wonde_sync.core.migrations import SCRIPT_LOCATION

REPO = Path(__file__).resolve().parents[2]

_UPGRADE = """
import sys
import wonde_sync
from wonde_sync.core.database import apply_schema, engine_from_url
print(wonde_sync.__file__)
print(",".join(apply_schema(engine_from_url(sys.argv[1]))))
"""


@pytest.mark.slow
def test_wheel_carries_and_runs_the_migrations(tmp_path):
    # Built from a copy: a build writes build/ and *.egg-info next to the sources.
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(REPO / "pyproject.toml", src)
    for package in ("plugins", "wonde_emulator"):
        shutil.copytree(REPO / package, src / package, ignore=shutil.ignore_patterns("__pycache__"))
    uv = Path(sys.executable).with_name("uv")
    build = [uv, "build", "--wheel", "--quiet", "--out-dir", tmp_path / "dist", src]
    subprocess.run(build, check=True, capture_output=True)

    (wheel,) = (tmp_path / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "site")
    shipped = {
        f"wonde_sync/core/migrations/{p.relative_to(SCRIPT_LOCATION).as_posix()}"
        for p in SCRIPT_LOCATION.rglob("*.py")
    }
    assert {"wonde_sync/core/migrations/env.py"} | {
        f"wonde_sync/core/migrations/versions/{r}.py" for r in REVISIONS
    } <= shipped
    assert shipped <= names

    # The unpacked wheel comes first on the path: the migrations are found in it alone.
    run = subprocess.run(
        [sys.executable, "-c", _UPGRADE, f"sqlite:///{tmp_path / 'calm.db'}"],
        env={"PYTHONPATH": str(tmp_path / "site"), "PATH": ""},
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
    )
    location, applied = run.stdout.splitlines()
    assert Path(location).is_relative_to(tmp_path / "site")
    assert applied == ",".join(REVISIONS)


def test_alembic_command_line_finds_the_history():
    history = subprocess.run(
        [sys.executable, "-m", "alembic", "history"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert f"{REVISIONS[-1]} (head)" in history
    assert all(revision in history for revision in REVISIONS)
