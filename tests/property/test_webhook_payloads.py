"""Properties of Wonde's webhook payloads: any body is an event or a WebhookPayloadError.

A valid delivery gives the event it describes; anything else gives the documented error,
whose message and field errors never quote a school token.
"""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from tests.property import wonde_shapes as shapes
from wonde_sync.wonde import webhooks

PAYLOAD_TYPES = (
    webhooks.SCHOOL_APPROVED,
    webhooks.ACCESS_DECLINED,
    webhooks.ACCESS_REVOKED,
    webhooks.SCHOOL_MIGRATION,
)
EVENT_CLASSES = dict(
    zip(
        PAYLOAD_TYPES,
        (
            webhooks.SchoolApproved,
            webhooks.AccessDeclined,
            webhooks.AccessRevoked,
            webhooks.SchoolMigration,
        ),
        strict=True,
    )
)
#: Tokens that cannot be mistaken for a field name or a message word.
tokens = st.from_regex(r"tok[0-9a-f]{8,40}", fullmatch=True)
school_ids = st.from_regex(r"A[0-9]{6,10}", fullmatch=True)
reasons = st.one_of(st.none(), st.text(max_size=40))


@st.composite
def valid_payloads(draw) -> dict:
    """A delivery Wonde may send, with fields it may add later."""
    kind = draw(st.sampled_from(PAYLOAD_TYPES))
    body = {"payload_type": kind, "school_name": draw(reasons)}
    if kind != webhooks.SCHOOL_MIGRATION or draw(st.booleans()):
        body["school_id"] = draw(school_ids)
    if kind == webhooks.SCHOOL_APPROVED:
        body["school_token"] = draw(tokens)
    extra = {
        webhooks.ACCESS_DECLINED: "decline_reason",
        webhooks.ACCESS_REVOKED: "revoke_reason",
        webhooks.SCHOOL_MIGRATION: "migrate_to",
    }.get(kind)
    if extra:
        body[extra] = draw(reasons)
    body.update(
        draw(st.dictionaries(st.sampled_from(["sent_at", "x", "meta"]), shapes.json_values))
    )
    return body


def _nested(levels: int) -> bytes:
    return b'{"a":' * levels + b"1" + b"}" * levels


bodies = st.one_of(
    st.binary(max_size=200),
    shapes.json_values.map(lambda v: json.dumps(v).encode()),
    st.integers(1, 40_000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(1, 10_000).map(_nested),
    st.sampled_from([b"", b"null", b"NaN", b"\xff\xfe", b'{"payload_type": 1}', b"[]" * 5]),
    st.integers(0, 3).map(lambda n: b" " * (webhooks.MAX_BODY_BYTES - 1 + n)),
)


def _parsed_or_refused(body: bytes):
    try:
        return webhooks.parse(body)
    except webhooks.WebhookPayloadError as exc:
        assert all(isinstance(m, str) for msgs in exc.errors.values() for m in msgs)
        return exc


@given(bodies)
def test_any_body_is_an_event_or_a_payload_error(body):
    found = _parsed_or_refused(body)
    assert isinstance(found, (webhooks.WebhookPayloadError, *EVENT_CLASSES.values()))


@given(valid_payloads())
def test_valid_payloads_give_their_event(payload):
    event = webhooks.parse(json.dumps(payload).encode())
    assert type(event) is EVENT_CLASSES[payload["payload_type"]]
    assert event.school_id == payload.get("school_id")
    if isinstance(event, webhooks.SchoolApproved):
        assert event.school_token.get_secret_value() == payload["school_token"]
        assert payload["school_token"] not in repr(event)
    if payload["school_name"] is not None:
        assert event.school_name == payload["school_name"].strip()


@given(
    valid_payloads().filter(lambda p: p["payload_type"] == webhooks.SCHOOL_APPROVED),
    st.sampled_from(["school_id", "school_token", "payload_type", "school_name"]),
    shapes.json_values,
)
def test_refusals_never_quote_the_token(payload, field, value):
    token = payload["school_token"]
    broken = {**payload, field: value}
    if field == "school_token":
        # A token made too short, or spaced out: still a secret.
        token = f"{token} x"
        broken[field] = token
    found = _parsed_or_refused(json.dumps(broken).encode())
    if isinstance(found, webhooks.WebhookPayloadError):
        assert token not in str(found) and token not in json.dumps(found.errors)
