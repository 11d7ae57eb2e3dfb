-- Bonafide schema, version 9: the audit trail, append-only. No foreign keys: entries name ids of
-- folders, users, persons... and outlive them (an erasure keeps the record that it happened).
-- objects is a JSON array of {"type", "id"}; audit_objects indexes the ids for the object filter.
CREATE TABLE audit_log (
  id          TEXT PRIMARY KEY,
  seq         BIGINT GENERATED ALWAYS AS IDENTITY,
  at          BIGINT NOT NULL,
  actor       TEXT NOT NULL,
  company_id  TEXT NOT NULL DEFAULT '',
  action      TEXT NOT NULL,
  objects     JSONB NOT NULL DEFAULT '[]',
  client_addr TEXT NOT NULL DEFAULT '',
  request_id  TEXT NOT NULL DEFAULT '',
  details     JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at, seq);
CREATE INDEX audit_log_company_at ON audit_log (company_id, at);

CREATE TABLE audit_objects (
  entry_id    TEXT NOT NULL,
  object_type TEXT NOT NULL,
  object_id   TEXT NOT NULL,
  PRIMARY KEY (entry_id, object_type, object_id)
);
CREATE INDEX audit_objects_id ON audit_objects (object_id);
