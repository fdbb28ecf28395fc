// The worker side of one queued run. Each run trains in its own worker_threads Worker (conventions 5: ORT's run()
// blocks its thread), opens its own connection to the same database file (a better-sqlite3 handle cannot cross
// threads) and drives executeRun, which records everything. Progress goes back to the queue as events.
import { defineJob } from '../../engine/worker/job.ts';
import type { ProviderName } from '../../engine/onnx/session.ts';
import { openDb } from '../db/open.ts';
import { executeRun, type RunOutcome, type RunProgress } from './execute.ts';

export interface RunWorkerRequest {
  dbPath: string;
  runId: number;
  providers?: ProviderName[];
  threads?: number;
  /** The queue has already moved the run to 'running' under this process's pid (see executeRun's `claimed`). */
  claimed?: boolean;
  /** Int32Array(1): the queue stores 1 to ask for a pause. A stop comes through the job's own control word. */
  pauseFlag: SharedArrayBuffer;
}

export type RunWorkerEvent = { type: 'progress'; progress: RunProgress };

export type RunWorkerResult = RunOutcome;

/** How often the worker looks at its control words while its event loop turns (between ORT calls, imports). */
const POLL_MS = 50;

defineJob<RunWorkerRequest, RunWorkerEvent, RunWorkerResult>(async (req, ctx) => {
  // The parent opened, migrated and checked this file; repeating it here would only add a full-file read.
  const db = openDb(req.dbPath, { migrate: false, integrityCheck: false });
  const controller = new AbortController();
  const pause = new Int32Array(req.pauseFlag);
  // train() stops after the current step once the signal is aborted; reason 'pause' makes it a resumable pause.
  const poll = (): void => {
    if (controller.signal.aborted) return;
    if (ctx.stopRequested) controller.abort('stop');
    else if (Atomics.load(pause, 0) === 1) controller.abort('pause');
  };
  // A head-only problem never yields to the event loop between steps, so the per-step callback polls as well.
  const timer = setInterval(poll, POLL_MS);
  poll();
  try {
    return await executeRun(db, req.runId, {
      signal: controller.signal,
      onProgress: (progress) => {
        ctx.emit({ type: 'progress', progress });
        poll();
      },
      ...(req.providers ? { providers: req.providers } : {}),
      ...(req.threads ? { threads: req.threads } : {}),
      ...(req.claimed ? { claimed: true } : {}),
    });
  } finally {
    clearInterval(timer);
    db.close();
  }
});
