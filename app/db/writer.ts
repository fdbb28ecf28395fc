// The batched writer a training process uses. Rows are buffered in memory and committed in one transaction per
// `maxRows` rows or per `intervalMs`, whichever comes first — a commit costs about as much as a few hundred row
// inserts, so per-step commits would dominate. The interval is checked on every add (a synchronous training loop
// starves timers) and by an unref'd timer for quiet periods. A checkpoint first commits everything buffered, in
// the same transaction as its row, so a checkpoint at step S always comes with the metrics up to S.
import type { AllocationRow } from './allocations.ts';
import { insertAllocations } from './allocations.ts';
import type { CheckpointInfo, CheckpointInput, CheckpointOptions } from './checkpoints.ts';
import { discardStaged, insertStagedCheckpoint, pruneCheckpoints, stageCheckpoint } from './checkpoints.ts';
import type { EvaluationRow } from './evaluations.ts';
import { insertEvaluations } from './evaluations.ts';
import type { EventLevel, NewEvent } from './events.ts';
import { insertEvents } from './events.ts';
import { heartbeat } from './lease.ts';
import type { MetricRow } from './metrics.ts';
import { insertMetrics } from './metrics.ts';
import type { WritableDb } from './open.ts';
import type { Clock } from './sql.ts';
import { systemClock } from './sql.ts';
import type { StepRow } from './steps.ts';
import { insertSteps } from './steps.ts';

export interface WriterOptions {
  /** Commit when this many rows (of all kinds) are buffered. */
  maxRows?: number;
  /** ... or when this many ms have passed since the last commit. */
  intervalMs?: number;
  /**
   * The process holding the run's lease. When set, every commit refreshes the heartbeat and fails with
   * RunLeaseLostError if the run was taken away (marked interrupted or resumed elsewhere) — in the same
   * transaction, so a writer that lost its lease commits nothing more.
   */
  pid?: number;
  now?: Clock;
  /** Also flush from an unref'd timer every intervalMs (default true). */
  timer?: boolean;
  /** Where and how checkpoints are stored; keep = how many to retain (older ones are pruned). */
  checkpoints?: CheckpointOptions & { keep?: number };
}

export class RunWriter {
  readonly #db: WritableDb;
  readonly #maxRows: number;
  readonly #intervalMs: number;
  readonly #now: Clock;
  readonly #pid: number | undefined;
  readonly #checkpoints: CheckpointOptions & { keep?: number };
  #metrics: MetricRow[] = [];
  #allocations: AllocationRow[] = [];
  #steps: StepRow[] = [];
  #evaluations: EvaluationRow[] = [];
  #events: NewEvent[] = [];
  #lastFlush: number;
  #timer: NodeJS.Timeout | undefined;
  #failure: unknown;
  #closed = false;

  constructor(
    db: WritableDb,
    readonly runId: number,
    opts: WriterOptions = {},
  ) {
    this.#db = db;
    this.#maxRows = opts.maxRows ?? 256;
    this.#intervalMs = opts.intervalMs ?? 1000;
    this.#now = opts.now ?? systemClock;
    this.#pid = opts.pid;
    this.#checkpoints = opts.checkpoints ?? {};
    this.#lastFlush = this.#now();
    if (opts.timer ?? true) {
      this.#timer = setInterval(() => this.#flushFromTimer(), this.#intervalMs);
      // Never keep a process alive just to flush an idle writer; close() flushes the rest.
      this.#timer.unref();
    }
  }

  /** Rows buffered and not yet committed. */
  get pending(): number {
    return (
      this.#metrics.length +
      this.#allocations.length +
      this.#steps.length +
      this.#evaluations.length +
      this.#events.length
    );
  }

  metric(row: MetricRow): void {
    this.#check();
    this.#metrics.push({ ...row });
    this.#maybeFlush();
  }

  /** The arrays are copied: the engine reuses its per-step buffers. */
  allocation(row: AllocationRow): void {
    this.#check();
    this.#allocations.push({
      ...row,
      sampleIds: row.sampleIds.slice(),
      counts: row.counts.slice(),
      losses: row.losses.slice(),
    });
    this.#maybeFlush();
  }

  step(row: StepRow): void {
    this.#check();
    this.#steps.push({ ...row, scalars: row.scalars.slice() });
    this.#maybeFlush();
  }

  evaluation(row: EvaluationRow): void {
    this.#check();
    this.#evaluations.push({ ...row });
    this.#maybeFlush();
  }

  event(level: EventLevel, kind: string, message: unknown): void {
    this.#check();
    this.#events.push({ runId: this.runId, level, kind, message, ts: this.#now() });
    this.#maybeFlush();
  }

  /**
   * Writes a checkpoint: the parameter file (if not inline) first, then — in one transaction — every buffered
   * row and the checkpoint's row. Older checkpoints beyond `keep` are pruned after the commit.
   */
  checkpoint(input: CheckpointInput): CheckpointInfo {
    this.#check();
    const staged = stageCheckpoint(this.#db, this.runId, input, { now: this.#now, ...this.#checkpoints });
    let info: CheckpointInfo;
    try {
      info = this.#commit(() => insertStagedCheckpoint(this.#db, staged));
    } catch (err) {
      discardStaged(staged);
      throw err;
    }
    const keep = this.#checkpoints.keep;
    if (keep !== undefined) pruneCheckpoints(this.#db, this.runId, keep);
    return info;
  }

  /** Commits everything buffered now. */
  flush(): void {
    this.#check();
    this.#commit(() => undefined);
  }

  /** Flushes and stops the timer. Further calls throw. */
  close(): void {
    if (this.#closed) return;
    try {
      if (this.#failure === undefined) this.#commit(() => undefined);
    } finally {
      this.#closed = true;
      clearInterval(this.#timer);
    }
    if (this.#failure !== undefined) throw this.#failure;
  }

  #check(): void {
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#closed) throw new Error(`writer of run ${this.runId} is closed`);
  }

  #maybeFlush(): void {
    if (this.pending >= this.#maxRows || this.#now() - this.#lastFlush >= this.#intervalMs) {
      this.#commit(() => undefined);
    }
  }

  #flushFromTimer(): void {
    if (this.#closed || this.#failure !== undefined) return;
    if (this.#now() - this.#lastFlush < this.#intervalMs) return;
    // With a lease, an empty commit is the heartbeat that keeps a paused or slow run from looking dead.
    if (this.pending === 0 && this.#pid === undefined) return;
    try {
      this.#commit(() => undefined);
    } catch {
      // Recorded in #failure by #commit; the next call from the training loop throws it.
    }
  }

  /** One IMMEDIATE transaction: buffered rows, heartbeat, then `extra`. Buffers are cleared only on commit. */
  #commit<T>(extra: () => T): T {
    const db = this.#db;
    const now = this.#now;
    try {
      const result = db
        .transaction(() => {
          if (this.#pid !== undefined) heartbeat(db, this.runId, this.#pid, now);
          insertMetrics(db, this.runId, this.#metrics);
          insertAllocations(db, this.runId, this.#allocations);
          insertSteps(db, this.runId, this.#steps);
          insertEvaluations(db, this.runId, this.#evaluations);
          insertEvents(db, this.#events);
          return extra();
        })
        .immediate();
      this.#metrics = [];
      this.#allocations = [];
      this.#steps = [];
      this.#evaluations = [];
      this.#events = [];
      this.#lastFlush = now();
      return result;
    } catch (err) {
      // Sticky: rows after a failed commit would be written out of order or against a lost lease.
      this.#failure = err;
      throw err;
    }
  }
}

export function openRunWriter(db: WritableDb, runId: number, opts: WriterOptions = {}): RunWriter {
  return new RunWriter(db, runId, opts);
}
