-- Bonafide schema, version 1. Times are unix milliseconds (INTEGER, UTC); JSON is TEXT.
-- A folder's resolution_status and verdict are derived from its analyses, never stored.

CREATE TABLE companies (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    webhook_secret TEXT NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    company_id    TEXT REFERENCES companies (id), -- NULL for users without a company
    email         TEXT NOT NULL COLLATE NOCASE UNIQUE, -- stored lower-case
    first_name    TEXT NOT NULL DEFAULT '',
    last_name     TEXT NOT NULL DEFAULT '',
    middle_name   TEXT NOT NULL DEFAULT '',
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL DEFAULT '',
    disabled      INTEGER NOT NULL DEFAULT 0,
    can_quality   INTEGER NOT NULL DEFAULT 0,
    can_biometry  INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX users_company ON users (company_id, created_at);

CREATE TABLE sessions (
    token_hash  TEXT PRIMARY KEY,
    expire_hash TEXT UNIQUE, -- NULL when the session has no refresh token
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at  INTEGER NOT NULL,
    long_lived  INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- company_id and user_id carry no foreign key: folders outlive account changes.
CREATE TABLE folders (
    id                  TEXT PRIMARY KEY,
    company_id          TEXT NOT NULL DEFAULT '',
    user_id             TEXT NOT NULL DEFAULT '',
    meta_data           TEXT NOT NULL DEFAULT '{}',
    technical_meta_data TEXT NOT NULL DEFAULT '{}',
    resolution_endpoint TEXT NOT NULL DEFAULT '',
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
) STRICT;
CREATE INDEX folders_created ON folders (created_at, id);
CREATE INDEX folders_updated ON folders (updated_at, id);
CREATE INDEX folders_company_created ON folders (company_id, created_at, id);
CREATE INDEX folders_user_created ON folders (user_id, created_at, id);

CREATE TABLE media (
    id            TEXT PRIMARY KEY,
    folder_id     TEXT NOT NULL REFERENCES folders (id) ON DELETE CASCADE,
    kind          TEXT NOT NULL,
    original_name TEXT NOT NULL DEFAULT '',
    field_name    TEXT NOT NULL DEFAULT '',
    blob_key      TEXT NOT NULL DEFAULT '',
    content_type  TEXT NOT NULL DEFAULT '',
    size          INTEGER NOT NULL DEFAULT 0,
    sha256        TEXT NOT NULL DEFAULT '',
    tags          TEXT NOT NULL DEFAULT '[]',
    meta_data     TEXT NOT NULL DEFAULT '{}',
    info          TEXT, -- NULL when unknown
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX media_folder ON media (folder_id, created_at);

CREATE TABLE analyses (
    id           TEXT PRIMARY KEY,
    folder_id    TEXT NOT NULL REFERENCES folders (id) ON DELETE CASCADE,
    group_id     TEXT NOT NULL DEFAULT '',
    type         TEXT NOT NULL,
    state        TEXT NOT NULL,            -- PROCESSING, FINISHED, FAILED
    resolution   TEXT NOT NULL DEFAULT '', -- '' until finished; SUCCESS, DECLINED, ...
    params       TEXT,
    meta_data    TEXT NOT NULL DEFAULT '{}',
    source_media TEXT NOT NULL DEFAULT '[]',
    results_data TEXT,
    results      TEXT NOT NULL DEFAULT '[]',
    error        TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX analyses_folder_updated ON analyses (folder_id, updated_at, group_id);
CREATE INDEX analyses_folder_state ON analyses (folder_id, state);
CREATE INDEX analyses_processing ON analyses (created_at) WHERE state = 'PROCESSING';
