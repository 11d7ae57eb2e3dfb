-- Bonafide schema, version 4: blacklist collections (oz-api.md §10), their persons and the face
-- embeddings of the persons' images (little-endian float32, unit length; NULL when no face). The
-- collection's version moves on every change of its persons or images, so each node reloads its
-- in-memory copy of the vectors when it differs.
CREATE TABLE collections (
    id          TEXT PRIMARY KEY,
    company_id  TEXT NOT NULL DEFAULT '',
    alias       TEXT NOT NULL DEFAULT '',
    meta_data   TEXT NOT NULL DEFAULT '{}',
    version     INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX collections_company ON collections (company_id, created_at);

CREATE TABLE persons (
    id            TEXT PRIMARY KEY,
    collection_id TEXT NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    meta_data     TEXT NOT NULL DEFAULT '{}',
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX persons_collection ON persons (collection_id, created_at);

CREATE TABLE person_images (
    id            TEXT PRIMARY KEY,
    person_id     TEXT NOT NULL REFERENCES persons (id) ON DELETE CASCADE,
    collection_id TEXT NOT NULL,
    original_name TEXT NOT NULL DEFAULT '',
    content_type  TEXT NOT NULL DEFAULT '',
    size          INTEGER NOT NULL DEFAULT 0,
    sha256        TEXT NOT NULL DEFAULT '',
    tags          TEXT NOT NULL DEFAULT '[]',
    embedding     BLOB,
    created_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX person_images_person ON person_images (person_id, created_at);
CREATE INDEX person_images_collection ON person_images (collection_id);
