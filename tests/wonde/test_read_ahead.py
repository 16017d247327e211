"""Reading pages ahead, and the process-wide gate on requests: the same pages in the same
order, a bounded number of requests in flight, and a rate limit that holds everyone back."""

from __future__ import annotations

import threading
import time

import pytest

from tests.support.emulator_control import EmulatorControl
from tests.support.forked import exit_code_in_child
from wonde_sync.wonde import pacing
from wonde_sync.wonde.paging import page_link

from .conftest import _start


@pytest.fixture
def slow_emu(monkeypatch):
    """1,000 schools, every answer 15 ms late: slow enough to read ahead."""
    yield from _start(monkeypatch, schools=1000, staff_per_school=2, latency=0.015)


@pytest.mark.parametrize("ahead", [1, 4])
def test_reading_ahead_gives_the_pages_in_order_with_few_extra_requests(
    slow_emu, make_client, ahead
):
    big_emu = slow_emu
    control = EmulatorControl(big_emu)
    client = make_client(per_page=50)
    pages = list(client.iter_pages("schools/all", ahead=ahead))

    assert [page.number for page in pages] == list(range(1, 21))
    ids = [record["id"] for page in pages for record in page.records]
    assert ids == list(big_emu.school_ids())
    # Pages past the end may have been asked for, never more than the read-ahead.
    assert 20 <= control.requests_to("/schools/all") <= 20 + ahead


def test_later_pages_are_requested_while_one_is_read(slow_emu, make_client):
    control = EmulatorControl(slow_emu)
    pages = make_client(per_page=50).iter_pages("schools/all", ahead=4)
    assert [next(pages).number, next(pages).number] == [1, 2]
    deadline = time.monotonic() + 5
    while control.requests_to("/schools/all") < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    # Pages 3 and 4 were asked for before anyone asked for page 3.
    assert control.requests_to("/schools/all") >= 4
    pages.close()


def test_a_page_read_ahead_that_fails_once_is_retried(slow_emu, make_client):
    big_emu = slow_emu
    control = EmulatorControl(big_emu)
    control.fault(kind="status", status=500, path_contains="page=7", times=1)
    pages = list(make_client(per_page=50).iter_pages("schools/all", ahead=4))
    ids = [record["id"] for page in pages for record in page.records]
    assert ids == list(big_emu.school_ids())


def test_links_without_a_page_number_are_followed_as_they_are(stub, make_client):
    def page(n: int, next_cursor: str | None) -> dict:
        link = f"{stub.url}/v1.0/things?cursor={next_cursor}" if next_cursor else None
        return {
            "data": [{"id": n}],
            "meta": {"pagination": {"next": link, "more": bool(link), "per_page": 1}},
        }

    stub.json("/v1.0/things?per_page=1", page(1, "b"))
    stub.json("/v1.0/things?cursor=b", page(2, "c"))
    stub.json("/v1.0/things?cursor=c", page(3, None))
    records = list(make_client(per_page=1).iter_records("things"))
    assert [r["id"] for r in records] == [1, 2, 3]
    assert stub.hits == [
        "/v1.0/things?per_page=1",
        "/v1.0/things?cursor=b",
        "/v1.0/things?cursor=c",
    ]


def test_page_links_change_only_the_page_number():
    base = "https://api.example/v1.0/schools/all?per_page=200&updated_after=2026-01-01"
    assert page_link(f"{base}&page=2", 5) == f"{base}&page=5"
    assert page_link("https://api.example/v1.0/schools/all?cursor=x", 5) is None
    assert page_link("https://api.example/v1.0/x?page=2&page=3", 5) is None


def test_the_gate_lets_through_at_most_its_limit():
    gate = pacing.Gate(2)
    inside, most, lock = [0], [0], threading.Lock()

    def request() -> None:
        with gate.request():
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            time.sleep(0.02)
            with lock:
                inside[0] -= 1

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most[0] == 2


def test_a_forked_process_gets_a_gate_of_its_own(monkeypatch):
    # The parent's threads hold every slot; the child has none of those threads.
    monkeypatch.setenv(pacing.CONCURRENCY_ENV, "1")
    with pacing.gate().request():

        def child_gets_a_slot() -> int:
            with pacing.gate().request():
                return 0

        assert exit_code_in_child(child_gets_a_slot, timeout=10) == 0


def test_a_rate_limit_holds_back_every_request_of_the_process(emu, make_client, monkeypatch):
    # Wonde's 429 with Retry-After on one request; another thread's request waits too.
    monkeypatch.setenv(pacing.CONCURRENCY_ENV, "3")
    control = EmulatorControl(emu)
    school = emu.school_ids()[0]
    control.fault(kind="status", status=429, retry_after=0.5, path_contains="/schools/all", times=1)
    limited = make_client(backoff_max=1.0)
    other = make_client()
    started = time.monotonic()
    first = threading.Thread(target=lambda: list(limited.iter_pages("schools/all")))
    first.start()
    # Until the limited client has read the 429 (the emulator's "fired" comes sooner).
    while not pacing.gate().paused_for() and time.monotonic() - started < 5:
        time.sleep(0.01)
    told_to_wait = time.monotonic()
    other.get(f"schools/{school}")
    answered = time.monotonic()
    first.join()
    assert answered - told_to_wait >= 0.3  # held back by the other request's Retry-After
