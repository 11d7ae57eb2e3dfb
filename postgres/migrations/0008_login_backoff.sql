-- Bonafide schema, version 8: login throttle entries (per account and per client address) shared
-- by every node, so failures spread over the cluster count as one. Times are the store's stamps;
-- end_at = max(last_at, until_at).
CREATE TABLE login_backoff (
  key      TEXT PRIMARY KEY,
  failures INTEGER NOT NULL,
  last_at  BIGINT NOT NULL,
  until_at BIGINT NOT NULL,
  end_at   BIGINT NOT NULL
);
CREATE INDEX login_backoff_end ON login_backoff (end_at);

-- The hourly purge deletes capture sessions never uploaded a day after their link expired.
CREATE INDEX capture_sessions_expires ON capture_sessions (expires_at);
