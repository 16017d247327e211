"""Run locks on PostgreSQL and SQLite: one holder at a time, gone with a killed process."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from wonde_sync.core import run_locks
from wonde_sync.core.database import engine_from_url
from wonde_sync.wonde.errors import PermanentError

REPO = Path(__file__).resolve().parents[2]

#: A worker that takes a lock, says so, and stays until it is killed.
HOLDER = """
import sys, time
from wonde_sync.core import run_locks
from wonde_sync.core.database import engine_from_url
with run_locks.held(engine_from_url(sys.argv[1]), sys.argv[2], holder="worker to kill", wait=10):
    print("held", flush=True)
    time.sleep(60)
"""


@pytest.fixture
def lock_engine(calm_db):
    """An engine on an empty database of each backend (locks need no schema)."""
    eng = engine_from_url(calm_db)
    yield eng
    eng.dispose()


def test_a_held_lock_keeps_others_out_until_released(lock_engine):
    with run_locks.held(lock_engine, "site:a", holder="first run") as lock:
        assert (lock.key, lock.waited, lock.holder_seen) == ("site:a", 0.0, None)
        with pytest.raises(run_locks.LockTimeout) as refused:
            with run_locks.held(lock_engine, "site:a", holder="second run", wait=0.3, poll=0.05):
                pytest.fail("two holders at once")
        # Another piece of work is not blocked.
        with run_locks.held(lock_engine, "site:b", holder="other site", wait=0):
            pass
    error = refused.value
    assert error.key == "site:a" and error.waited >= 0.3
    assert error.holder.startswith(f"first run (pid {os.getpid()} on ")
    assert "site:a lock is still held by first run" in str(error)
    # Retryable: not one of the failures a retry cannot fix.
    assert isinstance(error, Exception) and not isinstance(error, PermanentError)
    with run_locks.held(lock_engine, "site:a", holder="after release", wait=0):
        pass


def test_a_waiting_run_gets_the_lock_when_the_holder_ends_and_logs_once(lock_engine, caplog):
    taken, release = threading.Event(), threading.Event()

    def hold() -> None:
        with run_locks.held(lock_engine, "catalog", holder="publishing run 7"):
            taken.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    assert taken.wait(5)
    threading.Timer(0.5, release.set).start()
    with caplog.at_level(logging.INFO, logger=run_locks.__name__):
        with run_locks.held(lock_engine, "catalog", holder="next run", wait=5, poll=0.05) as lock:
            assert release.is_set()  # only once the holder let go
    holder.join(5)
    assert lock.waited >= 0.4 and lock.holder_seen.startswith("publishing run 7 (pid ")
    waiting = [r for r in caplog.records if r.getMessage().startswith("Waiting")]
    assert len(waiting) == 1 and "held by publishing run 7" in waiting[0].getMessage()


def test_threads_never_hold_a_lock_together(lock_engine):
    inside, most, done = [0], [0], []
    count = threading.Lock()

    def work(n: int) -> None:
        for i in range(4):
            with run_locks.held(lock_engine, "site:x", holder=f"t{n}", wait=10, poll=0.01):
                with count:
                    inside[0] += 1
                    most[0] = max(most[0], inside[0])
                time.sleep(0.01)
                with count:
                    inside[0] -= 1
                done.append((n, i))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(done) == 16 and most[0] == 1


def test_a_killed_holder_releases_the_lock(lock_engine):
    url = lock_engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "PYTHONPATH": str(REPO / "plugins")}
    worker = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, "site:killed"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert worker.stdout.readline().strip() == "held"
        # Another process cannot take it while the worker lives.
        with pytest.raises(run_locks.LockTimeout) as refused:
            with run_locks.held(lock_engine, "site:killed", holder="me", wait=0.2, poll=0.05):
                pytest.fail("two processes hold one lock")
        assert refused.value.holder.startswith(f"worker to kill (pid {worker.pid} on ")
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
        with run_locks.held(lock_engine, "site:killed", holder="me", wait=5, poll=0.05) as lock:
            assert lock.waited < 5
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
        worker.stdout.close()


def test_the_wait_bound_comes_from_the_environment(lock_engine, monkeypatch):
    monkeypatch.setenv(run_locks.WAIT_ENV, "0.2")
    assert run_locks.wait_bound() == 0.2
    with run_locks.held(lock_engine, "site:w", holder="holder"):
        started = time.monotonic()
        with pytest.raises(run_locks.LockTimeout):
            with run_locks.held(lock_engine, "site:w", holder="waiter", poll=0.05):
                pass
        assert 0.2 <= time.monotonic() - started < 2
    monkeypatch.setenv(run_locks.WAIT_ENV, "soon")
    assert run_locks.wait_bound() == run_locks.DEFAULT_WAIT_SECONDS
    monkeypatch.delenv(run_locks.WAIT_ENV)
    assert run_locks.wait_bound() == run_locks.DEFAULT_WAIT_SECONDS


def test_lock_keys_are_stable_and_sqlite_locks_sit_next_to_the_database(tmp_path):
    assert run_locks.lock_number("site:a") == run_locks.lock_number("site:a")
    assert run_locks.lock_number("site:a") != run_locks.lock_number("site:b")
    assert -(2**63) <= run_locks.lock_number("catalog") < 2**63
    engine = engine_from_url(f"sqlite:///{tmp_path / 'calm.db'}")
    path = run_locks.lock_file(engine, "site:Ashdown/../x")
    assert path.parent == tmp_path / "calm.db.locks"
    assert path.name.startswith("site_Ashdown_.._x-") and path.suffix == ".lock"
    engine.dispose()
