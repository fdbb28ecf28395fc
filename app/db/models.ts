// Models a run can start from.
import type { ReadableDb, WritableDb } from './open.ts';
import type { Clock, JsonValue } from './sql.ts';
import { prepared, systemClock } from './sql.ts';

export type ModelKind = 'hf-vit' | 'onnx' | 'builtin';

export interface ModelInput {
  name: string;
  kind: ModelKind;
  path: string;
  /** The model's architecture config (hidden size, depth, patch size, ...). */
  config: unknown;
  /** Parameter counts (total, trainable, per module). */
  paramCounts: unknown;
  /** sha256 hex of the weights file. */
  sha256: string;
}

export interface Model {
  id: number;
  name: string;
  kind: ModelKind;
  path: string;
  config: JsonValue;
  paramCounts: JsonValue;
  sha256: string;
  createdAt: number;
}

interface ModelDbRow {
  id: number;
  name: string;
  kind: ModelKind;
  path: string;
  config: string;
  param_counts: string;
  sha256: string;
  created_at: number;
}

function fromDb(r: ModelDbRow): Model {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    path: r.path,
    config: JSON.parse(r.config) as JsonValue,
    paramCounts: JSON.parse(r.param_counts) as JsonValue,
    sha256: r.sha256,
    createdAt: r.created_at,
  };
}

const SELECT = 'SELECT id, name, kind, path, config, param_counts, sha256, created_at FROM models';

/** Registers a model, or returns the one already registered with the same weights, name, kind and path. */
export function saveModel(db: WritableDb, m: ModelInput, now: Clock = systemClock): Model {
  return db.transaction(() => {
    const existing = prepared<unknown[], ModelDbRow>(
      db,
      `${SELECT} WHERE sha256 = ? AND name = ? AND kind = ? AND path = ? ORDER BY id LIMIT 1`,
    ).get(m.sha256, m.name, m.kind, m.path);
    if (existing) return fromDb(existing);
    const { lastInsertRowid } = prepared(
      db,
      `INSERT INTO models (name, kind, path, config, param_counts, sha256, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      m.name,
      m.kind,
      m.path,
      JSON.stringify(m.config ?? {}),
      JSON.stringify(m.paramCounts ?? {}),
      m.sha256,
      now(),
    );
    return getModel(db, Number(lastInsertRowid)) as Model;
  })();
}

export function getModel(db: ReadableDb, id: number): Model | undefined {
  const r = prepared<unknown[], ModelDbRow>(db, `${SELECT} WHERE id = ?`).get(id);
  return r ? fromDb(r) : undefined;
}

export function findModelsBySha256(db: ReadableDb, sha256: string): Model[] {
  return prepared<unknown[], ModelDbRow>(db, `${SELECT} WHERE sha256 = ? ORDER BY id`)
    .all(sha256)
    .map(fromDb);
}

export function listModels(db: ReadableDb): Model[] {
  return prepared<unknown[], ModelDbRow>(db, `${SELECT} ORDER BY name COLLATE NOCASE, id`).all().map(fromDb);
}
