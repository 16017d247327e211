"""The change log on the admin CLI: ``changes RUN_ID``, ``person SITE NAME_OR_ID``, and
``preview-import SITE`` (a site's import as a preview, calling Wonde), ``approve-run RUN_ID``
(apply the plan of a run the mass-archive guard held) and ``undo-run RUN_ID``.

:func:`register` adds the subcommands; :data:`HANDLERS` maps each to its handler, which
takes ``(engine, args)`` and returns the lines to print.
"""

from __future__ import annotations

import argparse

from wonde_sync.admin.cli_support import CliError, bounded_int
from wonde_sync.core.vocabulary import CHANGE_ACTIONS as ACTIONS


def _action(text: str) -> str:
    value = text.strip().lower()
    if value not in ACTIONS:
        raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(ACTIONS)}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``changes`` and ``person``."""
    changes = subparsers.add_parser(
        "changes", help="what one run changed, person by person, and why"
    )
    changes.add_argument("run_id", type=bounded_int(1, 2**63 - 1), help="a run id from history")
    changes.add_argument("--action", type=_action, help=", ".join(ACTIONS))
    changes.add_argument("--reason", help="a reason code, e.g. suspended or not_in_mis")
    changes.add_argument("--search", help="only people whose name contains this")
    changes.add_argument(
        "--limit", type=bounded_int(1, 5000), default=1000, help="1-5000 (default 1000)"
    )
    person = subparsers.add_parser("person", help="one person's changes across runs, newest first")
    person.add_argument("site_id")
    person.add_argument("name_or_id", help="a name (or part of it), a Wonde id or a row id")
    preview = subparsers.add_parser(
        "preview-import",
        help="run a site's import as a preview: log what it would change, change nobody",
    )
    preview.add_argument("site_id")
    preview.add_argument("--full", action="store_true", help="preview a full import")
    approve = subparsers.add_parser(
        "approve-run", help="apply exactly the plan of a run the mass-archive guard held"
    )
    approve.add_argument("run_id", type=bounded_int(1, 2**63 - 1), help="the held run's id")
    undo = subparsers.add_parser(
        "undo-run", help="revert a completed import's changes, person by person"
    )
    undo.add_argument("run_id", type=bounded_int(1, 2**63 - 1), help="a run id from history")


def _describe(change) -> list[str]:
    why = f" ({change.reason})" if change.reason else ""
    plan = " [planned, not applied]" if change.planned else ""
    head = (
        f"{change.action}{why}{plan}: {change.name} "
        f"({change.record_type} {change.external_id}"
        + (f", row {change.person_id})" if change.person_id else ")")
    )
    fields = change.fields_text()
    return [head] + ([f"    {fields}"] if fields else [])


def _changes(engine, args) -> list[str]:
    from wonde_sync.core import sync_history
    from wonde_sync.monitoring import changes

    try:
        run = sync_history.get_run(engine, args.run_id)
    except LookupError:
        raise CliError(f"No run #{args.run_id}: `history` lists the runs.") from None
    found = changes.run_changes(
        engine,
        args.run_id,
        action=args.action,
        reason=args.reason,
        search=args.search,
        limit=args.limit,
    )
    who = f" of {run.site_id}" if run.site_id else ""
    lines = [
        f"Run #{run.id} ({sync_history.kind_label(run.kind)}{who}, {run.status}): "
        f"{len(found)} change{'s' if len(found) != 1 else ''} shown."
    ]
    for change in found:
        lines.extend(_describe(change))
    return lines


def _person(engine, args) -> list[str]:
    from wonde_sync.admin import sites
    from wonde_sync.monitoring import changes

    sites.require_site(engine, args.site_id)
    if len(args.name_or_id.strip()) < 2:
        raise CliError("Give at least 2 characters of a name, or a Wonde id.")
    from wonde_sync.core.vocabulary import reason_label

    found = changes.person_history(engine, args.site_id, args.name_or_id)
    never = changes.never_imported(engine, args.site_id, args.name_or_id)
    if not found and not never:
        return [
            f"No change of site {args.site_id} names {args.name_or_id.strip()!r}, and no "
            "import read such a person from Wonde: imports never created, changed or "
            "archived them, nor left them out."
        ]
    lines = [
        f"never imported: {p.name} ({p.record_type} {p.external_id}): {reason_label(p.reason)}; "
        f"last seen in the MIS {p.last_seen_at:%Y-%m-%d %H:%M} by run #{p.last_run_id}, "
        f"first by run #{p.first_run_id}"
        for p in never
    ]
    for change in found:
        at = f"{change.at:%Y-%m-%d %H:%M}" if change.at else "-"
        first, *rest = _describe(change)
        lines.append(f"{at} run #{change.run_id} {first}")
        lines.extend(rest)
    return lines


def _preview(engine, args) -> list[str]:
    from wonde_sync.admin import sites
    from wonde_sync.admin.cli_database import wonde_client
    from wonde_sync.core import run_locks
    from wonde_sync.people.importer import ImportOptions, import_site
    from wonde_sync.school_access.import_targets import import_target

    sites.require_site(engine, args.site_id)
    client = wonde_client()
    # Under the site's lock, like every import of the site, so that it reads a settled state.
    with run_locks.held(engine, run_locks.site_key(args.site_id), holder="CLI preview-import"):
        with engine.begin() as conn:
            target = import_target(conn, args.site_id)
        if target is None:
            raise CliError(
                f"Site {args.site_id} has no connection to import from (enabled, approved, with "
                "a school token): `connection-status` shows what it needs."
            )
        summary = import_site(engine, client, target, ImportOptions(full=args.full, dry_run=True))
    return [
        f"Run #{summary['run_id']}: {summary['message']}",
        f"Its planned changes: python -m wonde_sync changes {summary['run_id']}",
    ]


def _approve(engine, args) -> list[str]:
    from wonde_sync.people.approval import ApprovalRefused, approve_run

    try:
        approval, applied = approve_run(engine, args.run_id)
    except ApprovalRefused as exc:
        raise CliError(str(exc)) from None
    return [
        f"Run #{approval}: applied the {applied} planned change(s) of run #{args.run_id}.",
        f"They are listed by: python -m wonde_sync changes {approval}",
    ]


def _undo(engine, args) -> list[str]:
    from wonde_sync.people.undo import UndoRefused, undo_run

    try:
        report = undo_run(engine, args.run_id)
    except UndoRefused as exc:
        raise CliError(str(exc)) from None
    lines = [f"Run #{report.undo_run_id}: {report.message()}"]
    for record_type, external_id, name, why in report.refused:
        lines.append(f"    left alone: {name} ({record_type} {external_id}): {why}")
    return lines


HANDLERS = {
    "changes": _changes,
    "person": _person,
    "preview-import": _preview,
    "approve-run": _approve,
    "undo-run": _undo,
}
