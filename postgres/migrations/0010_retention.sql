-- Bonafide schema, version 10: retention (issue 20, section 1), as sqlite/migrations/0009. Durations
-- are milliseconds; a NULL setting is the server's default, 0 keeps for ever.
ALTER TABLE companies ADD COLUMN retention_media BIGINT;
ALTER TABLE companies ADD COLUMN retention_folders BIGINT;

-- A media whose files the retention run deletes: deleted_at is set first (the mark: the API shows
-- it deleted from then on), files_deleted_at once its file and best shots are gone.
ALTER TABLE media ADD COLUMN deleted_at BIGINT;
ALTER TABLE media ADD COLUMN deleted_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE media ADD COLUMN files_deleted_at BIGINT;
CREATE INDEX media_files_pending ON media (deleted_at) WHERE deleted_at IS NOT NULL AND files_deleted_at IS NULL;

-- A folder the retention run removes: marked first, its rows deleted once its files are gone.
ALTER TABLE folders ADD COLUMN retention_marked_at BIGINT;
CREATE INDEX folders_retention_marked ON folders (retention_marked_at) WHERE retention_marked_at IS NOT NULL;
