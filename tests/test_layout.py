"""The package's shape: imports point one way, modules stay small, DAGs import only tasks.

Subpackages are ranked by where they sit in the data flow; a module may import its own
subpackage and lower-ranked ones, never a sibling of the same rank or a higher one. Lazy
imports inside functions count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "plugins" / "wonde_sync"

#: Lower ranks are imported by higher ones, never the other way round.
RANKS = {
    "core": 0,
    "wonde": 1,
    "catalog": 2,
    "school_access": 3,
    "people": 4,
    "tasks": 5,
    "monitoring": 5,
    "admin": 6,
    "web": 7,
}
#: Modules at the package root (``python -m wonde_sync``) sit above everything.
ROOT_RANK = 8
MAX_MODULE_LINES = 300


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _subpackage(path: Path) -> str | None:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else None


def _imported(path: Path) -> set[str]:
    """Every ``wonde_sync`` module a file imports, at any depth of the file."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name.split(".")[0] == "wonde_sync"}


def test_every_subpackage_is_ranked():
    found = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert found == set(RANKS)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down_the_flow(path):
    own = _subpackage(path)
    rank = RANKS[own] if own else ROOT_RANK
    wrong = []
    for name in sorted(_imported(path)):
        parts = name.split(".")
        target = parts[1] if len(parts) > 1 else None
        if target not in RANKS or target == own:
            continue
        if RANKS[target] >= rank:
            wrong.append(name)
    assert not wrong, f"{own or 'wonde_sync'} (rank {rank}) must not import {wrong}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_small(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{lines} lines: split it by concern"


@pytest.mark.parametrize("path", sorted((REPO / "dags").glob("*.py")), ids=lambda p: p.name)
def test_dags_import_only_tasks(path):
    others = {name for name in _imported(path) if not name.startswith("wonde_sync.tasks")}
    assert not others, f"DAG files import only wonde_sync.tasks: {sorted(others)}"
