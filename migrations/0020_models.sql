-- Models a run can start from: a Hugging Face ViT folder, an ONNX file, or a model bundled with the app.
-- sha256 is of the weights file, so a run's record says exactly which weights it started from.
CREATE TABLE models (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('hf-vit', 'onnx', 'builtin')),
  path TEXT NOT NULL,
  config TEXT NOT NULL CHECK (json_valid(config)),
  param_counts TEXT NOT NULL CHECK (json_valid(param_counts)),
  sha256 TEXT NOT NULL CHECK (length(sha256) = 64 AND sha256 NOT GLOB '*[^0-9a-f]*'),
  created_at INTEGER NOT NULL
) STRICT;

-- Registering the same weights twice should find the existing row, not scan.
CREATE INDEX models_by_sha256 ON models (sha256);
