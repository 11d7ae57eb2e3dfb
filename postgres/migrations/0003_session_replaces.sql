-- Bonafide schema, version 3: a refreshed session names the session it replaces; that one stays
-- valid until the new one is first used (POST /api/authorize/refresh, oz-api.md §2.3).
ALTER TABLE sessions ADD COLUMN replaces TEXT COLLATE "C";
