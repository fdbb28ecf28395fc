-- Per-step training metrics. A run can log a million steps, so the table is WITHOUT ROWID and keyed on
-- (run_id, step): a run's rows are stored contiguously in step order, one B-tree, no separate index to maintain.
-- queries / forward_rows are cumulative (engine-design.md, "Queries and rows").
CREATE TABLE metrics (
  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  step INTEGER NOT NULL CHECK (step >= 0),
  epoch INTEGER NOT NULL,
  queries INTEGER NOT NULL,
  forward_rows INTEGER NOT NULL,
  train_loss REAL,
  train_acc REAL,
  lr REAL,
  grad_norm REAL,
  variance_estimate REAL,
  wall_ms REAL NOT NULL,
  PRIMARY KEY (run_id, step)
) STRICT, WITHOUT ROWID;

-- Min/max summaries of the metrics over aligned step buckets of width 8^level (level 1..6), maintained by
-- app/db/metrics.ts on every insert. Scanning 1 M metric rows takes ~85 ms here, so a chart of 3 such runs could
-- never meet its 50 ms budget from the raw table; from this pyramid it reads at most ~16 k summary rows per run.
-- Every column is a min or a max (with the step where it occurs), so re-feeding a row is idempotent.
CREATE TABLE metric_rollups (
  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  level INTEGER NOT NULL CHECK (level BETWEEN 1 AND 6),
  bucket INTEGER NOT NULL,
  step_min INTEGER NOT NULL,
  step_max INTEGER NOT NULL,
  train_loss_lo REAL,
  train_loss_lo_step INTEGER,
  train_loss_hi REAL,
  train_loss_hi_step INTEGER,
  train_acc_lo REAL,
  train_acc_lo_step INTEGER,
  train_acc_hi REAL,
  train_acc_hi_step INTEGER,
  lr_lo REAL,
  lr_lo_step INTEGER,
  lr_hi REAL,
  lr_hi_step INTEGER,
  grad_norm_lo REAL,
  grad_norm_lo_step INTEGER,
  grad_norm_hi REAL,
  grad_norm_hi_step INTEGER,
  variance_estimate_lo REAL,
  variance_estimate_lo_step INTEGER,
  variance_estimate_hi REAL,
  variance_estimate_hi_step INTEGER,
  PRIMARY KEY (run_id, level, bucket)
) STRICT, WITHOUT ROWID;
