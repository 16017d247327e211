"""Admin CLI commands for sites' school access and API access (``python -m wonde_sync ...``).

:func:`register` adds the subcommands to the CLI's subparsers; :data:`HANDLERS` maps each
command to its handler. A handler takes ``(engine, args)`` and returns the lines to print;
errors are raised (the CLI turns them into one ``error:`` line and exit code 2).
Everything heavy (pydantic, Airflow, the Wonde client) is imported inside the handlers.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from typing import Any

from wonde_sync.admin.cli_database import wonde_client
from wonde_sync.admin.cli_support import PROG

Handler = Callable[[Any, argparse.Namespace], list[str]]

NO_SITES = f"Sites: none yet (add one with: {PROG} add-site SITE_ID --name NAME)."


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the school-access and API-access subcommands (handled by :data:`HANDLERS`)."""
    request = subparsers.add_parser(
        "request-access", help="request access to a school for a site (it becomes pending)"
    )
    request.add_argument("site_id")
    request.add_argument("school_id", help="Wonde school id, as shown by search")
    _contact_arguments(request, required=True)

    again = subparsers.add_parser(
        "revoke-and-rerequest",
        help="revoke the site's school on Wonde and request access again "
        "(for School Already Approved)",
    )
    again.add_argument("site_id")
    _contact_arguments(again, required=False)

    status = subparsers.add_parser(
        "connection-status", help="each site's connection: state, explanation, actions"
    )
    status.add_argument("--site", help="only this site")

    for name, what in (("enable", "on"), ("disable", "off")):
        toggle = subparsers.add_parser(name, help=f"turn imports {what} for a site's connection")
        toggle.add_argument("site_id")
        toggle.add_argument("--as", dest="actor", default="cli", help="who is acting (history)")

    subparsers.add_parser(
        "reconcile-connections", help="refresh every connection from Wonde's access lists"
    )

    token = subparsers.add_parser(
        "create-api-token", help="create an API service token for a user (shown once)"
    )
    token.add_argument("user_id")
    token.add_argument("--label", help="what the token is for, e.g. 'web app production'")

    revoke = subparsers.add_parser("revoke-api-token", help="revoke an API service token")
    revoke.add_argument("token_id", type=int)

    tokens = subparsers.add_parser("list-api-tokens", help="API service tokens (not the secrets)")
    tokens.add_argument("--user", help="only this user's tokens")

    grant = subparsers.add_parser("grant-site-admin", help="let a user manage a site's connection")
    grant.add_argument("user_id")
    grant.add_argument("site_id")

    ungrant = subparsers.add_parser("revoke-site-admin", help="remove a user's admin of a site")
    ungrant.add_argument("user_id")
    ungrant.add_argument("site_id")


def _contact_arguments(parser: argparse.ArgumentParser, *, required: bool) -> None:
    contact = parser.add_argument_group(
        "contact at the school" + ("" if required else " (default: the previous request's)")
    )
    contact.add_argument("--first-name", required=required)
    contact.add_argument("--last-name", required=required)
    contact.add_argument("--email", required=required)
    contact.add_argument("--phone")
    contact.add_argument("--notes")
    parser.add_argument("--as", dest="actor", default="cli", help="who is acting (history)")


def _contact(args: argparse.Namespace) -> dict | None:
    given = {
        "first_name": args.first_name,
        "last_name": args.last_name,
        "email": args.email,
        "phone": args.phone,
        "notes": args.notes,
    }
    return given if any(value is not None for value in given.values()) else None


def _require_site(engine: Any, site_id: str) -> None:
    from wonde_sync.admin import sites

    sites.require_site(engine, site_id)


def status_lines(status: Any) -> list[str]:
    """A site's access as its admin reads it: state, explanation, actions and their commands."""
    from wonde_sync.school_access.status import action_label

    head = f"Site {status.site_id} ({status.site_name}): {status.label}"
    if status.school_id is not None:
        school = (
            f"{status.school_name} ({status.school_id})" if status.school_name else status.school_id
        )
        head += f" - {school}, {'enabled' if status.enabled else 'disabled'}"
    lines = [head, f"    {status.detail}"]
    if status.actions:
        # Each action is the command of the same name, e.g. revoke_and_rerequest.
        actions = ", ".join(f"{action_label(a)} [{a.replace('_', '-')}]" for a in status.actions)
        lines.append(f"    Actions: {actions}")
    return lines


def _request_access(engine: Any, args: argparse.Namespace) -> list[str]:
    from wonde_sync.school_access import admin_actions
    from wonde_sync.school_access.contact_form import AccessRequestContact
    from wonde_sync.school_access.rows import SOURCE_CLI

    # What can be checked here is, before Airflow is loaded and Wonde called.
    contact = AccessRequestContact.parse(_contact(args) or {})
    _require_site(engine, args.site_id)
    status = admin_actions.request_access(
        engine,
        wonde_client(),
        args.site_id,
        args.school_id,
        contact,
        actor=args.actor,
        source=SOURCE_CLI,
    )
    return status_lines(status)


def _revoke_and_rerequest(engine: Any, args: argparse.Namespace) -> list[str]:
    from wonde_sync.school_access import admin_actions
    from wonde_sync.school_access.rows import SOURCE_CLI

    _require_site(engine, args.site_id)
    status = admin_actions.revoke_and_rerequest(
        engine, wonde_client(), args.site_id, _contact(args), actor=args.actor, source=SOURCE_CLI
    )
    return status_lines(status)


def _access_status(engine: Any, args: argparse.Namespace) -> list[str]:
    from wonde_sync.school_access.status import access_status, read_statuses

    statuses = [access_status(engine, args.site)] if args.site else read_statuses(engine)
    if not statuses:
        return [NO_SITES]
    return [line for status in statuses for line in status_lines(status)]


def _set_enabled(engine: Any, args: argparse.Namespace, *, enabled: bool) -> list[str]:
    from wonde_sync.school_access import admin_actions
    from wonde_sync.school_access.rows import SOURCE_CLI

    status = admin_actions.set_enabled(
        engine, args.site_id, enabled, actor=args.actor, source=SOURCE_CLI
    )
    return status_lines(status)


def _reconcile(engine: Any, args: argparse.Namespace) -> list[str]:
    from wonde_sync.school_access.reconcile import reconcile
    from wonde_sync.school_access.status import read_statuses

    client = wonde_client()
    connected = [s.site_id for s in read_statuses(engine) if s.school_id is not None]
    return [reconcile_summary(reconcile(engine, client), connected)]


def reconcile_summary(result: Any, connected: list[str]) -> str:
    """What one reconciliation did, each site once: its move, or that nothing changed.

    ``connected``: the sites with a school before it ran. Approvals that reached the
    product otherwise (webhooks) are not this run's doing, so they are not reported here.
    """
    from wonde_sync.school_access.status import LABELS

    if not result.checked:
        return "No site is connected to a school yet: nothing to check."
    noun = "connection" if result.checked == 1 else "connections"
    parts = [f"{c.site_id} {LABELS[c.before]} -> {LABELS[c.after]}" for c in result.changes]
    left = set(result.changed) | set(result.not_listed) | set(result.skipped)
    unchanged = [site_id for site_id in connected if site_id not in left]
    if unchanged:
        parts.append(f"no change for {', '.join(unchanged)}")
    if result.not_listed:
        parts.append(f"on no Wonde list, left as they were: {', '.join(result.not_listed)}")
    if result.skipped:
        parts.append(f"changed meanwhile, checked next time: {', '.join(result.skipped)}")
    return f"Checked {result.checked} {noun}: {'; '.join(parts)}."


def _create_api_token(engine: Any, args: argparse.Namespace) -> list[str]:
    from wonde_sync.admin import api_tokens

    issued = api_tokens.create_api_token(engine, args.user_id, label=args.label)
    return [
        f"API token {issued.token_id} for {issued.user_id} (shown once, store it now):",
        issued.token,
    ]


def _revoke_api_token(engine: Any, args: argparse.Namespace) -> list[str]:
    from wonde_sync.admin import api_tokens

    api_tokens.revoke_api_token(engine, args.token_id)
    return [f"API token {args.token_id} revoked."]


def _list_api_tokens(engine: Any, args: argparse.Namespace) -> list[str]:
    from wonde_sync.admin import api_tokens

    tokens = api_tokens.list_api_tokens(engine, args.user)
    if not tokens:
        return ["No API tokens."]
    lines = []
    for info in tokens:
        state = f"revoked {info.revoked_at:%Y-%m-%d %H:%M}" if info.revoked_at else "active"
        used = f"{info.last_used_at:%Y-%m-%d %H:%M}" if info.last_used_at else "never"
        lines.append(
            f"#{info.token_id} {info.user_id} {info.label or '-'} {state}, "
            f"created {info.created_at:%Y-%m-%d %H:%M}, last used {used}"
        )
    return lines


def _grant_site_admin(engine: Any, args: argparse.Namespace) -> list[str]:
    from wonde_sync.admin import api_tokens

    added = api_tokens.grant_site_admin(engine, args.user_id, args.site_id)
    verb = "is now" if added else "was already"
    return [f"{args.user_id.strip()} {verb} an admin of site {args.site_id}."]


def _revoke_site_admin(engine: Any, args: argparse.Namespace) -> list[str]:
    from wonde_sync.admin import api_tokens

    _require_site(engine, args.site_id)
    removed = api_tokens.revoke_site_admin(engine, args.user_id, args.site_id)
    verb = "is no longer" if removed else "was not"
    return [f"{args.user_id} {verb} an admin of site {args.site_id}."]


#: Command name -> handler.
HANDLERS: dict[str, Handler] = {
    "request-access": _request_access,
    "revoke-and-rerequest": _revoke_and_rerequest,
    "connection-status": _access_status,
    "enable": functools.partial(_set_enabled, enabled=True),
    "disable": functools.partial(_set_enabled, enabled=False),
    "reconcile-connections": _reconcile,
    "create-api-token": _create_api_token,
    "revoke-api-token": _revoke_api_token,
    "list-api-tokens": _list_api_tokens,
    "grant-site-admin": _grant_site_admin,
    "revoke-site-admin": _revoke_site_admin,
}
