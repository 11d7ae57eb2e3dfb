-- Bonafide schema, version 5: capture sessions (the capture page's links). Only hashes of the
-- capture token and of the result token are kept. A session's folder is an ordinary folder.
CREATE TABLE capture_sessions (
    id                TEXT PRIMARY KEY,
    company_id        TEXT NOT NULL DEFAULT '',
    user_id           TEXT NOT NULL DEFAULT '',
    folder_id         TEXT NOT NULL,
    actions           TEXT NOT NULL DEFAULT '[]',
    gesture_seconds   REAL NOT NULL,
    return_url        TEXT NOT NULL DEFAULT '',
    show_result       INTEGER NOT NULL DEFAULT 1,
    token_hash        TEXT NOT NULL UNIQUE,
    result_hash       TEXT UNIQUE,
    result_expires_at INTEGER NOT NULL DEFAULT 0,
    state             TEXT NOT NULL,
    analysis_id       TEXT NOT NULL DEFAULT '',
    expires_at        INTEGER NOT NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
) STRICT;
CREATE INDEX capture_sessions_folder ON capture_sessions (folder_id);
