-- Evaluation passes. Keyed (run_id, split, step) because the chart reads one split's curve in step order.
CREATE TABLE evaluations (
  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  step INTEGER NOT NULL CHECK (step >= 0),
  split TEXT NOT NULL CHECK (split IN ('train', 'val', 'test')),
  loss REAL,
  accuracy REAL,
  examples INTEGER NOT NULL CHECK (examples >= 0),
  wall_ms REAL NOT NULL,
  PRIMARY KEY (run_id, split, step)
) STRICT, WITHOUT ROWID;
