-- The event log: lifecycle changes, warnings, errors. run_id is NULL for app-level events. message is JSON so
-- the UI can render structured details; kind is a stable 'domain/what' string to filter on.
CREATE TABLE events (
  id INTEGER PRIMARY KEY,
  run_id INTEGER REFERENCES runs (id) ON DELETE CASCADE,
  ts INTEGER NOT NULL,
  level TEXT NOT NULL CHECK (level IN ('debug', 'info', 'warn', 'error')),
  kind TEXT NOT NULL,
  message TEXT NOT NULL CHECK (json_valid(message))
) STRICT;

CREATE INDEX events_by_run ON events (run_id, id);
