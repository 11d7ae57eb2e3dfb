-- Bonafide schema, version 4: server-wide settings made once and shared by every node (the key
-- that signs media URLs): the first node to start writes it, the others read it.
CREATE TABLE settings (
    name  TEXT COLLATE "C" NOT NULL,
    value TEXT NOT NULL,
    CONSTRAINT settings_pkey PRIMARY KEY (name)
);
