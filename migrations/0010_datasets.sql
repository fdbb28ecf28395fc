-- Datasets and their immutable versions. A version's id is the sha256 hex of its content (pixels, labels, class
-- names, split), so the same import on two machines yields the same id and runs can reference it portably.
-- Timestamps everywhere are integer Unix milliseconds, written by the app (testable clocks, cheap sorting).
CREATE TABLE datasets (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE dataset_versions (
  id TEXT PRIMARY KEY CHECK (length(id) BETWEEN 16 AND 128 AND id NOT GLOB '*[^0-9a-f]*'),
  dataset_id INTEGER NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
  source_kind TEXT NOT NULL,
  source_path TEXT NOT NULL,
  source TEXT NOT NULL CHECK (json_valid(source)),
  class_names TEXT NOT NULL CHECK (json_valid(class_names) AND json_type(class_names) = 'array'),
  count INTEGER NOT NULL CHECK (count >= 0),
  split_counts TEXT NOT NULL CHECK (json_valid(split_counts)),
  height INTEGER NOT NULL CHECK (height > 0),
  width INTEGER NOT NULL CHECK (width > 0),
  channels INTEGER NOT NULL CHECK (channels > 0),
  split_spec TEXT NOT NULL CHECK (json_valid(split_spec)),
  preprocess TEXT CHECK (preprocess IS NULL OR json_valid(preprocess)),
  cache_path TEXT,
  import_report TEXT CHECK (import_report IS NULL OR json_valid(import_report)),
  created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX dataset_versions_by_dataset ON dataset_versions (dataset_id, created_at);
