// Datasets and their immutable, content-addressed versions (the importer's DatasetVersionRecord, stored).
import type { ReadableDb, WritableDb } from './open.ts';
import type { Clock, JsonValue } from './sql.ts';
import { fromJson, prepared, systemClock, toJson } from './sql.ts';

export interface DatasetVersionInput {
  /** sha256 hex of the content (pixels, labels, class names, split). */
  id: string;
  /** The dataset's name; the dataset row is created on first use. */
  name: string;
  source: { kind: string; path: string; [extra: string]: unknown };
  classes: readonly string[];
  count: number;
  /** Per split counts (and per class), as the importer resolved them. */
  splitCounts: unknown;
  height: number;
  width: number;
  channels: number;
  /** How the split was made (kind + spec). */
  splitSpec: unknown;
  preprocess?: unknown;
  cachePath?: string | null;
  report?: unknown;
  /** Unix ms; default now. */
  createdAt?: number;
}

export interface DatasetVersion {
  id: string;
  datasetId: number;
  name: string;
  sourceKind: string;
  sourcePath: string;
  source: JsonValue;
  classes: string[];
  count: number;
  splitCounts: JsonValue;
  height: number;
  width: number;
  channels: number;
  splitSpec: JsonValue;
  preprocess: JsonValue | null;
  cachePath: string | null;
  report: JsonValue | null;
  createdAt: number;
}

/**
 * Stores a dataset version, creating its dataset by name if needed. The id is a content hash, so saving the same
 * version again is a no-op that returns the stored record (re-importing identical files changes nothing).
 */
export function saveDatasetVersion(
  db: WritableDb,
  v: DatasetVersionInput,
  now: Clock = systemClock,
): DatasetVersion {
  const ts = v.createdAt ?? now();
  db.transaction(() => {
    prepared(db, 'INSERT INTO datasets (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING').run(
      v.name,
      ts,
    );
    const datasetId = prepared(db, 'SELECT id FROM datasets WHERE name = ?').pluck().get(v.name) as number;
    prepared(
      db,
      `INSERT INTO dataset_versions (id, dataset_id, source_kind, source_path, source, class_names, count, split_counts,
         height, width, channels, split_spec, preprocess, cache_path, import_report, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
    ).run(
      v.id,
      datasetId,
      v.source.kind,
      v.source.path,
      JSON.stringify(v.source),
      JSON.stringify(v.classes),
      v.count,
      JSON.stringify(v.splitCounts ?? {}),
      v.height,
      v.width,
      v.channels,
      JSON.stringify(v.splitSpec ?? {}),
      toJson(v.preprocess),
      v.cachePath ?? null,
      toJson(v.report),
      ts,
    );
  })();
  return getDatasetVersion(db, v.id) as DatasetVersion;
}

interface VersionDbRow {
  id: string;
  dataset_id: number;
  name: string;
  source_kind: string;
  source_path: string;
  source: string;
  class_names: string;
  count: number;
  split_counts: string;
  height: number;
  width: number;
  channels: number;
  split_spec: string;
  preprocess: string | null;
  cache_path: string | null;
  import_report: string | null;
  created_at: number;
}

const VERSION_SELECT = `SELECT v.id, v.dataset_id, d.name, v.source_kind, v.source_path, v.source, v.class_names, v.count,
  v.split_counts, v.height, v.width, v.channels, v.split_spec, v.preprocess, v.cache_path, v.import_report, v.created_at
  FROM dataset_versions v JOIN datasets d ON d.id = v.dataset_id`;

function fromDb(r: VersionDbRow): DatasetVersion {
  return {
    id: r.id,
    datasetId: r.dataset_id,
    name: r.name,
    sourceKind: r.source_kind,
    sourcePath: r.source_path,
    source: JSON.parse(r.source) as JsonValue,
    classes: JSON.parse(r.class_names) as string[],
    count: r.count,
    splitCounts: JSON.parse(r.split_counts) as JsonValue,
    height: r.height,
    width: r.width,
    channels: r.channels,
    splitSpec: JSON.parse(r.split_spec) as JsonValue,
    preprocess: fromJson(r.preprocess),
    cachePath: r.cache_path,
    report: fromJson(r.import_report),
    createdAt: r.created_at,
  };
}

export function getDatasetVersion(db: ReadableDb, id: string): DatasetVersion | undefined {
  const r = prepared<unknown[], VersionDbRow>(db, `${VERSION_SELECT} WHERE v.id = ?`).get(id);
  return r ? fromDb(r) : undefined;
}

/** Every dataset version, newest first, optionally of one dataset. */
export function listDatasetVersions(db: ReadableDb, name?: string): DatasetVersion[] {
  return prepared<unknown[], VersionDbRow>(
    db,
    `${VERSION_SELECT} WHERE @name IS NULL OR d.name = @name ORDER BY v.created_at DESC, v.id`,
  )
    .all({ name: name ?? null })
    .map(fromDb);
}
