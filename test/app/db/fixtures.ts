// Shared fixtures of the store tests: a migrated store on a temp file, and row factories.
import { join } from 'node:path';

import { onTestFinished } from 'vitest';

import type { MetricRow } from '../../../app/db/metrics.ts';
import { openDb, type WritableDb } from '../../../app/db/open.ts';
import { createRun, type NewRun, type Run } from '../../../app/db/runs.ts';
import { tempDir } from '../../migrations/helpers.ts';

export { tempDir };

/** A fully migrated store on a temp file, closed after the test; `dir` holds the file (and checkpoint files). */
export function openTestStore(): { db: WritableDb; dir: string; file: string } {
  const dir = tempDir();
  const file = join(dir, 'store.sqlite');
  const db = openDb(file);
  onTestFinished(() => {
    if (db.open) db.close();
  });
  return { db, dir, file };
}

export function addRun(db: WritableDb, overrides: Partial<NewRun> = {}): Run {
  return createRun(db, { name: 'run', requestedConfig: { lr: 1e-3 }, seed: 1, ...overrides }, () => 1000);
}

/** A deterministic metric row; `value` drives the loss so tests can shape curves. */
export function metricRow(
  step: number,
  value: number | null = Math.sin(step * 0.37) + step * 1e-3,
): MetricRow {
  return {
    step,
    epoch: Math.floor(step / 100),
    queries: step * 640,
    forwardRows: step * 704,
    trainLoss: value,
    trainAcc: value === null ? null : 1 / (1 + Math.abs(value)),
    lr: 1e-3 * (1 + (step % 7)),
    gradNorm: Math.abs(Math.cos(step * 0.11)) * 3,
    varianceEstimate: ((step * 2654435761) % 1000) / 1000,
    wallMs: step * 12.5,
  };
}

/** A small seeded PRNG (mulberry32) so random test data is reproducible. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
