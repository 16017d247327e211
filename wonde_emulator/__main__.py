"""Command line: ``python -m wonde_emulator --port P --schools N ...``; serves until stopped."""

from __future__ import annotations

import argparse
import signal
import threading

from .emulator import Emulator


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command-line options."""
    parser = argparse.ArgumentParser(
        prog="python -m wonde_emulator", description="Serve a local fake of the Wonde API."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind")
    parser.add_argument("--port", type=int, default=0, help="port (0 picks a free one)")
    parser.add_argument("--schools", type=int, default=100)
    parser.add_argument("--staff-per-school", type=int, default=20)
    parser.add_argument("--students-per-school", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--token", default="app-token", help="application token")
    parser.add_argument(
        "--approved",
        type=int,
        default=3,
        help="how many leading schools start approved and audited",
    )
    parser.add_argument("--max-per-page", type=int, default=200)
    parser.add_argument(
        "--domain", default=None, help="region.domain of GBR schools (default host:port)"
    )
    parser.add_argument(
        "--aus-domain", default=None, help="region.domain of AUS schools (default localhost:port)"
    )
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds every Wonde API answer waits"
    )
    parser.add_argument(
        "--jitter", type=float, default=0.0, help="up to this many seconds more, at random"
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Start the emulator and block until Ctrl-C or SIGTERM."""
    args = parse_args(argv)
    emulator = Emulator(
        schools=args.schools,
        staff_per_school=args.staff_per_school,
        students_per_school=args.students_per_school,
        seed=args.seed,
        token=args.token,
        max_per_page=args.max_per_page,
        approved=args.approved,
        host=args.host,
        port=args.port,
        domain=args.domain,
        aus_domain=args.aus_domain,
        verbose=args.verbose,
        latency=args.latency,
        jitter=args.jitter,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    emulator.start()
    print(
        f"Wonde emulator on {emulator.base_url} ({args.schools} schools, token {args.token})",
        flush=True,
    )
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()
