"""Who may call the school-access API: service tokens and site admins.

* A **service token** belongs to one user (the CalmCompliance user id the web app acts
  for). It is a random string shown once when created (``cwt_`` + 43 url-safe characters);
  only its SHA-256 is stored (``wonde_api_tokens``), so a database leak reveals no usable
  token. Callers send it as ``Authorization: Bearer <token>``. Tokens can be revoked.
* A **site admin** (``wonde_site_admins``) may request, revoke, re-request, enable or
  disable, and read the status of that site's access to its school, and nothing of any
  other site.

Operators create both with the admin CLI (``create-api-token USER``,
``grant-site-admin USER SITE``) or these functions.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from wonde_sync.core.database import as_utc, table, utcnow

log = logging.getLogger(__name__)

TOKEN_PREFIX = "cwt_"
_USER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}$")
# last_used_at is bookkeeping: refreshing it at most once a minute keeps reads cheap.
_LAST_USED_PRECISION = timedelta(minutes=1)


class ApiTokenError(ValueError):
    """A token or admin grant that cannot be created, found or revoked."""


@dataclass(frozen=True)
class Caller:
    """An authenticated API caller (not yet known to be allowed on the route it called)."""

    user_id: str
    token_id: int
    #: When the token was last used for an allowed call, as read on authentication.
    last_used_at: datetime | None = field(default=None, compare=False)


@dataclass(frozen=True)
class IssuedToken:
    """A new service token. ``token`` is shown once and cannot be recovered later."""

    token_id: int
    user_id: str
    label: str | None
    token: str

    def __repr__(self) -> str:
        return f"IssuedToken(token_id={self.token_id}, user_id={self.user_id!r}, token=***)"


@dataclass(frozen=True)
class TokenInfo:
    """A stored token, without the secret."""

    token_id: int
    user_id: str
    label: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_user_id(user_id: str) -> str:
    """The user id, stripped; :class:`ApiTokenError` unless 1-128 safe characters."""
    text = (user_id or "").strip()
    if not _USER_ID.match(text):
        raise ApiTokenError(
            f"Invalid user id {text!r}: use 1-128 letters, digits, '.', '_', '@', '+' or '-', "
            "starting with a letter or digit."
        )
    return text


def create_api_token(engine: Engine, user_id: str, *, label: str | None = None) -> IssuedToken:
    """Create a service token for ``user_id``; the returned token is the only copy."""
    user_id = check_user_id(user_id)
    label = (label or "").strip() or None
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    tokens = table("wonde_api_tokens")
    with engine.begin() as conn:
        token_id = conn.execute(
            sa.insert(tokens)
            .values(user_id=user_id, token_sha256=_digest(token), label=label, created_at=utcnow())
            .returning(tokens.c.id)
        ).scalar_one()
    return IssuedToken(token_id=token_id, user_id=user_id, label=label, token=token)


def revoke_api_token(engine: Engine, token_id: int) -> None:
    """Revoke a token by id (it stops working at once); revoking twice is harmless."""
    tokens = table("wonde_api_tokens")
    with engine.begin() as conn:
        found = conn.execute(sa.select(tokens.c.id).where(tokens.c.id == token_id)).first()
        if found is None:
            raise ApiTokenError(f"No API token {token_id}.")
        conn.execute(
            sa.update(tokens)
            .where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )


def list_api_tokens(engine: Engine, user_id: str | None = None) -> list[TokenInfo]:
    """Stored tokens (never the secrets), newest first, optionally of one user."""
    tokens = table("wonde_api_tokens")
    query = sa.select(tokens).order_by(tokens.c.id.desc())
    if user_id is not None:
        query = query.where(tokens.c.user_id == user_id)
    with engine.connect() as conn:
        return [
            TokenInfo(
                token_id=row["id"],
                user_id=row["user_id"],
                label=row["label"],
                created_at=as_utc(row["created_at"]),
                last_used_at=as_utc(row["last_used_at"]),
                revoked_at=as_utc(row["revoked_at"]),
            )
            for row in conn.execute(query).mappings()
        ]


def authenticate(engine: Engine, token: str | None) -> Caller | None:
    """The caller a presented token belongs to, or None (unknown, revoked or missing).

    Nothing is written: whether the call is allowed is decided later, and only an allowed
    call counts as a use (:func:`record_use`).
    """
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    tokens = table("wonde_api_tokens")
    digest = _digest(token)
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(tokens.c.id, tokens.c.user_id, tokens.c.last_used_at).where(
                tokens.c.token_sha256 == digest, tokens.c.revoked_at.is_(None)
            )
        ).first()
    if row is None:
        return None
    return Caller(user_id=row.user_id, token_id=row.id, last_used_at=as_utc(row.last_used_at))


def record_use(engine: Engine, caller: Caller) -> bool:
    """Note that ``caller``'s token served an allowed call (``last_used_at``, at most once a
    minute); True if it was written. A database error is logged, never raised: the answer
    has been given already."""
    now = utcnow()
    if caller.last_used_at is not None and now - caller.last_used_at < _LAST_USED_PRECISION:
        return False
    tokens = table("wonde_api_tokens")
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.update(tokens).where(tokens.c.id == caller.token_id).values(last_used_at=now)
            )
    except sa.exc.SQLAlchemyError as exc:
        log.warning(
            "Could not record the use of API token %s: %s", caller.token_id, type(exc).__name__
        )
        return False
    return True


def grant_site_admin(engine: Engine, user_id: str, site_id: str) -> bool:
    """Make ``user_id`` an admin of ``site_id``; False when it already was."""
    user_id = check_user_id(user_id)
    sites = table("sites")
    admins = table("wonde_site_admins")
    with engine.begin() as conn:
        site = conn.execute(sa.select(sites.c.site_id).where(sites.c.site_id == site_id)).first()
        if site is None:
            raise ApiTokenError(f"No site {site_id!r}.")
        exists = conn.execute(
            sa.select(admins.c.user_id).where(
                admins.c.user_id == user_id, admins.c.site_id == site_id
            )
        ).first()
        if exists:
            return False
        conn.execute(
            sa.insert(admins).values(user_id=user_id, site_id=site_id, granted_at=utcnow())
        )
    return True


def revoke_site_admin(engine: Engine, user_id: str, site_id: str) -> bool:
    """Remove ``user_id`` from the admins of ``site_id``; False when it was not one."""
    admins = table("wonde_site_admins")
    with engine.begin() as conn:
        deleted = conn.execute(
            sa.delete(admins).where(admins.c.user_id == user_id, admins.c.site_id == site_id)
        ).rowcount
    return bool(deleted)


def is_site_admin(engine: Engine, user_id: str, site_id: str) -> bool:
    """Whether ``user_id`` administers ``site_id``."""
    admins = table("wonde_site_admins")
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(admins.c.user_id).where(
                admins.c.user_id == user_id, admins.c.site_id == site_id
            )
        ).first()
    return row is not None


def admin_sites(engine: Engine, user_id: str) -> list[str]:
    """The sites ``user_id`` administers, sorted."""
    admins = table("wonde_site_admins")
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(admins.c.site_id)
                .where(admins.c.user_id == user_id)
                .order_by(admins.c.site_id)
            ).scalars()
        )
