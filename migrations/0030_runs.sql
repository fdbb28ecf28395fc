-- Runs and their tags. pid + heartbeat_at form the lease of the process that trains the run: at startup the app
-- marks runs whose process is gone (or silent for too long) 'interrupted' (app/db/lease.ts).
CREATE TABLE runs (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  model_id INTEGER REFERENCES models (id) ON DELETE RESTRICT,
  dataset_version_id TEXT REFERENCES dataset_versions (id) ON DELETE RESTRICT,
  requested_config TEXT NOT NULL CHECK (json_valid(requested_config)),
  resolved_config TEXT CHECK (resolved_config IS NULL OR json_valid(resolved_config)),
  seed INTEGER NOT NULL CHECK (seed BETWEEN 0 AND 4294967295),
  status TEXT NOT NULL DEFAULT 'queued' CHECK (
    status IN ('queued', 'running', 'paused', 'completed', 'failed', 'diverged', 'interrupted', 'cancelled')
  ),
  execution_provider TEXT,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  pid INTEGER,
  heartbeat_at INTEGER,
  error TEXT,
  notes TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX runs_by_status ON runs (status, created_at);
CREATE INDEX runs_by_created ON runs (created_at);
-- References must not scan runs when a model or dataset version is deleted (the RESTRICT check).
CREATE INDEX runs_by_model ON runs (model_id);
CREATE INDEX runs_by_dataset_version ON runs (dataset_version_id);

CREATE TABLE run_tags (
  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  tag TEXT NOT NULL CHECK (length(tag) BETWEEN 1 AND 64),
  PRIMARY KEY (run_id, tag)
) STRICT, WITHOUT ROWID;

-- "runs tagged X" is the filter the list offers.
CREATE INDEX run_tags_by_tag ON run_tags (tag, run_id);
