-- Bonafide schema, version 1: the PostgreSQL translation of sqlite/migrations/0001_init.sql.
-- Times are unix milliseconds (BIGINT, UTC), exactly as in the SQLite store. JSON is JSONB.
-- Identifiers and group IDs use COLLATE "C" so ordering and tie-breaks compare bytes, like SQLite
-- and Go (bonafide.FolderStatus breaks ties on the greater GroupID), whatever the database's locale.
-- A folder's resolution_status and verdict are derived from its analyses, never stored.

CREATE TABLE companies (
    id             TEXT COLLATE "C" NOT NULL,
    name           TEXT NOT NULL,
    webhook_secret TEXT NOT NULL DEFAULT '',
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    CONSTRAINT companies_pkey PRIMARY KEY (id)
);

CREATE TABLE users (
    id            TEXT COLLATE "C" NOT NULL,
    company_id    TEXT COLLATE "C", -- NULL for users without a company
    email         TEXT NOT NULL,    -- stored lower-case; unique case-insensitively (users_email_lower)
    first_name    TEXT NOT NULL DEFAULT '',
    last_name     TEXT NOT NULL DEFAULT '',
    middle_name   TEXT NOT NULL DEFAULT '',
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL DEFAULT '',
    disabled      BOOLEAN NOT NULL DEFAULT false,
    can_quality   BOOLEAN NOT NULL DEFAULT false,
    can_biometry  BOOLEAN NOT NULL DEFAULT false,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_company_fkey FOREIGN KEY (company_id) REFERENCES companies (id)
);
CREATE UNIQUE INDEX users_email_lower ON users (lower(email));
CREATE INDEX users_company ON users (company_id, created_at);
CREATE INDEX users_created ON users (created_at, id);

CREATE TABLE sessions (
    token_hash  TEXT COLLATE "C" NOT NULL,
    expire_hash TEXT COLLATE "C", -- NULL when the session has no refresh token
    user_id     TEXT COLLATE "C" NOT NULL,
    expires_at  BIGINT NOT NULL,
    long_lived  BOOLEAN NOT NULL DEFAULT false,
    created_at  BIGINT NOT NULL,
    CONSTRAINT sessions_pkey PRIMARY KEY (token_hash),
    CONSTRAINT sessions_expire_hash_key UNIQUE (expire_hash),
    CONSTRAINT sessions_user_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- company_id and user_id carry no foreign key: folders outlive account changes.
CREATE TABLE folders (
    id                  TEXT COLLATE "C" NOT NULL,
    company_id          TEXT COLLATE "C" NOT NULL DEFAULT '',
    user_id             TEXT COLLATE "C" NOT NULL DEFAULT '',
    meta_data           JSONB NOT NULL DEFAULT '{}',
    technical_meta_data JSONB NOT NULL DEFAULT '{}',
    resolution_endpoint TEXT NOT NULL DEFAULT '',
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    CONSTRAINT folders_pkey PRIMARY KEY (id)
);
CREATE INDEX folders_created ON folders (created_at, id);
CREATE INDEX folders_updated ON folders (updated_at, id);
CREATE INDEX folders_company_created ON folders (company_id, created_at, id);
CREATE INDEX folders_user_created ON folders (user_id, created_at, id);

-- seq keeps upload order among media created in the same millisecond (SQLite's rowid).
CREATE TABLE media (
    id            TEXT COLLATE "C" NOT NULL,
    seq           BIGINT GENERATED ALWAYS AS IDENTITY,
    folder_id     TEXT COLLATE "C" NOT NULL,
    kind          TEXT NOT NULL,
    original_name TEXT NOT NULL DEFAULT '',
    field_name    TEXT NOT NULL DEFAULT '',
    blob_key      TEXT NOT NULL DEFAULT '',
    content_type  TEXT NOT NULL DEFAULT '',
    size          BIGINT NOT NULL DEFAULT 0,
    sha256        TEXT NOT NULL DEFAULT '',
    tags          JSONB NOT NULL DEFAULT '[]',
    meta_data     JSONB NOT NULL DEFAULT '{}',
    info          JSONB, -- NULL when unknown
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    CONSTRAINT media_pkey PRIMARY KEY (id),
    CONSTRAINT media_folder_fkey FOREIGN KEY (folder_id) REFERENCES folders (id) ON DELETE CASCADE
);
CREATE INDEX media_folder ON media (folder_id, created_at, seq);

CREATE TABLE analyses (
    id           TEXT COLLATE "C" NOT NULL,
    seq          BIGINT GENERATED ALWAYS AS IDENTITY,
    folder_id    TEXT COLLATE "C" NOT NULL,
    group_id     TEXT COLLATE "C" NOT NULL DEFAULT '',
    type         TEXT NOT NULL,
    state        TEXT NOT NULL,            -- PROCESSING, FINISHED, FAILED
    resolution   TEXT NOT NULL DEFAULT '', -- '' until finished; SUCCESS, DECLINED, ...
    params       JSONB,
    meta_data    JSONB NOT NULL DEFAULT '{}',
    source_media JSONB NOT NULL DEFAULT '[]',
    results_data JSONB,
    results      JSONB NOT NULL DEFAULT '[]',
    error        TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    CONSTRAINT analyses_pkey PRIMARY KEY (id),
    CONSTRAINT analyses_folder_fkey FOREIGN KEY (folder_id) REFERENCES folders (id) ON DELETE CASCADE
);
CREATE INDEX analyses_folder_created ON analyses (folder_id, created_at, seq);
CREATE INDEX analyses_folder_updated ON analyses (folder_id, updated_at, group_id);
CREATE INDEX analyses_folder_state ON analyses (folder_id, state);
CREATE INDEX analyses_processing ON analyses (created_at) WHERE state = 'PROCESSING';
