-- What replays a step exactly (conventions 10): the step seed every draw derives from, and the per-direction
-- projected-gradient scalars (Float32 little-endian), so z never needs storing.
CREATE TABLE steps (
  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  step INTEGER NOT NULL CHECK (step >= 0),
  seed INTEGER NOT NULL CHECK (seed BETWEEN 0 AND 4294967295),
  directions INTEGER NOT NULL CHECK (directions >= 0),
  scalars BLOB NOT NULL CHECK (length(scalars) = 4 * directions),
  PRIMARY KEY (run_id, step)
) STRICT;
