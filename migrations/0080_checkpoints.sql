-- Checkpoints: everything a bit-identical resume needs. Trainable parameters are Float32 little-endian, inline as
-- a BLOB when small, else in a file (params_path, relative to the database's folder when inside it) written and
-- renamed before this row commits, so a committed row never points at a partial file. params_sha256 lets a reader
-- prove the bytes are the ones written. Optimizer state is opaque bytes from the optimizer (with its own sha256);
-- RNG, allocator and loop position (epoch, cursor) are JSON.
CREATE TABLE checkpoints (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  step INTEGER NOT NULL CHECK (step >= 0),
  param_count INTEGER NOT NULL CHECK (param_count >= 0),
  params_sha256 TEXT NOT NULL CHECK (length(params_sha256) = 64),
  params_path TEXT,
  params_blob BLOB,
  optimizer_state BLOB,
  optimizer_sha256 TEXT,
  rng_state TEXT NOT NULL CHECK (json_valid(rng_state)),
  allocator_state TEXT CHECK (allocator_state IS NULL OR json_valid(allocator_state)),
  loop_state TEXT CHECK (loop_state IS NULL OR json_valid(loop_state)),
  created_at INTEGER NOT NULL,
  UNIQUE (run_id, step),
  CHECK ((params_path IS NULL) <> (params_blob IS NULL)),
  CHECK ((optimizer_state IS NULL) = (optimizer_sha256 IS NULL))
) STRICT;
