"""Admin CLI: ``python -m wonde_sync <command>``.

The database is the Airflow connection ``calm_db`` (e.g. ``AIRFLOW_CONN_CALM_DB``), or
the SQLAlchemy URL given with ``--db``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from wonde_sync.admin import cli_access, sites
from wonde_sync.catalog import queries
from wonde_sync.core import sync_history
from wonde_sync.core.database import (
    DatabaseConfigError,
    apply_schema,
    engine_for,
    engine_from_url,
    utcnow,
)
from wonde_sync.core.vocabulary import DIRECTORY_NOT_SYNCED, describe_age
from wonde_sync.school_access.status import read_statuses


def _parser() -> tuple[argparse.ArgumentParser, dict]:
    parser = argparse.ArgumentParser(
        prog="python -m wonde_sync",
        description="Administer the Wonde integration of CalmCompliance.",
    )
    parser.add_argument(
        "--db", metavar="URL", help="SQLAlchemy URL of the database (default: connection calm_db)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("init-db", help="create or upgrade the database schema")

    add = sub.add_parser("add-site", help="register a CalmCompliance site")
    add.add_argument("site_id")
    add.add_argument("--name", required=True, help="the site's display name")

    search = sub.add_parser("search", help="search the school catalog by name, postcode or URN")
    search.add_argument("query", nargs="+")
    search.add_argument("--limit", type=int, default=20)

    status = sub.add_parser("status", help="catalog state and each site's connection")
    status.add_argument("--site", help="only this site")

    history = sub.add_parser("history", help="show Sync History, newest first")
    history.add_argument("--site", help="only runs of this site")
    history.add_argument("--kind", help="only runs of this kind (e.g. catalog)")
    history.add_argument("--status", choices=sync_history.STATUSES)
    history.add_argument("--limit", type=int, default=20)
    return parser, cli_access.register(sub)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one admin command; return the process exit code."""
    parser, access_handlers = _parser()
    args = parser.parse_args(argv)
    try:
        engine = engine_from_url(args.db) if args.db else engine_for()
        if args.command == "init-db":
            applied = apply_schema(engine)
            print(f"Applied: {', '.join(applied)}" if applied else "The schema is up to date.")
            return 0
        handler = {
            "add-site": _add_site,
            "search": _search,
            "status": _status,
            "history": _history,
            **access_handlers,
        }[args.command]
        return handler(engine, args)
    except (DatabaseConfigError, queries.SearchQueryError, sites.SiteError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _add_site(engine, args) -> int:
    sites.add_site(engine, args.site_id, args.name)
    print(f"Added site {args.site_id.strip()} ({args.name.strip()}).")
    return 0


def _search(engine, args) -> int:
    results = queries.search(engine, " ".join(args.query), limit=args.limit)
    if not results:
        print("No schools found. Try searching by name, postcode, or URN.")
        return 0
    for r in results:
        address = ", ".join(p for p in (r["address_line_1"], r["address_town"], r["postcode"]) if p)
        print(f"{r['id']}  {r['name']}")
        print(
            f"    {address} | URN {r['urn'] or '-'} | LA {r['la_code'] or '-'} | "
            f"Est. {r['establishment_number'] or '-'} | {r['phase_of_education'] or '-'} | "
            f"MIS {r['mis'] or '-'}"
        )
    return 0


def _status(engine, args) -> int:
    meta = queries.latest_full_sync(engine)
    if meta is None:
        print(f"Catalog: {DIRECTORY_NOT_SYNCED}.")
    else:
        print(
            f"Catalog: {queries.catalog_count(engine)} schools; last full sync "
            f"{meta.finished_at:%Y-%m-%d %H:%M} UTC "
            f"({describe_age(utcnow() - meta.finished_at)} ago)."
        )
    statuses = read_statuses(engine, [args.site] if args.site else None)
    if args.site and not statuses:
        raise sites.SiteError(f"No site {args.site!r}.")
    if not statuses:
        print(cli_access.NO_SITES)
    for s in statuses:
        school = f" -> {s.school_name or s.school_id}" if s.school_id else ""
        enabled = "" if s.enabled is None else (" (enabled)" if s.enabled else " (disabled)")
        print(f"Site {s.site_id} ({s.site_name}){school}: {s.label}{enabled}")
    return 0


def _history(engine, args) -> int:
    runs = sync_history.list_runs(
        engine, site_id=args.site, kind=args.kind, status=args.status, limit=args.limit
    )
    if not runs:
        print("Sync History is empty.")
        return 0
    for run in runs:
        finished = f"{run.finished_at:%Y-%m-%d %H:%M:%S}" if run.finished_at else "-"
        counts = ", ".join(
            f"{name.removesuffix('_count')} {n}" for name, n in run.counts.items() if n
        )
        print(
            f"#{run.id} {run.kind} {run.site_id or '(catalog)'} {run.status} "
            f"started {run.started_at:%Y-%m-%d %H:%M:%S} finished {finished}"
            + (f" [{counts}]" if counts else "")
        )
        if run.message:
            print(f"    {run.message}")
    return 0
