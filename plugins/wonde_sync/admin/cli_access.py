"""Admin CLI commands for sites' school access and API access (``python -m wonde_sync ...``).

:func:`register` adds the subcommands to the CLI's subparsers and returns their handlers::

    handlers.update(cli_access.register(sub))
    ...
    return handlers[args.command](engine, args)

Each handler takes ``(engine, args)`` and returns the exit code: 0, or 2 with
``error: <message>`` on stderr for anything the operator can correct.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable

from sqlalchemy.engine import Engine

from wonde_sync.admin import api_tokens
from wonde_sync.school_access import admin_actions
from wonde_sync.school_access.contact_form import ContactValidationError
from wonde_sync.school_access.errors import AccessLifecycleError
from wonde_sync.school_access.reconcile import reconcile
from wonde_sync.school_access.rows import SOURCE_CLI
from wonde_sync.school_access.status import AccessStatus, access_status, read_statuses
from wonde_sync.school_access.token_vault import TokenVaultError
from wonde_sync.wonde.errors import WondeError

Handler = Callable[[Engine, argparse.Namespace], int]

NO_SITES = "Sites: none yet (add one with: python -m wonde_sync add-site SITE_ID --name NAME)."

_OPERATOR_ERRORS = (
    AccessLifecycleError,
    ContactValidationError,
    api_tokens.ApiTokenError,
    WondeError,
    TokenVaultError,
)


def register(subparsers: argparse._SubParsersAction) -> dict[str, Handler]:
    """Add the school-access and API-access subcommands; return command name → handler."""
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

    handlers = {
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
    return {name: _reporting_errors(handler) for name, handler in handlers.items()}


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


def _reporting_errors(handler: Handler) -> Handler:
    @functools.wraps(handler)
    def run(engine: Engine, args: argparse.Namespace) -> int:
        try:
            return handler(engine, args)
        except _OPERATOR_ERRORS as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2

    return run


def _contact(args: argparse.Namespace) -> dict | None:
    given = {
        "first_name": args.first_name,
        "last_name": args.last_name,
        "email": args.email,
        "phone": args.phone,
        "notes": args.notes,
    }
    return given if any(value is not None for value in given.values()) else None


def _client():
    from wonde_sync.wonde.client import WondeClient

    return WondeClient()


def _print_status(status: AccessStatus) -> None:
    if status.school_id is None:
        print(f"Site {status.site_id} ({status.site_name}): {status.label}")
    else:
        school = (
            f"{status.school_name} ({status.school_id})"
            if status.school_name
            else (status.school_id)
        )
        enabled = "enabled" if status.enabled else "disabled"
        print(f"Site {status.site_id} ({status.site_name}): {status.label} - {school}, {enabled}")
    print(f"    {status.detail}")
    if status.actions:
        print(f"    Actions: {', '.join(status.actions)}")


def _request_access(engine: Engine, args: argparse.Namespace) -> int:
    status = admin_actions.request_access(
        engine,
        _client(),
        args.site_id,
        args.school_id,
        _contact(args) or {},
        actor=args.actor,
        source=SOURCE_CLI,
    )
    _print_status(status)
    return 0


def _revoke_and_rerequest(engine: Engine, args: argparse.Namespace) -> int:
    status = admin_actions.revoke_and_rerequest(
        engine,
        _client(),
        args.site_id,
        _contact(args),
        actor=args.actor,
        source=SOURCE_CLI,
    )
    _print_status(status)
    return 0


def _access_status(engine: Engine, args: argparse.Namespace) -> int:
    if args.site:
        statuses = [access_status(engine, args.site)]
    else:
        statuses = read_statuses(engine)
    if not statuses:
        print(NO_SITES)
    for status in statuses:
        _print_status(status)
    return 0


def _set_enabled(engine: Engine, args: argparse.Namespace, *, enabled: bool) -> int:
    status = admin_actions.set_enabled(
        engine, args.site_id, enabled, actor=args.actor, source=SOURCE_CLI
    )
    _print_status(status)
    return 0


def _reconcile(engine: Engine, args: argparse.Namespace) -> int:
    result = reconcile(engine, _client())
    print(f"Reconciled with Wonde: {result}.")
    return 0


def _create_api_token(engine: Engine, args: argparse.Namespace) -> int:
    issued = api_tokens.create_api_token(engine, args.user_id, label=args.label)
    print(f"API token {issued.token_id} for {issued.user_id} (shown once, store it now):")
    print(issued.token)
    return 0


def _revoke_api_token(engine: Engine, args: argparse.Namespace) -> int:
    api_tokens.revoke_api_token(engine, args.token_id)
    print(f"API token {args.token_id} revoked.")
    return 0


def _list_api_tokens(engine: Engine, args: argparse.Namespace) -> int:
    tokens = api_tokens.list_api_tokens(engine, args.user)
    if not tokens:
        print("No API tokens.")
    for info in tokens:
        state = f"revoked {info.revoked_at:%Y-%m-%d %H:%M}" if info.revoked_at else "active"
        used = f"{info.last_used_at:%Y-%m-%d %H:%M}" if info.last_used_at else "never"
        print(
            f"#{info.token_id} {info.user_id} {info.label or '-'} {state}, "
            f"created {info.created_at:%Y-%m-%d %H:%M}, last used {used}"
        )
    return 0


def _grant_site_admin(engine: Engine, args: argparse.Namespace) -> int:
    added = api_tokens.grant_site_admin(engine, args.user_id, args.site_id)
    verb = "is now" if added else "was already"
    print(f"{args.user_id.strip()} {verb} an admin of site {args.site_id}.")
    return 0


def _revoke_site_admin(engine: Engine, args: argparse.Namespace) -> int:
    removed = api_tokens.revoke_site_admin(engine, args.user_id, args.site_id)
    verb = "is no longer" if removed else "was not"
    print(f"{args.user_id} {verb} an admin of site {args.site_id}.")
    return 0
