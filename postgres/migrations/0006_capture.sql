-- Bonafide schema, version 6: capture sessions (the capture page's links). Only hashes of the
-- capture token and of the result token are kept. A session's folder is an ordinary folder.
CREATE TABLE capture_sessions (
    id                TEXT COLLATE "C" NOT NULL,
    company_id        TEXT COLLATE "C" NOT NULL DEFAULT '',
    user_id           TEXT COLLATE "C" NOT NULL DEFAULT '',
    folder_id         TEXT COLLATE "C" NOT NULL,
    actions           JSONB NOT NULL DEFAULT '[]',
    gesture_seconds   DOUBLE PRECISION NOT NULL,
    return_url        TEXT NOT NULL DEFAULT '',
    show_result       BOOLEAN NOT NULL DEFAULT TRUE,
    token_hash        TEXT COLLATE "C" NOT NULL,
    result_hash       TEXT COLLATE "C",
    result_expires_at BIGINT NOT NULL DEFAULT 0,
    state             TEXT NOT NULL,
    analysis_id       TEXT COLLATE "C" NOT NULL DEFAULT '',
    expires_at        BIGINT NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    CONSTRAINT capture_sessions_pkey PRIMARY KEY (id),
    CONSTRAINT capture_sessions_token UNIQUE (token_hash),
    CONSTRAINT capture_sessions_result UNIQUE (result_hash)
);
CREATE INDEX capture_sessions_folder ON capture_sessions (folder_id);
