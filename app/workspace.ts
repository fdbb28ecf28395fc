// The open workspace: the data folder and its database. Opening it also marks runs whose process died as
// 'interrupted' (their lease expired), so they can be resumed.
import { mkdirSync } from 'node:fs';

import { dataPaths } from './data-dir.ts';
import { markInterruptedRuns, type InterruptedRun } from './db/lease.ts';
import { openDb, type WritableDb } from './db/open.ts';

export interface Workspace {
  dataDir: string;
  db: WritableDb;
  paths: ReturnType<typeof dataPaths>;
  interrupted: InterruptedRun[];
  close(): void;
}

export function openWorkspace(dataDir: string): Workspace {
  const paths = dataPaths(dataDir);
  mkdirSync(paths.datasets, { recursive: true });
  const db = openDb(paths.db);
  const interrupted = markInterruptedRuns(db);
  return { dataDir, db, paths, interrupted, close: () => db.close() };
}
