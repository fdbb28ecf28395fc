// What resuming an interrupted run needs from the store. Convention: a checkpoint at step S holds the state AFTER
// step S, and the writer commits every row of steps <= S together with it; rows past S were written by the dead
// process after its last checkpoint, and the resumed loop will write them again, so they are deleted first.
import { checkpointFiles, latestCheckpoint, removeFiles, type Checkpoint } from './checkpoints.ts';
import { RunStateError } from './errors.ts';
import { insertEvent } from './events.ts';
import { truncateMetricsAfter } from './metrics.ts';
import type { WritableDb } from './open.ts';
import { requireRun, transitionRun, type Run } from './runs.ts';
import type { Clock } from './sql.ts';
import { prepared, systemClock } from './sql.ts';

/** Deletes every per-step row of a run after `step` (metrics with their rollups, allocations, steps, evaluations,
 *  checkpoints), then the deleted checkpoints' files. step = -1 clears the run's history entirely. */
export function truncateRunAfter(db: WritableDb, runId: number, step: number): void {
  const files = checkpointFiles(db, runId, step);
  db.transaction(() => deleteRowsAfter(db, runId, step))();
  // Files go after the commit: a crash in between leaves orphans, never rows pointing at deleted files.
  removeFiles(files);
}

function deleteRowsAfter(db: WritableDb, runId: number, step: number): void {
  truncateMetricsAfter(db, runId, step);
  // Table names come from this constant list, never from input.
  for (const table of ['allocations', 'steps', 'evaluations', 'checkpoints'] as const) {
    prepared(db, `DELETE FROM ${table} WHERE run_id = ? AND step > ?`).run(runId, step);
  }
}

export interface ResumePoint {
  run: Run;
  /** The verified checkpoint to restore; undefined means start over from step 0 with the run's seed. */
  checkpoint: Checkpoint | undefined;
}

/**
 * Takes an interrupted run back to 'running' under `pid`: verifies its latest checkpoint (CheckpointCorruptError
 * if the bytes are bad), drops the rows written after it, and takes the lease — all in one transaction, so two
 * processes cannot both resume it. The caller restores the checkpoint into the engine and continues at step + 1.
 */
export function prepareResume(
  db: WritableDb,
  runId: number,
  opts: { pid: number; now?: Clock },
): ResumePoint {
  const now = opts.now ?? systemClock;
  let files: string[] = [];
  const point = db
    .transaction((): ResumePoint => {
      const run = requireRun(db, runId);
      if (run.status !== 'interrupted') throw new RunStateError(runId, run.status, 'running');
      const checkpoint = latestCheckpoint(db, runId);
      const from = checkpoint?.step ?? -1;
      files = checkpointFiles(db, runId, from);
      deleteRowsAfter(db, runId, from);
      const resumed = transitionRun(db, runId, 'running', { pid: opts.pid, now });
      insertEvent(db, { runId, ts: now(), level: 'info', kind: 'run/resumed', message: { fromStep: from } });
      return { run: resumed, checkpoint };
    })
    .immediate();
  removeFiles(files);
  return point;
}
