-- Bonafide schema, version 3: server-wide settings made once and shared by every process of the
-- installation (the key that signs media URLs).
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
