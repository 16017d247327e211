"""Any argument to the admin CLI gives exit 0, or exit 2 with one ``error:`` line and no
traceback; a refusal changes no table and calls no Wonde.

Arguments may hold what a shell can pass (any text; undecodable bytes arrive as lone
surrogates, Python's ``surrogateescape``) and NUL, which only an in-process call can.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.property.conftest import table_counts
from tests.property.http_inputs import BACKENDS
from wonde_sync.admin.cli import main

pytestmark = pytest.mark.parametrize("calm_db", BACKENDS, indirect=True)

arguments = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["site-a", "site-b", "-", "--", "--help-me", "\x00", "ab\x01cd", "9" * 5000]),
    st.integers().map(str),
)
#: What ``sys.argv`` holds for bytes that are not UTF-8 (``os.fsdecode``).
undecodable = st.binary(min_size=1, max_size=8).map(
    lambda b: (b"\xff" + b).decode("utf-8", "surrogateescape")
)

commands = st.one_of(
    st.tuples(st.just("search"), arguments),
    st.tuples(st.just("search"), arguments, st.just("--limit"), arguments),
    st.tuples(
        st.just("history"), st.sampled_from(["--site", "--kind", "--status", "--limit"]), arguments
    ),
    st.tuples(st.just("status"), st.just("--site"), arguments),
    st.tuples(st.just("connection-status"), st.just("--site"), arguments),
    st.tuples(st.sampled_from(["enable", "disable", "revoke-api-token"]), arguments),
    st.tuples(st.just("add-site"), arguments, st.just("--name"), arguments),
    st.tuples(st.just("grant-site-admin"), arguments, arguments),
    st.tuples(st.just("list-api-tokens"), st.just("--user"), arguments),
)


def _run(world, capsys, argv) -> tuple[int, str]:
    url = world.engine.url.render_as_string(hide_password=False)
    code = main(["--db", url, *argv])
    return code, capsys.readouterr().err


def _check(world, capsys, argv) -> None:
    before = table_counts(world.engine), world.snapshot(), world.control.requests_to()
    code, err = _run(world, capsys, argv)
    assert code in (0, 2), (argv, code, err)
    assert "Traceback" not in err, (argv, err)
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (argv, err)
        after = table_counts(world.engine), world.snapshot(), world.control.requests_to()
        assert after == before, argv


@given(commands)
def test_any_argument_is_done_or_refused_in_one_line(access_world, capsys, argv):
    _check(access_world, capsys, list(argv))


@given(st.sampled_from(["search", "status", "history", "enable", "add-site"]), undecodable)
def test_undecodable_arguments_are_refused_in_one_line(access_world, capsys, command, text):
    argv = [command, text] if command in ("search", "enable") else [command, "--site", text]
    if command == "add-site":
        argv = [command, text, "--name", text]
    _check(access_world, capsys, argv)
