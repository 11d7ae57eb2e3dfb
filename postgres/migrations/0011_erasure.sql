-- Bonafide schema, version 11: erasure on request (GDPR Art. 17). The receipt outlives the data it
-- removed: who asked, from where, in which request, what was selected (ids) and the counts; it
-- never names a face. A real erasure is IN_PROGRESS until its job has removed every target, so a
-- crash in between finishes on restart. Targets are the selected folders and persons; erased marks
-- a folder whose files and rows are gone (persons go together when the erasure finishes).
CREATE TABLE erasures (
    id          TEXT COLLATE "C" NOT NULL,
    company_id  TEXT COLLATE "C" NOT NULL DEFAULT '',
    user_id     TEXT COLLATE "C" NOT NULL DEFAULT '',
    selector    TEXT NOT NULL DEFAULT '{}',
    dry_run     BOOLEAN NOT NULL DEFAULT FALSE,
    status      TEXT NOT NULL,
    folders     INTEGER NOT NULL DEFAULT 0,
    media       INTEGER NOT NULL DEFAULT 0,
    best_shots  INTEGER NOT NULL DEFAULT 0,
    persons     INTEGER NOT NULL DEFAULT 0,
    client_addr TEXT NOT NULL DEFAULT '',
    request_id  TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    finished_at BIGINT,
    CONSTRAINT erasures_pkey PRIMARY KEY (id)
);

CREATE TABLE erasure_targets (
    erasure_id TEXT COLLATE "C" NOT NULL REFERENCES erasures (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    target_id  TEXT COLLATE "C" NOT NULL,
    erased     BOOLEAN NOT NULL DEFAULT FALSE,
    CONSTRAINT erasure_targets_pkey PRIMARY KEY (erasure_id, kind, target_id)
);
