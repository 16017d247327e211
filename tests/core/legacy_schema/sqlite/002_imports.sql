-- Staff and pupil imports (SQLite): personnel bookkeeping, pupils, staging,
-- per-run filter reasons and record issues, per-site watermarks.

-- Who manages a row: source 'wonde' rows are created or matched by the integration;
-- any other source (e.g. 'manual') is never changed by it, except when a matching
-- hand-made record is linked on first sight (linked_from_source keeps its origin).
ALTER TABLE personnel ADD COLUMN mis_id TEXT;
ALTER TABLE personnel ADD COLUMN archived_at TIMESTAMP;
ALTER TABLE personnel ADD COLUMN archived_reason TEXT;
ALTER TABLE personnel ADD COLUMN content_hash TEXT;
ALTER TABLE personnel ADD COLUMN linked_from_source TEXT;
ALTER TABLE personnel ADD COLUMN last_sync_run_id BIGINT;
CREATE INDEX IF NOT EXISTS personnel_site_email_idx ON personnel (site_id, lower(email));

CREATE TABLE IF NOT EXISTS pupils (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    site_id            TEXT NOT NULL REFERENCES sites (site_id),
    source             TEXT NOT NULL,
    external_id        TEXT,
    mis_id             TEXT,
    forename           TEXT,
    surname            TEXT,
    email              TEXT,
    year_group         TEXT,
    status             TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    archived_at        TIMESTAMP,
    archived_reason    TEXT,
    content_hash       TEXT,
    linked_from_source TEXT,
    last_sync_run_id   BIGINT,
    created_at         TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at         TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (site_id, source, external_id)
);

-- One import's transformed people, before they are applied in one transaction.
CREATE TABLE IF NOT EXISTS wonde_people_staging (
    sync_run_id     BIGINT NOT NULL,
    record_type     TEXT NOT NULL,
    external_id     TEXT NOT NULL,
    mis_id          TEXT,
    forename        TEXT,
    surname         TEXT,
    email           TEXT,
    year_group      TEXT,
    desired_status  TEXT NOT NULL,
    reason          TEXT,
    content_hash    TEXT
);
CREATE INDEX IF NOT EXISTS wonde_people_staging_run_idx
    ON wonde_people_staging (sync_run_id, record_type, external_id);

-- Why people were filtered out, per run: explains "fewer users than expected".
CREATE TABLE IF NOT EXISTS wonde_sync_run_reasons (
    sync_run_id  BIGINT NOT NULL REFERENCES wonde_sync_runs (id),
    record_type  TEXT NOT NULL,
    reason       TEXT NOT NULL,
    count        INTEGER NOT NULL,
    PRIMARY KEY (sync_run_id, record_type, reason)
);

-- Records that could not be imported, one row each, with the reason.
CREATE TABLE IF NOT EXISTS wonde_sync_issues (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    sync_run_id  BIGINT NOT NULL REFERENCES wonde_sync_runs (id),
    site_id      TEXT,
    record_type  TEXT NOT NULL,
    external_id  TEXT,
    reason       TEXT NOT NULL,
    detail       TEXT,
    created_at   TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX IF NOT EXISTS wonde_sync_issues_run_idx ON wonde_sync_issues (sync_run_id);

-- Per site: where the next incremental import starts (moves only on success).
CREATE TABLE IF NOT EXISTS wonde_site_watermarks (
    site_id            TEXT PRIMARY KEY REFERENCES sites (site_id),
    watermark          TIMESTAMP NOT NULL,
    last_full_sync_at  TIMESTAMP,
    last_sync_run_id   BIGINT,
    updated_at         TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
