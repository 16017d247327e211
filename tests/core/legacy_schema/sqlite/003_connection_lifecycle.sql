-- Connection lifecycle (SQLite): request contacts, outcomes, encrypted school tokens,
-- the API's service tokens and site admins, the webhook journal and the connection history.
-- Applied once by wonde_sync.database.apply_schema.

-- School tokens are stored ONLY as Fernet ciphertext, in school_token_ciphertext (key from
-- the environment variable WONDE_TOKEN_KEY, see wonde_sync.token_vault). The column
-- school_token created by 001 is plaintext-named: it is never written and must stay NULL.
-- status 'approved' without a ciphertext is the "School Already Approved" case: Wonde lists
-- the school as approved for the app, but no school token reached this site.
ALTER TABLE wonde_connections ADD COLUMN school_token_ciphertext TEXT;
ALTER TABLE wonde_connections ADD COLUMN token_received_at TIMESTAMP;
-- The contact sent to the school with the latest access request.
ALTER TABLE wonde_connections ADD COLUMN contact_first_name TEXT;
ALTER TABLE wonde_connections ADD COLUMN contact_last_name TEXT;
ALTER TABLE wonde_connections ADD COLUMN contact_email TEXT;
ALTER TABLE wonde_connections ADD COLUMN contact_phone TEXT;
ALTER TABLE wonde_connections ADD COLUMN contact_notes TEXT;
ALTER TABLE wonde_connections ADD COLUMN requested_by TEXT;
-- When each outcome last happened, and the school's reasons (as Wonde's webhooks give them).
ALTER TABLE wonde_connections ADD COLUMN approved_at TIMESTAMP;
ALTER TABLE wonde_connections ADD COLUMN declined_at TIMESTAMP;
ALTER TABLE wonde_connections ADD COLUMN decline_reason TEXT;
ALTER TABLE wonde_connections ADD COLUMN revoked_at TIMESTAMP;
ALTER TABLE wonde_connections ADD COLUMN revoke_reason TEXT;
-- The school's latest change of MIS (schoolMigration webhook).
ALTER TABLE wonde_connections ADD COLUMN mis_migration_from TEXT;
ALTER TABLE wonde_connections ADD COLUMN mis_migration_to TEXT;
ALTER TABLE wonde_connections ADD COLUMN mis_migration_at TIMESTAMP;
-- Set once the reconciling DAG has announced this approval (Asset wonde_connection_approved).
ALTER TABLE wonde_connections ADD COLUMN approval_announced_at TIMESTAMP;
-- The last time the reconciling DAG compared this connection with Wonde's lists.
ALTER TABLE wonde_connections ADD COLUMN wonde_checked_at TIMESTAMP;
-- Bumped by every lifecycle write: the reconciling DAG only overwrites a row that did not
-- change while it was reading Wonde's lists (optimistic concurrency).
ALTER TABLE wonde_connections ADD COLUMN lifecycle_version INTEGER NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS wonde_connections_school_idx ON wonde_connections (school_id);

-- Service tokens of the connection-lifecycle API. Only the SHA-256 (hex) of a token is kept;
-- the token itself is shown once, when it is created.
CREATE TABLE IF NOT EXISTS wonde_api_tokens (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       TEXT NOT NULL,
    token_sha256  TEXT NOT NULL UNIQUE,
    label         TEXT,
    created_at    TIMESTAMP NOT NULL,
    last_used_at  TIMESTAMP,
    revoked_at    TIMESTAMP
);
CREATE INDEX IF NOT EXISTS wonde_api_tokens_user_idx ON wonde_api_tokens (user_id);

-- Who administers which site: only they may manage or read that site's connection.
CREATE TABLE IF NOT EXISTS wonde_site_admins (
    user_id     TEXT NOT NULL,
    site_id     TEXT NOT NULL REFERENCES sites (site_id),
    granted_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, site_id)
);

-- Every accepted Wonde webhook delivery and what it did. The raw body is never stored (it
-- carries the school token). dedupe_key is set for schoolApproved only (SHA-256 of school id
-- and token), so a re-delivered approval is recognised and never applied twice.
CREATE TABLE IF NOT EXISTS wonde_webhook_events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at   TIMESTAMP NOT NULL,
    payload_type  TEXT NOT NULL,
    school_id     TEXT,
    dedupe_key    TEXT UNIQUE,
    effect        TEXT NOT NULL CHECK (effect IN ('applied', 'no_change', 'duplicate', 'unmatched')),
    site_ids      TEXT,
    detail        TEXT
);
CREATE INDEX IF NOT EXISTS wonde_webhook_events_school_idx ON wonde_webhook_events (school_id, received_at);

-- Every change of a connection (status, token, school, enabled), who or what made it, and
-- why: the row in wonde_connections holds only the latest state. from_status and to_status
-- hold the product state: not_connected, pending, approved, already_approved (approved
-- without a token), declined or revoked.
CREATE TABLE IF NOT EXISTS wonde_connection_history (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    site_id      TEXT NOT NULL,
    school_id    TEXT,
    change       TEXT NOT NULL,
    from_status  TEXT,
    to_status    TEXT,
    source       TEXT NOT NULL,
    actor        TEXT,
    detail       TEXT,
    changed_at   TIMESTAMP NOT NULL
);
CREATE INDEX IF NOT EXISTS wonde_connection_history_site_idx ON wonde_connection_history (site_id, changed_at);
