"""Hostile input is refused with a 4xx before anything is read, written or sent to Wonde."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from tests.school_access.conftest import CONTACT, WEBHOOK_SECRET
from wonde_sync.admin.cli import main
from wonde_sync.core import text_input

CONTROLS = ["\x00", "\x01", "\x1b[2J", "\x7f", "\u2028"]
DEEP = 2_000


def deep_json(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.fixture
def unchanged(world):
    """Asserts, after the test, that no table changed and Wonde was not called."""
    before, sent = world.snapshot(), world.control.requests_to()
    yield
    assert world.snapshot() == before
    assert world.control.requests_to() == sent


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("bad", CONTROLS, ids=repr)
def test_control_characters_are_422(api, world, bad):
    ann = world.auth("ann@site-a")
    school = world.schools[20]
    for field in ("first_name", "last_name", "email", "phone", "notes"):
        body = {"school_id": school, **CONTACT, field: f"A{bad}b"}
        answer = api.post("/sites/site-a/connection/request-access", json=body, headers=ann)
        assert answer.status_code == 422, (field, answer.text)
        assert field in answer.json()["errors"]
    answer = api.get("/schools/search", params={"q": f"ab{bad}cd"}, headers=ann)
    assert answer.status_code == 422, answer.text
    answer = api.get(f"/sites/{quote('site-a' + bad)}/connection", headers=ann)
    assert answer.status_code == 422, answer.text
    if bad.isspace():
        return  # Wonde's texts are whitespace-normalised: a separator becomes a space.
    reason = {"payload_type": "accessDeclined", "school_id": school, "decline_reason": f"x{bad}"}
    answer = api.post(f"/webhooks/wonde?secret={WEBHOOK_SECRET}", json=reason)
    assert answer.status_code == 422, answer.text


def test_notes_keep_tabs_and_line_breaks(api, world):
    body = {"school_id": world.schools[21], **CONTACT, "notes": "Line one\n\tLine two\r\n"}
    answer = api.post(
        "/sites/site-a/connection/request-access", json=body, headers=world.auth("ann@site-a")
    )
    assert answer.status_code == 200, answer.text


@pytest.mark.usefixtures("unchanged")
def test_deep_and_large_bodies_are_refused_before_parsing(api, world):
    ann = world.auth("ann@site-a")
    webhook = f"/webhooks/wonde?secret={WEBHOOK_SECRET}"
    for levels in (text_input.MAX_JSON_DEPTH + 1, DEEP, 100_000):
        body = deep_json(levels)
        for path, headers in ((webhook, {}), ("/sites/site-a/connection/request-access", ann)):
            answer = api.post(path, content=body, headers=headers)
            assert answer.status_code in (413, 422), (path, levels, answer.text)
    nested = json.dumps({"school_id": world.schools[22], **CONTACT, "x": json.loads(deep_json(40))})
    answer = api.post("/sites/site-a/connection/request-access", content=nested, headers=ann)
    assert answer.status_code == 422
    huge = "{" + '"a": "' + "x" * 200_000 + '"}'
    assert api.post(webhook, content=huge).status_code == 413
    assert (
        api.post("/sites/site-a/connection/request-access", content=huge, headers=ann).status_code
        == 413
    )


def test_the_cli_refuses_control_characters_with_exit_2(world, capsys):
    url = world.engine.url.render_as_string(hide_password=False)
    before, sent = world.snapshot(), world.control.requests_to()
    contact = [f"--{k.replace('_', '-')}={v}" for k, v in CONTACT.items()]
    commands = [
        ["search", "ab\x01cd"],
        ["request-access", "site-a", world.schools[23], *contact, "--first-name=A\x07n"],
        ["request-access", "site-a", world.schools[23], *contact, "--notes=bell\x07"],
    ]
    for argv in commands:
        code = main(["--db", url, *argv])
        err = capsys.readouterr().err
        assert code == 2 and "Traceback" not in err, (argv, err)
    assert world.snapshot() == before
    assert world.control.requests_to() == sent
