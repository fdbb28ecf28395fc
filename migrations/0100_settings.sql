-- Workspace settings the user changes on the Settings page (or with `flops` later): one row per key, the value as
-- JSON. They live in the workspace database rather than a file beside it so that the CLI, `flops serve` and the
-- desktop app, which all open this database, read the same values, and a copied workspace keeps its settings. A
-- missing key means "automatic" (the app's default). Keys are not constrained here, so a new setting needs no
-- migration; app/db/settings.ts knows the keys and validates every value it reads.
CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL CHECK (json_valid(value)),
  updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
