"""Answers kept between identical GETs never outlive a change, and the optional latency."""

from __future__ import annotations

import time

from tests.emulator.conftest import APP_TOKEN, WondeClient
from tests.support.emulator_control import EmulatorControl
from wonde_emulator import Emulator


def test_a_kept_answer_is_the_same_until_the_mis_changes(emu, client):
    school = emu.school_ids()[0]
    token = EmulatorControl(emu).approve(school)["school_token"]
    school_client = WondeClient(emu, token=token)
    path = f"/schools/{school}/employees"
    first = school_client.get(path)
    again = school_client.get(path)
    assert first.status_code == again.status_code == 200
    assert again.content == first.content

    person = first.json()["data"][0]
    EmulatorControl(emu).edit_person(school, person["id"], surname="Changed-Surname")
    changed = school_client.get(path).json()["data"]
    assert [p["surname"] for p in changed if p["id"] == person["id"]] == ["Changed-Surname"]


def test_answers_are_kept_per_token(emu, client):
    # Another token never receives the answer kept for the first one.
    assert client.get("/schools").status_code == 200
    assert WondeClient(emu, token="not-the-app-token").get("/schools").status_code == 401


def test_a_latency_delays_every_wonde_answer():
    with Emulator(schools=5, token=APP_TOKEN, latency=0.25) as emu:
        client = WondeClient(emu)
        started = time.monotonic()
        assert client.get("/schools").status_code == 200
        assert client.get("/schools").status_code == 200
        waited = time.monotonic() - started
    assert waited >= 0.5  # 0.25 s each, kept answer or not
