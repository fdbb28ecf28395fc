// Evaluation passes (val/test, or a train-set pass) at given steps.
import type { ReadableDb, WritableDb } from './open.ts';
import { prepared } from './sql.ts';

export type EvalSplit = 'train' | 'val' | 'test';

export interface EvaluationRow {
  step: number;
  split: EvalSplit;
  loss: number | null;
  accuracy: number | null;
  /** Examples evaluated. */
  examples: number;
  wallMs: number;
}

export function insertEvaluations(db: WritableDb, runId: number, rows: readonly EvaluationRow[]): void {
  const stmt = prepared(
    db,
    `INSERT INTO evaluations (run_id, step, split, loss, accuracy, examples, wall_ms) VALUES (?, ?, ?, ?, ?, ?, ?)`,
  );
  db.transaction(() => {
    for (const r of rows) stmt.run(runId, r.step, r.split, r.loss, r.accuracy, r.examples, r.wallMs);
  })();
}

/** A run's evaluations in step order, optionally one split. */
export function listEvaluations(db: ReadableDb, runId: number, split?: EvalSplit): EvaluationRow[] {
  return prepared<unknown[], EvaluationRow>(
    db,
    `SELECT step, split, loss, accuracy, examples, wall_ms AS wallMs FROM evaluations
     WHERE run_id = @run AND (@split IS NULL OR split = @split) ORDER BY step, split`,
  ).all({ run: runId, split: split ?? null });
}
