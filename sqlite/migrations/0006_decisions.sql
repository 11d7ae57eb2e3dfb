-- Bonafide schema, version 6: an operator's decision on an analysis ("Make Decision"), kept
-- beside the system's resolution, which never changes: JSON {"resolution", "user_id", "comment",
-- "at"}, NULL until an operator decides.
ALTER TABLE analyses ADD COLUMN decision TEXT;
