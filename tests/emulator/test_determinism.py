"""Determinism: the same seed gives the same world, a different seed a different one."""

from __future__ import annotations

import pytest

from tests.support.emulator_control import EmulatorControl
from wonde_emulator import Emulator

from .conftest import WondeClient


def _snapshot(seed: int, schools: int = 30) -> dict:
    with Emulator(
        schools=schools,
        staff_per_school=8,
        students_per_school=4,
        seed=seed,
        token="t",
        approved=2,
        port=0,
    ) as emu:
        client, control = WondeClient(emu, token="t"), EmulatorControl(emu)
        first = emu.school_ids()[0]
        directory = client.all("/schools/all", per_page=200)
        for school in directory:
            # region.domain carries the (random) port; everything else must match.
            school["region"].pop("domain")
            school["region"].pop("school_url")
        return {
            "ids": emu.school_ids(),
            "directory": directory,
            "staff": client.all(
                f"/schools/{first}/employees", include="employment_details,contact_details,classes"
            ),
            "students": client.all(
                f"/schools/{first}/students", include="education_details,contact_details"
            ),
            "truth": control.people(first),
            "token": control.school_token(first),
        }


@pytest.fixture(scope="module")
def seed_one():
    """A snapshot of the world for seed 1."""
    return _snapshot(1)


def test_same_seed_same_world(seed_one):
    assert _snapshot(1) == seed_one


def test_different_seed_different_world(seed_one):
    other = _snapshot(2)
    for key in seed_one:
        assert other[key] != seed_one[key], key
    assert set(other["ids"]).isdisjoint(seed_one["ids"])


def test_directory_is_prefix_stable(seed_one):
    bigger = Emulator(schools=120, seed=1)
    assert bigger.school_ids()[:30] == seed_one["ids"]
