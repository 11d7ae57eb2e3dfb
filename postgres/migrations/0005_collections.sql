-- Bonafide schema, version 5: blacklist collections (oz-api.md §10), their persons and the face
-- embeddings of the persons' images (little-endian float32, unit length; NULL when no face). The
-- collection's version moves on every change of its persons or images, so each node reloads its
-- in-memory copy of the vectors when it differs.
CREATE TABLE collections (
    id          TEXT COLLATE "C" NOT NULL,
    seq         BIGINT GENERATED ALWAYS AS IDENTITY,
    company_id  TEXT COLLATE "C" NOT NULL DEFAULT '',
    alias       TEXT NOT NULL DEFAULT '',
    meta_data   JSONB NOT NULL DEFAULT '{}',
    version     BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    CONSTRAINT collections_pkey PRIMARY KEY (id)
);
CREATE INDEX collections_company ON collections (company_id, created_at, seq);

CREATE TABLE persons (
    id            TEXT COLLATE "C" NOT NULL,
    seq           BIGINT GENERATED ALWAYS AS IDENTITY,
    collection_id TEXT COLLATE "C" NOT NULL,
    meta_data     JSONB NOT NULL DEFAULT '{}',
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    CONSTRAINT persons_pkey PRIMARY KEY (id),
    CONSTRAINT persons_collection_fkey FOREIGN KEY (collection_id) REFERENCES collections (id) ON DELETE CASCADE
);
CREATE INDEX persons_collection ON persons (collection_id, created_at, seq);

CREATE TABLE person_images (
    id            TEXT COLLATE "C" NOT NULL,
    seq           BIGINT GENERATED ALWAYS AS IDENTITY,
    person_id     TEXT COLLATE "C" NOT NULL,
    collection_id TEXT COLLATE "C" NOT NULL,
    original_name TEXT NOT NULL DEFAULT '',
    content_type  TEXT NOT NULL DEFAULT '',
    size          BIGINT NOT NULL DEFAULT 0,
    sha256        TEXT NOT NULL DEFAULT '',
    tags          JSONB NOT NULL DEFAULT '[]',
    embedding     BYTEA,
    created_at    BIGINT NOT NULL,
    CONSTRAINT person_images_pkey PRIMARY KEY (id),
    CONSTRAINT person_images_person_fkey FOREIGN KEY (person_id) REFERENCES persons (id) ON DELETE CASCADE
);
CREATE INDEX person_images_person ON person_images (person_id, created_at, seq);
CREATE INDEX person_images_collection ON person_images (collection_id);
