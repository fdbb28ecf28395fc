// The run lease: a running run records the pid of the process writing it and a heartbeat the writer refreshes.
// At startup the app calls markInterruptedRuns(): a running or paused run whose process is gone — or has been
// silent for longer than staleMs, which also covers a pid reused by an unrelated process — becomes 'interrupted'
// and can be resumed from its last checkpoint (resume.ts).
import { RunLeaseLostError } from './errors.ts';
import { insertEvent } from './events.ts';
import type { WritableDb } from './open.ts';
import type { Clock } from './sql.ts';
import { prepared, systemClock } from './sql.ts';

/** Default silence after which a lease is presumed dead even if its pid exists (a step never takes this long). */
export const DEFAULT_STALE_MS = 5 * 60_000;

/** Whether a process exists. EPERM means it exists but is not ours to signal. */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Refreshes the heartbeat of a run held by `pid`. Throws RunLeaseLostError when the run is no longer running or
 * paused under this pid, so a writer that was presumed dead stops instead of writing alongside its successor.
 */
export function heartbeat(db: WritableDb, runId: number, pid: number, now: Clock = systemClock): void {
  const { changes } = prepared(
    db,
    `UPDATE runs SET heartbeat_at = ? WHERE id = ? AND pid = ? AND status IN ('running', 'paused')`,
  ).run(now(), runId, pid);
  if (changes !== 1) throw new RunLeaseLostError(runId, pid);
}

export interface MarkInterruptedOptions {
  now?: Clock;
  staleMs?: number;
  isAlive?: (pid: number) => boolean;
}

export interface InterruptedRun {
  runId: number;
  pid: number | null;
  reason: 'process-gone' | 'heartbeat-stale' | 'no-lease';
}

/** Marks every running/paused run whose process died as 'interrupted' (releasing its lease); returns them. */
export function markInterruptedRuns(db: WritableDb, opts: MarkInterruptedOptions = {}): InterruptedRun[] {
  const now = (opts.now ?? systemClock)();
  const staleMs = opts.staleMs ?? DEFAULT_STALE_MS;
  const isAlive = opts.isAlive ?? isProcessAlive;
  return db
    .transaction(() => {
      const held = prepared<
        unknown[],
        { id: number; status: string; pid: number | null; heartbeat_at: number | null }
      >(
        db,
        `SELECT id, status, pid, heartbeat_at FROM runs WHERE status IN ('running', 'paused') ORDER BY id`,
      ).all();
      const out: InterruptedRun[] = [];
      for (const r of held) {
        const reason: InterruptedRun['reason'] | undefined =
          r.pid === null
            ? 'no-lease'
            : !isAlive(r.pid)
              ? 'process-gone'
              : r.heartbeat_at === null || now - r.heartbeat_at > staleMs
                ? 'heartbeat-stale'
                : undefined;
        if (!reason) continue;
        // Still compare-and-set on (status, pid), so the update cannot hit a row that changed under another
        // connection were this ever called outside the IMMEDIATE transaction it runs in here.
        const { changes } = prepared(
          db,
          `UPDATE runs SET status = 'interrupted', pid = NULL WHERE id = ? AND status = ? AND pid IS ?`,
        ).run(r.id, r.status, r.pid);
        if (changes !== 1) continue;
        insertEvent(db, {
          runId: r.id,
          ts: now,
          level: 'warn',
          kind: 'run/interrupted',
          message: { from: r.status, pid: r.pid, reason, heartbeatAt: r.heartbeat_at },
        });
        out.push({ runId: r.id, pid: r.pid, reason });
      }
      return out;
    })
    .immediate();
}
