"""Any input to the connection API and Wonde's webhook receiver gets an answer below 500,
of the expected 4xx class when refused, and a refusal changes no table and calls no Wonde.

Each test builds its world once (real database, real emulator over HTTP) and sends every
example to it; SQLite by default, PostgreSQL as well with ``CALM_PROPERTY_BACKENDS=all``.
"""

from __future__ import annotations

import json
from urllib.parse import quote, unquote

import pytest
from fastapi.testclient import TestClient
from hypothesis import assume, given
from hypothesis import strategies as st

from tests.property import wonde_shapes as shapes
from tests.property.conftest import table_counts
from tests.property.http_inputs import BACKENDS, header_text, numbers, raw_escapes, url_text
from tests.school_access.conftest import CONTACT, WEBHOOK_SECRET
from wonde_sync.core.text_input import has_control_characters

pytestmark = pytest.mark.parametrize("calm_db", BACKENDS, indirect=True)

#: A value JSON can hold, including text a database cannot store.
hostile_values = st.one_of(
    shapes.json_values,
    shapes.stored_text,
    st.integers(10**20, 10**400),
    st.floats(),  # NaN and infinities become bare NaN/Infinity, which Python's JSON reads
    st.integers(1, 3).map(lambda n: "x" * (1001 * n)),
)
JOURNAL = "wonde_webhook_events"
CONTACT_LIMITS = {"first_name": 100, "last_name": 100, "email": 254, "phone": 30, "notes": 1000}


class Api:
    """The API of a world, and what a refusal must leave alone."""

    def __init__(self, world) -> None:
        from wonde_sync.web.api import create_app

        self.world = world
        app = create_app(
            engine=world.engine, client_factory=world.client, webhook_secret=WEBHOOK_SECRET
        )
        self.client = TestClient(app).__enter__()

    def close(self) -> None:
        self.client.__exit__(None, None, None)

    def state(self, *, but: str | None = None) -> tuple:
        """Rows per table, the lifecycle tables' rows, requests Wonde served; ``but`` one."""
        counts, rows = table_counts(self.world.engine), self.world.snapshot()
        counts.pop(but, None)
        rows.pop(but, None)
        return counts, rows, self.world.control.requests_to()

    def send(self, method: str, url: str, **options):
        """Send a request; assert < 500 and that a refusal changed nothing."""
        # Wonde's refused deliveries are journaled on purpose: the journal may grow.
        but = JOURNAL if url.startswith("/webhooks/") else None
        before = self.state(but=but)
        answer = self.client.request(method, url, **options)
        assert answer.status_code < 500, (method, url, answer.status_code, answer.text[:300])
        if answer.status_code >= 400:
            assert answer.headers["content-type"].startswith("application/json")
            assert self.state(but=but) == before, (method, url, answer.status_code)
        return answer


@pytest.fixture
def api(access_world):
    found = Api(access_world)
    yield found
    found.close()


def _contact_with(field: str, value) -> bytes:
    body = {"school_id": "A0", **CONTACT, field: value}
    return json.dumps(body).encode()


@st.composite
def broken_contacts(draw) -> bytes:
    """A request-access body with one field wrong for sure (type, control, length, extra)."""
    field = draw(st.sampled_from([*CONTACT_LIMITS, "school_id", "unexpected"]))
    if field == "unexpected":
        return _contact_with(draw(st.text(min_size=1).filter(lambda k: k not in CONTACT)), 1)
    kind = draw(st.sampled_from(["type", "control", "too_long", "surrogate"]))
    if kind == "type":
        value = draw(
            st.one_of(st.integers(), st.floats(), st.booleans(), st.lists(st.none()), st.just({}))
        )
    elif kind == "control":
        char = draw(st.sampled_from(["\x00", "\x07", "\x1b", "\x7f", "\x85", "\u2028"]))
        value = "Ann" + char + "e"
    elif kind == "surrogate":
        value = "Zo\udce9"
    else:
        value = "7" * (CONTACT_LIMITS.get(field, 64) + 1)
    if field == "email" and kind == "too_long":
        value = "a" * 250 + "@school.org"
    return _contact_with(field, value)


request_bodies = st.one_of(
    broken_contacts(),
    st.binary(max_size=100),
    hostile_values.map(lambda v: json.dumps(v).encode()),
    st.integers(33, 20_000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(0, 2).map(lambda n: b'{"notes": "' + b"x" * (16 * 1024 + n) + b'"}'),
)
ROUTES = [
    ("GET", "/schools/search?q=st"),
    ("GET", "/connections"),
    ("GET", "/sites/site-a/connection"),
    ("POST", "/sites/site-a/connection/request-access"),
    ("POST", "/sites/site-a/connection/revoke-and-rerequest"),
    ("POST", "/sites/site-a/connection/enable"),
    ("POST", "/sites/site-a/connection/disable"),
]


@given(
    st.sampled_from(ROUTES),
    st.one_of(st.none(), header_text.map(lambda t: f"Bearer {t}"), header_text),
    request_bodies,
)
def test_without_a_valid_token_every_route_is_401(api, route, authorization, body):
    method, path = route
    headers = {} if authorization is None else {"Authorization": authorization.encode("latin-1")}
    answer = api.send(method, path, headers=headers, content=body)
    assert answer.status_code == 401


@given(st.one_of(url_text, raw_escapes, url_text.map(lambda t: t * 50)), numbers)
def test_any_search_is_answered_or_refused_with_422(api, query, limit):
    ann = api.world.auth("ann@site-a")
    url = f"/schools/search?q={query if query.startswith('%') else quote(query)}"
    answer = api.send("GET", f"{url}&limit={quote(limit)}", headers=ann)
    assert answer.status_code in (200, 422)
    try:
        int(limit)
    except ValueError:
        assert answer.status_code == 422
    if has_control_characters(unquote(query)):
        assert answer.status_code == 422


@given(
    st.one_of(url_text.map(lambda t: quote(t, safe="")), raw_escapes),
    st.sampled_from(["", "/enable", "/disable", "/request-access", "/revoke-and-rerequest"]),
)
def test_another_or_malformed_site_is_refused(api, site, action):
    assume(site not in ("site-a", ""))
    method = "POST" if action else "GET"
    answer = api.send(
        method, f"/sites/{site}/connection{action}", headers=api.world.auth("ann@site-a")
    )
    assert answer.status_code in (403, 404, 405, 422)
    if has_control_characters(unquote(site)) and "/" not in unquote(site):
        assert answer.status_code == 422


@given(request_bodies)
def test_a_bad_access_request_is_refused_before_wonde_is_called(api, body):
    ann = api.world.auth("ann@site-a")
    for action in ("request-access", "revoke-and-rerequest"):
        if action == "revoke-and-rerequest" and body.strip() in (b"", b"{}"):
            continue  # no contact is a valid Revoke & Re-request
        answer = api.send("POST", f"/sites/site-a/connection/{action}", headers=ann, content=body)
        assert answer.status_code in (400, 413, 422), (action, answer.text[:300])


@st.composite
def deliveries(draw) -> bytes:
    """Webhook bodies: well-formed ones with hostile texts, and anything at all."""
    kind = draw(
        st.sampled_from(
            ["schoolApproved", "accessDeclined", "accessRevoked", "schoolMigration", "other"]
        )
    )
    body = {
        "payload_type": kind,
        "school_id": draw(st.one_of(st.from_regex(r"A[0-9]{6}", fullmatch=True), hostile_values)),
        "school_name": draw(hostile_values),
        "decline_reason": draw(hostile_values),
        "revoke_reason": draw(hostile_values),
        "migrate_to": draw(hostile_values),
        "school_token": draw(
            st.one_of(st.from_regex(r"[0-9a-f]{40}", fullmatch=True), hostile_values)
        ),
    }
    return draw(st.one_of(st.just(json.dumps(body).encode()), request_bodies))


@given(st.one_of(url_text.map(lambda t: quote(t, safe="")), raw_escapes), deliveries())
def test_a_wrong_webhook_secret_is_401(api, secret, body):
    assume(secret not in (quote(WEBHOOK_SECRET, safe=""), WEBHOOK_SECRET))
    for query in (f"secret={secret}", f"secret={quote(WEBHOOK_SECRET)}&secret={secret}"):
        answer = api.send("POST", f"/webhooks/wonde?{query}", content=body)
        assert answer.status_code == 401


@given(deliveries())
def test_any_webhook_delivery_is_recorded_or_refused_with_4xx(api, body):
    from wonde_sync.wonde import webhooks

    answer = api.send("POST", f"/webhooks/wonde?secret={quote(WEBHOOK_SECRET)}", content=body)
    try:
        webhooks.parse(body)
    except webhooks.WebhookPayloadError:
        assert answer.status_code in (413, 422)
    else:
        assert answer.status_code in (200, 413, 422)
