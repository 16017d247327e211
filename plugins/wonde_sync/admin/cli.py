"""Admin CLI: ``python -m wonde_sync [--db URL] COMMAND``.

The database is the SQLAlchemy URL given with ``--db``, or the Airflow connection
``calm_db`` (e.g. ``AIRFLOW_CONN_CALM_DB``). Results go to stdout; logs, warnings and
errors to stderr. Exit codes: 0 done; 2 something the operator can correct (one
``error:`` line says how); 1 an unexpected failure (one line; ``--traceback`` shows it).

Libraries load only in the commands that need them: SQLAlchemy once a database is
opened, Airflow only for the ``calm_db`` connection (no ``--db``) or to call Wonde,
pydantic only to check an access request's contact, pandas never.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence

from wonde_sync.admin import cli_access, cli_changes
from wonde_sync.admin.cli_database import database_error, open_database
from wonde_sync.admin.cli_support import (
    PROG,
    CliError,
    Parser,
    bounded_int,
    one_line,
    operator_message,
    run_kind,
    run_status,
)

#: Most runs ``history`` lists at once; most schools ``search`` shows (the catalog's cap).
MAX_HISTORY = 1000
MAX_SEARCH = 50


def _parser() -> Parser:
    parser = Parser(prog=PROG, description="Administer the Wonde integration of CalmCompliance.")
    parser.add_argument(
        "--db",
        metavar="URL",
        help="database URL, sqlite:///PATH or postgresql://USER@HOST/DB "
        "(default: the Airflow connection calm_db)",
    )
    parser.add_argument(
        "--traceback", action="store_true", help="show the traceback of an unexpected failure"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("init-db", help="create the database (SQLite) and its schema, or upgrade it")

    add = sub.add_parser("add-site", help="register a CalmCompliance site")
    add.add_argument("site_id")
    add.add_argument("--name", required=True, help="the site's display name")

    search = sub.add_parser("search", help="search the school catalog by name, postcode or URN")
    search.add_argument("query", nargs="+", help="at least 2 characters")
    search.add_argument("--limit", type=bounded_int(1, MAX_SEARCH), default=20, help="1-50")

    status = sub.add_parser("status", help="catalog state and each site's connection")
    status.add_argument("--site", help="only this site")

    history = sub.add_parser("history", help="show Sync History, newest first")
    history.add_argument("--site", help="only runs of this site")
    history.add_argument(
        "--kind",
        type=run_kind,
        help="only runs of this kind: catalog, full_import, incremental_import, "
        "import_preview, undo",
    )
    history.add_argument(
        "--status",
        type=run_status,
        help="only runs with this status: Completed, Processing, Failed",
    )
    history.add_argument(
        "--limit", type=bounded_int(1, MAX_HISTORY), default=20, help="1-1000 (default 20)"
    )
    cli_access.register(sub)
    cli_changes.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one admin command; return the process exit code."""
    results = sys.stdout
    argv = list(sys.argv[1:] if argv is None else argv)
    # Bytes that are not UTF-8 arrive as lone surrogates, which no database can store.
    undecodable = next((a for a in argv if not _is_text(a)), None)
    if undecodable is not None:
        print(f"error: {undecodable!r} is not valid UTF-8 text: retype it", file=sys.stderr)
        return 2
    try:
        args = _parser().parse_args(argv)
    except SystemExit as done:  # --help, or an argument error already reported
        return done.code if isinstance(done.code, int) else 2
    try:
        # Only results reach stdout. Airflow, when imported, points its log handler at
        # whatever stdout is then: here, stderr.
        with contextlib.redirect_stdout(sys.stderr):
            lines = _run(args)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except CliError as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:
        message = operator_message(exc)
        if message is not None:
            print(f"error: {message}", file=sys.stderr)
            return 2
        if args.traceback:
            raise
        print(
            f"error: unexpected {type(exc).__name__}: {one_line(exc)} "
            f"(rerun with: {PROG} --traceback ... to see where)",
            file=sys.stderr,
        )
        return 1
    for line in lines:
        print(line, file=results)
    return 0


def _is_text(argument: str) -> bool:
    try:
        argument.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _run(args) -> list[str]:
    """Open the database, run the command; return the lines to print."""
    engine = open_database(args.db, create=args.command == "init-db")
    from sqlalchemy.exc import DBAPIError

    handler = {
        "init-db": _init_db,
        "add-site": _add_site,
        "search": _search,
        "status": _status,
        "history": _history,
        **cli_access.HANDLERS,
        **cli_changes.HANDLERS,
    }[args.command]
    try:
        return handler(engine, args)
    except DBAPIError as exc:
        raise database_error(engine, exc) from None
    finally:
        engine.dispose()


def _init_db(engine, args) -> list[str]:
    from wonde_sync.core.database import apply_schema, describe_database

    applied = apply_schema(engine)
    where = describe_database(engine.url)
    if not applied:
        return [f"The schema of {where} is up to date."]
    return [f"Created or upgraded {where}: applied {', '.join(applied)}."]


def _add_site(engine, args) -> list[str]:
    from wonde_sync.admin import sites

    sites.add_site(engine, args.site_id, args.name)
    return [f"Added site {args.site_id.strip()} ({args.name.strip()})."]


def _search(engine, args) -> list[str]:
    from wonde_sync.catalog import queries

    found = queries.search_schools(engine, " ".join(args.query), limit=args.limit)
    if not found.results:
        return [f"No schools found. {found.hint}."]
    lines = []
    for school in found.results:
        lines.append(f"{school.school_id}  {school.name}")
        lines.append(
            f"    {school.address or '-'} | URN {school.urn or '-'} | LA {school.la_code or '-'} "
            f"| Est. {school.establishment_number or '-'} | {school.phase or '-'} | "
            f"MIS {school.mis or '-'}"
        )
    return lines


def _status(engine, args) -> list[str]:
    from wonde_sync.admin import sites
    from wonde_sync.catalog import queries
    from wonde_sync.core.database import utcnow
    from wonde_sync.core.vocabulary import DIRECTORY_NOT_SYNCED, describe_age
    from wonde_sync.school_access.status import read_statuses

    if args.site is not None:
        sites.require_site(engine, args.site)
    meta = queries.latest_full_sync(engine)
    if meta is None:
        lines = [f"Catalog: {DIRECTORY_NOT_SYNCED}."]
    else:
        lines = [
            f"Catalog: {queries.catalog_count(engine)} schools; last full sync "
            f"{meta.finished_at:%Y-%m-%d %H:%M} UTC "
            f"({describe_age(utcnow() - meta.finished_at)} ago)."
        ]
    statuses = read_statuses(engine, [args.site] if args.site is not None else None)
    if not statuses:
        lines.append(cli_access.NO_SITES)
    for s in statuses:
        school = f" -> {s.school_name or s.school_id}" if s.school_id else ""
        enabled = "" if s.enabled is None else (" (enabled)" if s.enabled else " (disabled)")
        lines.append(f"Site {s.site_id} ({s.site_name}){school}: {s.label}{enabled}")
    return lines


def _history(engine, args) -> list[str]:
    from wonde_sync.admin import sites
    from wonde_sync.core import sync_history

    if args.site is not None:
        sites.require_site(engine, args.site)
    runs = sync_history.list_runs(
        engine, site_id=args.site, kind=args.kind, status=args.status, limit=args.limit
    )
    if not runs:
        return ["Sync History is empty." if not _filtered(args) else "No runs match."]
    lines = []
    for run in runs:
        finished = f"{run.finished_at:%Y-%m-%d %H:%M:%S}" if run.finished_at else "-"
        counts = ", ".join(
            f"{name.removesuffix('_count')} {n}" for name, n in run.counts.items() if n
        )
        who = f" {run.site_id}" if run.site_id else ""
        lines.append(
            f"#{run.id} {sync_history.kind_label(run.kind)}{who}: {run.status}, "
            f"started {run.started_at:%Y-%m-%d %H:%M:%S}, finished {finished}"
            f" (took {sync_history.duration_label(run)}; run type "
            f"{sync_history.run_type_label(run.run_type)}; window {sync_history.window_label(run)})"
            + (f" [{counts}]" if counts else "")
        )
        if run.message:
            lines.append(f"    {run.message}")
    return lines


def _filtered(args) -> bool:
    return any(v is not None for v in (args.site, args.kind, args.status))
