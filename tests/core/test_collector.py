"""The collector is kept out of the way while rows are built, and put back afterwards."""

from __future__ import annotations

import gc
import threading

import pytest

from wonde_sync.core import collector


def test_inside_collections_are_rare_and_afterwards_as_before():
    before = gc.get_threshold()
    with collector.bulk_rows():
        assert gc.get_threshold()[0] == collector.BULK_THRESHOLD
        assert gc.get_freeze_count() > 0  # what was alive is left out of the walks
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_the_last_of_several_threads_puts_it_back():
    before = gc.get_threshold()
    entered, leave = threading.Event(), threading.Event()

    def other() -> None:
        with collector.bulk_rows():
            entered.set()
            leave.wait(10)

    thread = threading.Thread(target=other)
    thread.start()
    assert entered.wait(10)
    with collector.bulk_rows():
        pass
    assert gc.get_threshold()[0] == collector.BULK_THRESHOLD  # the other thread is inside
    leave.set()
    thread.join(10)
    assert gc.get_threshold() == before


def test_an_error_inside_puts_it_back():
    before = gc.get_threshold()
    with pytest.raises(ValueError), collector.bulk_rows():
        raise ValueError("a bad page")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
