"""The tables of ``calm_db`` as the code reads and writes them, declared once.

The migration history (:mod:`wonde_sync.core.migrations`) makes the schema; this module
mirrors its newest revision so that no process pays for reflecting it. Columns, keys and
foreign keys are declared; indexes and CHECK constraints live in the database alone.
``tests/core/test_declared_tables.py`` compares the two on each backend.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

_TS = sa.TIMESTAMP(timezone=True)
# BIGINT IDENTITY on PostgreSQL, INTEGER PRIMARY KEY AUTOINCREMENT on SQLite.
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_SCHOOL_FIELDS = tuple(
    "urn la_code establishment_number phase_of_education mis address_line_1 address_line_2 "
    "address_town postcode country_code country_name region_code region_domain timezone".split()
)
_RUN_COUNTS = ("fetched", "created", "updated", "unchanged", "archived", "filtered", "rejected")


def _id() -> sa.Column:
    return sa.Column("id", _ID, sa.Identity(), primary_key=True)


def _key(name: str, type_: sa.types.TypeEngine, *args) -> sa.Column:
    return sa.Column(name, type_, *args, primary_key=True, autoincrement=False)


def _texts(*names: str) -> list[sa.Column]:
    return [sa.Column(n, sa.Text()) for n in names]


def _times(*names: str) -> list[sa.Column]:
    return [sa.Column(n, _TS) for n in names]


def _required(name: str, type_: sa.types.TypeEngine | None = None, *args, **kw) -> sa.Column:
    return sa.Column(name, type_ or sa.Text(), *args, nullable=False, **kw)


def _now(name: str) -> sa.Column:
    return sa.Column(name, _TS, nullable=False, server_default=sa.func.now())


def _site() -> sa.Column:
    return _required("site_id", sa.Text(), sa.ForeignKey("sites.site_id"))


def _run(*, foreign: bool = True) -> sa.Column:
    args = (sa.ForeignKey("wonde_sync_runs.id"),) if foreign else ()
    return _required("sync_run_id", sa.BigInteger(), *args)


sites = sa.Table(
    "sites", metadata, _key("site_id", sa.Text()), _required("name"), _now("created_at")
)

wonde_schools = sa.Table(
    "wonde_schools",
    metadata,
    _key("id", sa.Text()),
    _required("name"),
    *_texts(*_SCHOOL_FIELDS),
    sa.Column("sync_run_id", sa.BigInteger()),
)

wonde_schools_staging = sa.Table(
    "wonde_schools_staging",
    metadata,
    _run(foreign=False),
    *_texts("id", "name", *_SCHOOL_FIELDS),
)

wonde_connections = sa.Table(
    "wonde_connections",
    metadata,
    _key("site_id", sa.Text(), sa.ForeignKey("sites.site_id")),
    _required("school_id"),
    _required("status"),
    _required("enabled", sa.Boolean(), server_default=sa.true()),
    *_texts("school_token", "status_reason"),
    *_times("requested_at", "status_changed_at"),
    _now("created_at"),
    _now("updated_at"),
    sa.Column("school_token_ciphertext", sa.Text()),
    sa.Column("token_received_at", _TS),
    *_texts(
        "contact_first_name",
        "contact_last_name",
        "contact_email",
        "contact_phone",
        "contact_notes",
        "requested_by",
    ),
    *_times("approved_at", "declined_at"),
    sa.Column("decline_reason", sa.Text()),
    sa.Column("revoked_at", _TS),
    sa.Column("revoke_reason", sa.Text()),
    *_texts("mis_migration_from", "mis_migration_to"),
    *_times("mis_migration_at", "approval_announced_at", "wonde_checked_at"),
    _required("lifecycle_version", sa.Integer(), server_default=sa.text("0")),
)


# personnel kept the column order of its first revision; its later columns come after it.
personnel = sa.Table(
    "personnel",
    metadata,
    _id(),
    _site(),
    _required("source"),
    *_texts("external_id", "forename", "surname", "email"),
    _required("status", server_default="active"),
    _now("created_at"),
    _now("updated_at"),
    sa.Column("mis_id", sa.Text()),
    sa.Column("archived_at", _TS),
    *_texts("archived_reason", "content_hash", "linked_from_source"),
    sa.Column("last_sync_run_id", sa.BigInteger()),
    sa.UniqueConstraint("site_id", "source", "external_id"),
)

pupils = sa.Table(
    "pupils",
    metadata,
    _id(),
    _site(),
    _required("source"),
    *_texts("external_id", "mis_id", "forename", "surname", "email", "year_group"),
    _required("status", server_default="active"),
    sa.Column("archived_at", _TS),
    *_texts("archived_reason", "content_hash", "linked_from_source"),
    sa.Column("last_sync_run_id", sa.BigInteger()),
    _now("created_at"),
    _now("updated_at"),
    sa.UniqueConstraint("site_id", "source", "external_id"),
)

wonde_sync_runs = sa.Table(
    "wonde_sync_runs",
    metadata,
    _id(),
    sa.Column("site_id", sa.Text()),
    _required("kind"),
    _required("status"),
    _required("started_at", _TS),
    sa.Column("finished_at", _TS),
    *(_required(f"{c}_count", sa.Integer(), server_default=sa.text("0")) for c in _RUN_COUNTS),
    *_texts("message", "dag_id", "dag_run_id"),
    sa.Column("run_type", sa.Text()),
    *_times("window_start", "window_end"),
)

wonde_full_sync_metadata = sa.Table(
    "wonde_full_sync_metadata",
    metadata,
    _key("sync_run_id", sa.BigInteger(), sa.ForeignKey("wonde_sync_runs.id")),
    _required("started_at", _TS),
    _required("finished_at", _TS),
    _required("school_count", sa.Integer()),
    sa.Column("dag_run_id", sa.Text()),
)

wonde_people_staging = sa.Table(
    "wonde_people_staging",
    metadata,
    _run(foreign=False),
    _required("record_type"),
    _required("external_id"),
    *_texts("mis_id", "forename", "surname", "email", "year_group"),
    _required("desired_status"),
    *_texts("reason", "content_hash"),
)

wonde_sync_run_reasons = sa.Table(
    "wonde_sync_run_reasons",
    metadata,
    _run(),
    _required("record_type"),
    _required("reason"),
    _required("count", sa.Integer()),
    sa.PrimaryKeyConstraint("sync_run_id", "record_type", "reason"),
)

wonde_sync_issues = sa.Table(
    "wonde_sync_issues",
    metadata,
    _id(),
    _run(),
    sa.Column("site_id", sa.Text()),
    _required("record_type"),
    sa.Column("external_id", sa.Text()),
    _required("reason"),
    sa.Column("detail", sa.Text()),
    _now("created_at"),
)

wonde_site_watermarks = sa.Table(
    "wonde_site_watermarks",
    metadata,
    _key("site_id", sa.Text(), sa.ForeignKey("sites.site_id")),
    _required("watermark", _TS),
    sa.Column("last_full_sync_at", _TS),
    sa.Column("last_sync_run_id", sa.BigInteger()),
    _now("updated_at"),
)

wonde_api_tokens = sa.Table(
    "wonde_api_tokens",
    metadata,
    _id(),
    _required("user_id"),
    _required("token_sha256"),
    sa.Column("label", sa.Text()),
    _required("created_at", _TS),
    *_times("last_used_at", "revoked_at"),
    sa.UniqueConstraint("token_sha256"),
)

wonde_site_admins = sa.Table(
    "wonde_site_admins",
    metadata,
    _required("user_id"),
    _site(),
    _required("granted_at", _TS),
    sa.PrimaryKeyConstraint("user_id", "site_id"),
)

wonde_webhook_events = sa.Table(
    "wonde_webhook_events",
    metadata,
    _id(),
    _required("received_at", _TS),
    _required("payload_type"),
    sa.Column("school_id", sa.Text()),
    sa.Column("dedupe_key", sa.Text()),
    _required("effect"),
    *_texts("site_ids", "detail"),
    sa.Column("payload_digest", sa.Text()),
    sa.UniqueConstraint("dedupe_key"),
)

wonde_connection_history = sa.Table(
    "wonde_connection_history",
    metadata,
    _id(),
    _required("site_id"),
    sa.Column("school_id", sa.Text()),
    _required("change"),
    *_texts("from_status", "to_status"),
    _required("source"),
    *_texts("actor", "detail"),
    _required("changed_at", _TS),
)

#: The fields of a person a change shows before and after, and those only restored on undo.
CHANGE_SHOWN = ("mis_id", "forename", "surname", "email", "year_group", "status", "archived_reason")
CHANGE_RESTORED = ("source", "external_id", "content_hash", "linked_from_source")

wonde_person_changes = sa.Table(
    "wonde_person_changes",
    metadata,
    _id(),
    _run(),
    _required("site_id"),
    _required("record_type"),
    sa.Column("person_id", sa.BigInteger()),
    _required("external_id"),
    _required("action"),
    sa.Column("reason", sa.Text()),
    _required("planned", sa.Boolean(), server_default=sa.false()),
    *_texts(*(f"before_{c}" for c in (*CHANGE_SHOWN, *CHANGE_RESTORED))),
    *_times("before_archived_at", "before_updated_at"),
    sa.Column("before_last_sync_run_id", sa.BigInteger()),
    *_texts(*(f"after_{c}" for c in CHANGE_SHOWN)),
    _now("created_at"),
    sa.Column("after_content_hash", sa.Text()),
    *(sa.Column(f"{c}_change_id", sa.BigInteger()) for c in ("undoes", "applies")),
)

#: People an import read but never imported (filtered out from their first sight), and why.
wonde_people_not_imported = sa.Table(
    "wonde_people_not_imported",
    metadata,
    _required("site_id", sa.Text(), sa.ForeignKey("sites.site_id")),
    _required("record_type"),
    _required("external_id"),
    *_texts("mis_id", "forename", "surname"),
    _required("reason"),
    *(_required(f"{c}_sync_run_id", sa.BigInteger()) for c in ("first", "last")),
    *(_required(f"{c}_seen_at", _TS) for c in ("first", "last")),
    sa.PrimaryKeyConstraint("site_id", "record_type", "external_id"),
)
