-- CalmCompliance tables for the Wonde integration (SQLite).
-- Applied once, in order, by wonde_sync.database.apply_schema; recorded in schema_migrations.

CREATE TABLE IF NOT EXISTS sites (
    site_id     TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- The local copy of Wonde's school directory; replaced as a whole by each full sync.
CREATE TABLE IF NOT EXISTS wonde_schools (
    id                    TEXT PRIMARY KEY,
    name                  TEXT NOT NULL,
    urn                   TEXT,
    la_code               TEXT,
    establishment_number  TEXT,
    phase_of_education    TEXT,
    mis                   TEXT,
    address_line_1        TEXT,
    address_line_2        TEXT,
    address_town          TEXT,
    postcode              TEXT,
    country_code          TEXT,
    country_name          TEXT,
    region_code           TEXT,
    region_domain         TEXT,
    timezone              TEXT,
    sync_run_id           BIGINT
);
CREATE INDEX IF NOT EXISTS wonde_schools_urn_idx ON wonde_schools (urn);
CREATE INDEX IF NOT EXISTS wonde_schools_postcode_idx ON wonde_schools (postcode);
CREATE INDEX IF NOT EXISTS wonde_schools_name_idx ON wonde_schools (name COLLATE NOCASE);

-- Rows of a rebuild in progress, keyed by its sync run; no constraints, so that
-- validation can see (and report) duplicates and missing fields before the swap.
CREATE TABLE IF NOT EXISTS wonde_schools_staging (
    sync_run_id           BIGINT NOT NULL,
    id                    TEXT,
    name                  TEXT,
    urn                   TEXT,
    la_code               TEXT,
    establishment_number  TEXT,
    phase_of_education    TEXT,
    mis                   TEXT,
    address_line_1        TEXT,
    address_line_2        TEXT,
    address_town          TEXT,
    postcode              TEXT,
    country_code          TEXT,
    country_name          TEXT,
    region_code           TEXT,
    region_domain         TEXT,
    timezone              TEXT
);
CREATE INDEX IF NOT EXISTS wonde_schools_staging_run_idx ON wonde_schools_staging (sync_run_id);

CREATE TABLE IF NOT EXISTS wonde_connections (
    site_id          TEXT PRIMARY KEY REFERENCES sites (site_id),
    school_id        TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'declined', 'revoked')),
    enabled          BOOLEAN NOT NULL DEFAULT TRUE,
    school_token     TEXT,
    status_reason    TEXT,
    requested_at     TIMESTAMP,
    status_changed_at TIMESTAMP,
    created_at       TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at       TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE IF NOT EXISTS personnel (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    site_id      TEXT NOT NULL REFERENCES sites (site_id),
    source       TEXT NOT NULL,
    external_id  TEXT,
    forename     TEXT,
    surname      TEXT,
    email        TEXT,
    status       TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    created_at   TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at   TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (site_id, source, external_id)
);

-- Sync History: one row per run (per site for imports; site_id NULL for catalog runs).
CREATE TABLE IF NOT EXISTS wonde_sync_runs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    site_id         TEXT,
    kind            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('Processing', 'Completed', 'Failed')),
    started_at      TIMESTAMP NOT NULL,
    finished_at     TIMESTAMP,
    fetched_count   INTEGER NOT NULL DEFAULT 0,
    created_count   INTEGER NOT NULL DEFAULT 0,
    updated_count   INTEGER NOT NULL DEFAULT 0,
    unchanged_count INTEGER NOT NULL DEFAULT 0,
    archived_count  INTEGER NOT NULL DEFAULT 0,
    filtered_count  INTEGER NOT NULL DEFAULT 0,
    rejected_count  INTEGER NOT NULL DEFAULT 0,
    message         TEXT,
    dag_id          TEXT,
    dag_run_id      TEXT
);
CREATE INDEX IF NOT EXISTS wonde_sync_runs_site_idx ON wonde_sync_runs (site_id, started_at);

-- One row per completed full catalog sync; the newest row's started_at is the watermark
-- the incremental sync starts from.
CREATE TABLE IF NOT EXISTS wonde_full_sync_metadata (
    sync_run_id   BIGINT PRIMARY KEY REFERENCES wonde_sync_runs (id),
    started_at    TIMESTAMP NOT NULL,
    finished_at   TIMESTAMP NOT NULL,
    school_count  INTEGER NOT NULL,
    dag_run_id    TEXT
);
