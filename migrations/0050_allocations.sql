-- Per-step query allocations. Per-sample arrays are little-endian BLOBs (Int32 sample ids and counts, Float32
-- losses): 64 samples cost 768 bytes instead of 64 rows. Summary statistics of the counts sit in columns so the
-- UI charts them without decoding blobs. A rowid table, not WITHOUT ROWID: rows this wide would spill out of
-- the primary-key B-tree pages.
CREATE TABLE allocations (
  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  step INTEGER NOT NULL CHECK (step >= 0),
  sample_ids BLOB NOT NULL,
  counts BLOB NOT NULL,
  losses BLOB NOT NULL,
  budget INTEGER NOT NULL,
  count_min INTEGER NOT NULL,
  count_max INTEGER NOT NULL,
  count_mean REAL NOT NULL,
  count_std REAL NOT NULL,
  count_gini REAL NOT NULL,
  allocator_params TEXT NOT NULL CHECK (json_valid(allocator_params)),
  PRIMARY KEY (run_id, step),
  CHECK (
    length(sample_ids) % 4 = 0 AND length(counts) = length(sample_ids) AND length(losses) = length(sample_ids)
  )
) STRICT;
