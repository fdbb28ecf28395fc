// Dataset use cases: import into the workspace's cache and record the version in the store.
import { saveDatasetVersion, listDatasetVersions, type DatasetVersion } from '../db/datasets.ts';
import type { Workspace } from '../workspace.ts';
import { importImageFolder } from './import.ts';
import type { PreprocessConfig } from './preprocess.ts';
import type { DatasetVersionRecord } from './types.ts';

export function recordDatasetVersion(ws: Workspace, record: DatasetVersionRecord): DatasetVersion {
  return saveDatasetVersion(ws.db, {
    id: record.id,
    name: record.name,
    source: { ...record.source },
    classes: record.classes,
    count: record.count,
    splitCounts: { counts: record.splits.counts, perClass: record.splits.perClass },
    height: record.height,
    width: record.width,
    channels: record.channels,
    splitSpec: { kind: record.splits.kind, spec: record.splits.spec },
    preprocess: record.preprocess,
    cachePath: record.cachePath,
    report: record.report,
    createdAt: Date.parse(record.createdAt),
  });
}

export async function importFolderDataset(
  ws: Workspace,
  args: {
    path: string;
    name?: string;
    preprocess: PreprocessConfig;
    onProgress?: (p: { done: number; total: number }) => void;
  },
): Promise<{ version: DatasetVersion; record: DatasetVersionRecord }> {
  const record = await importImageFolder(args.path, {
    cacheRoot: ws.paths.datasets,
    preprocess: args.preprocess,
    name: args.name,
    onProgress: args.onProgress,
  });
  return { version: recordDatasetVersion(ws, record), record };
}

export function listDatasets(ws: Workspace): DatasetVersion[] {
  return listDatasetVersions(ws.db);
}
