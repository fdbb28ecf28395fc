// Replay information per step (conventions 10): the step seed and the per-direction projected-gradient scalars.
// With the run's resolved config and a checkpoint, these let any step be recomputed and audited exactly.
import { decodeFloat32, encodeFloat32 } from './blob.ts';
import type { ReadableDb, WritableDb } from './open.ts';
import { prepared } from './sql.ts';

export interface StepRow {
  step: number;
  /** u32 step seed; every draw of the step derives from it (engine/rng.ts deriveSeed). */
  seed: number;
  /** Projected-gradient scalar per direction (SPSA s_k). */
  scalars: Float32Array;
}

export function insertSteps(db: WritableDb, runId: number, rows: readonly StepRow[]): void {
  const stmt = prepared(
    db,
    'INSERT INTO steps (run_id, step, seed, directions, scalars) VALUES (?, ?, ?, ?, ?)',
  );
  db.transaction(() => {
    for (const r of rows) stmt.run(runId, r.step, r.seed, r.scalars.length, encodeFloat32(r.scalars));
  })();
}

export function readSteps(
  db: ReadableDb,
  runId: number,
  range: { fromStep?: number; toStep?: number; limit?: number } = {},
): StepRow[] {
  return prepared<unknown[], { step: number; seed: number; scalars: Buffer }>(
    db,
    'SELECT step, seed, scalars FROM steps WHERE run_id = ? AND step BETWEEN ? AND ? ORDER BY step LIMIT ?',
  )
    .all(runId, range.fromStep ?? 0, range.toStep ?? Number.MAX_SAFE_INTEGER, range.limit ?? -1)
    .map((r) => ({ step: r.step, seed: r.seed, scalars: decodeFloat32(r.scalars) }));
}
