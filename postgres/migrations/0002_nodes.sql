-- Bonafide schema, version 2: the heartbeat of every node of a cluster (jobs/nodes.go). Each node
-- refreshes its row every few seconds with the database's clock; the running jobs of a node whose
-- row went stale are handed to the others. UNLOGGED: a row is worth nothing after a database crash
-- (every node writes its own again within seconds).

CREATE UNLOGGED TABLE bonafide_nodes (
    id         TEXT COLLATE "C" NOT NULL, -- the node's River client id (river_job.attempted_by)
    started_at TIMESTAMPTZ NOT NULL,
    beat_at    TIMESTAMPTZ NOT NULL,
    CONSTRAINT bonafide_nodes_pkey PRIMARY KEY (id)
);
