// The run queue: runs wait in FIFO order and start when their device has a free slot (default one run at a time
// per device: two CPU runs would only share the same cores, and a GPU holds one model comfortably). Each run trains
// in its own worker thread (worker-entry.ts), which records everything in the store; the queue relays progress,
// turns pause/resume/cancel into store-consistent transitions, and fails a run whose worker died.
import { availableParallelism } from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { ProviderName } from '../../engine/onnx/session.ts';
import { runInWorker, type WorkerJob } from '../../engine/worker/host.ts';
import { RunStateError } from '../db/errors.ts';
import { insertEvent } from '../db/events.ts';
import type { WritableDb } from '../db/open.ts';
import { prepareResume } from '../db/resume.ts';
import { requireRun, transitionRun, type Run, type RunStatus } from '../db/runs.ts';
import { defaultProviders } from '../providers.ts';
import type { RunOutcome, RunProgress } from './execute.ts';
import type { RunWorkerEvent, RunWorkerRequest, RunWorkerResult } from './worker-entry.ts';

/** A run's status changed (or the queue learned of a change made in its worker). */
export interface RunStatusEvent {
  runId: number;
  status: RunStatus;
  error?: string;
}

/** How a run's stint in the queue ended: its status then, and the outcome when the worker returned one. */
export interface RunStop {
  runId: number;
  status: RunStatus;
  error?: string;
  outcome?: RunOutcome;
}

export interface QueueListener {
  progress?(progress: RunProgress): void;
  status?(event: RunStatusEvent): void;
}

export interface QueueOptions {
  /** The database file the workers open (the same file as `db`). */
  dbPath: string;
  /** This process's connection, for transitions of runs no worker holds (cancel a waiting run, a dead worker). */
  db: WritableDb;
  listener?: QueueListener;
  /** Runs at once per device; default 1 for every device. */
  concurrency?: Partial<Record<string, number>>;
  /** Execution providers the workers ask for; default defaultProviders(). The first one names the device. */
  providers?: ProviderName[];
  /** ORT intra-op threads per run; default: the cores divided among the device's concurrent runs. */
  threads?: number;
  /** How long a cancelled run may take to stop before its worker is terminated (default 10 s). */
  stopGraceMs?: number;
  /** At most this many progress events per run per second reach the listener (the last step always does). */
  progressPerSecond?: number;
  /** The worker entry; tests may substitute one. */
  workerEntry?: URL;
}

/** What the queue gives the runs it starts from now on (QueueOptions' three fields, changeable at run time). */
export interface QueueConfig {
  providers: ProviderName[];
  /** null: automatic (the cores divided among a CPU device's concurrent runs, else ORT's default). */
  threads: number | null;
  concurrency: Partial<Record<string, number>>;
}

interface Active {
  runId: number;
  device: string;
  job: WorkerJob<RunWorkerResult>;
  pauseFlag: Int32Array;
  cancelRequested: boolean;
  lastProgressAt: number;
  pendingProgress: RunProgress | undefined;
  progressTimer: NodeJS.Timeout | undefined;
}

/** The built entry is .js beside this file; a checkout runs the .ts through tsx. */
const DEFAULT_ENTRY = new URL(`./worker-entry${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

export class RunQueue {
  readonly #opts: QueueOptions;
  #providers: ProviderName[];
  #threads: number | null;
  #concurrency: Partial<Record<string, number>>;
  readonly #waiting: number[] = [];
  readonly #active = new Map<number, Active>();
  readonly #waiters = new Map<number, ((stop: RunStop) => void)[]>();
  readonly #idleWaiters: (() => void)[] = [];
  #closed = false;

  constructor(options: QueueOptions) {
    this.#opts = options;
    this.#providers = options.providers ?? defaultProviders();
    this.#threads = options.threads ?? null;
    this.#concurrency = { ...options.concurrency };
  }

  /** The providers, threads and per-device concurrency runs started from now on get. */
  get config(): QueueConfig {
    return { providers: [...this.#providers], threads: this.#threads, concurrency: { ...this.#concurrency } };
  }

  /**
   * Changes what runs started from now on get (the Settings page, `settings/set`). Runs already training keep the
   * providers and threads they started with; a larger concurrency starts waiting runs at once.
   */
  configure(patch: Partial<QueueConfig>): void {
    if (patch.providers) {
      if (patch.providers.length === 0) throw new TypeError('the queue needs at least one provider');
      this.#providers = [...patch.providers];
    }
    if (patch.threads !== undefined) this.#threads = patch.threads;
    if (patch.concurrency) this.#concurrency = { ...patch.concurrency };
    this.#pump();
  }

  /** The device runs are charged to: the first provider asked for. */
  get device(): string {
    return this.#providers[0] ?? 'cpu';
  }

  /** Run ids training now, and waiting (in start order). */
  snapshot(): { running: number[]; waiting: number[] } {
    return { running: [...this.#active.keys()], waiting: [...this.#waiting] };
  }

  /** Whether the queue holds the run: 'active' (a worker has it), 'waiting' (position 0 is next), or null. */
  position(runId: number): { state: 'active' } | { state: 'waiting'; position: number } | null {
    if (this.#active.has(runId)) return { state: 'active' };
    const i = this.#waiting.indexOf(runId);
    return i < 0 ? null : { state: 'waiting', position: i };
  }

  /**
   * Queues a run that is 'queued' (never started), 'paused' or 'interrupted' (resumed from its last checkpoint).
   * A run already held is left where it is.
   */
  enqueue(runId: number): Run {
    if (this.#closed) throw new Error('the run queue is closed');
    const run = requireRun(this.#opts.db, runId);
    if (this.position(runId)) return run;
    if (!['queued', 'paused', 'interrupted'].includes(run.status)) {
      throw new RunStateError(runId, run.status, 'running');
    }
    this.#waiting.push(runId);
    this.#pump();
    return requireRun(this.#opts.db, runId);
  }

  /** Resolves when the run next stops (completed, failed, cancelled, paused, ...); at once when the queue lacks it. */
  wait(runId: number): Promise<RunStop> {
    if (!this.position(runId)) {
      const run = requireRun(this.#opts.db, runId);
      return Promise.resolve({ runId, status: run.status, ...(run.error ? { error: run.error } : {}) });
    }
    return new Promise((resolve) => {
      const list = this.#waiters.get(runId) ?? [];
      list.push(resolve);
      this.#waiters.set(runId, list);
    });
  }

  /** Resolves once nothing is training or waiting. */
  idle(): Promise<void> {
    if (this.#active.size === 0 && this.#waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Pauses a training run after its current step: it writes a checkpoint at that step and becomes 'paused', and its
   * worker ends (a paused run holds no thread). A run waiting to resume simply stops waiting.
   */
  async pause(runId: number): Promise<Run> {
    const active = this.#active.get(runId);
    if (active) {
      Atomics.store(active.pauseFlag, 0, 1);
      await this.wait(runId);
      return requireRun(this.#opts.db, runId);
    }
    const run = requireRun(this.#opts.db, runId);
    const i = this.#waiting.indexOf(runId);
    if (i >= 0 && run.status !== 'queued') {
      this.#waiting.splice(i, 1);
      this.#settle({ runId, status: run.status });
      return run;
    }
    throw new RunStateError(runId, run.status, 'paused');
  }

  /** Continues a paused or interrupted run from its last checkpoint (bit-identically; the loop replays seeds). */
  resume(runId: number): Run {
    const run = requireRun(this.#opts.db, runId);
    if (this.position(runId)) return run;
    if (run.status !== 'paused' && run.status !== 'interrupted') {
      throw new RunStateError(runId, run.status, 'running');
    }
    return this.enqueue(runId);
  }

  /**
   * Cancels a run. A training run stops after its current step (its rows so far are kept) and becomes 'cancelled';
   * if it does not stop within stopGraceMs its worker is terminated and the run is marked cancelled here. A waiting,
   * paused or interrupted run is marked cancelled at once.
   */
  async cancel(runId: number): Promise<Run> {
    const active = this.#active.get(runId);
    if (active) {
      active.cancelRequested = true;
      active.job.stop();
      await this.wait(runId);
      return requireRun(this.#opts.db, runId);
    }
    const i = this.#waiting.indexOf(runId);
    if (i >= 0) this.#waiting.splice(i, 1);
    const run = requireRun(this.#opts.db, runId);
    if (run.status === 'running') {
      // Not ours: another process holds the lease. Cancelling under it would interleave two writers.
      throw new RunStateError(runId, `running in process ${run.pid ?? '?'}`, 'cancelled');
    }
    const cancelled = transitionRun(this.#opts.db, runId, 'cancelled');
    this.#opts.listener?.status?.({ runId, status: 'cancelled' });
    this.#settle({ runId, status: 'cancelled' });
    return cancelled;
  }

  /**
   * Stops taking work. `pause` (default) pauses the training runs so they can be resumed later; 'cancel' cancels
   * them. Waiting runs keep their stored status ('queued' runs stay queued for the next session).
   */
  async close(mode: 'pause' | 'cancel' = 'pause'): Promise<void> {
    this.#closed = true;
    for (const id of this.#waiting.splice(0)) {
      this.#settle({ runId: id, status: requireRun(this.#opts.db, id).status });
    }
    await Promise.all(
      [...this.#active.keys()].map((id) =>
        (mode === 'pause' ? this.pause(id) : this.cancel(id)).catch(() => undefined),
      ),
    );
  }

  #slots(device: string): number {
    return Math.max(1, this.#concurrency[device] ?? 1);
  }

  #pump(): void {
    if (this.#closed) return;
    // FIFO: every waiting run goes to the current device, so the first that finds no free slot blocks the rest.
    const device = this.device;
    while (this.#waiting.length > 0) {
      const busy = [...this.#active.values()].filter((a) => a.device === device).length;
      if (busy >= this.#slots(device)) break;
      this.#start(this.#waiting.shift() as number, device);
    }
  }

  #start(runId: number, device: string): void {
    const slots = this.#slots(device);
    const threads =
      this.#threads ??
      (device === 'cpu' && slots > 1 ? Math.max(1, Math.floor(availableParallelism() / slots)) : undefined);
    const providers = [...this.#providers];
    // The store says 'running' before anyone is told so: a UI that reloads after the status event must never read
    // 'queued' back. The worker shares this process's pid, so the lease taken here is the worker's (executeRun's
    // `claimed`). An interrupted run drops its rows past the last checkpoint in the same transaction.
    try {
      const run = requireRun(this.#opts.db, runId);
      if (run.status === 'interrupted') prepareResume(this.#opts.db, runId, { pid: process.pid });
      else transitionRun(this.#opts.db, runId, 'running', { pid: process.pid });
    } catch (error) {
      // Another process took the run first, or its checkpoint is corrupt: it stays as the store says.
      const status = requireRun(this.#opts.db, runId).status;
      const message = error instanceof Error ? error.message : String(error);
      this.#opts.listener?.status?.({ runId, status, error: message });
      this.#settle({ runId, status, error: message });
      return;
    }
    // What this stint was given, so a run's record says which providers and threads it asked for (the provider
    // that actually loaded the model is the run's executionProvider, written by the worker).
    insertEvent(this.#opts.db, {
      runId,
      level: 'info',
      kind: 'run/worker',
      message: { device, providers, threads: threads ?? null },
    });
    const pauseFlag = new Int32Array(new SharedArrayBuffer(4));
    const request: RunWorkerRequest = {
      dbPath: this.#opts.dbPath,
      runId,
      providers,
      claimed: true,
      pauseFlag: pauseFlag.buffer as SharedArrayBuffer,
      ...(threads ? { threads } : {}),
    };
    const active: Active = {
      runId,
      device,
      pauseFlag,
      cancelRequested: false,
      lastProgressAt: 0,
      pendingProgress: undefined,
      progressTimer: undefined,
      job: runInWorker<RunWorkerRequest, RunWorkerEvent, RunWorkerResult>(
        this.#opts.workerEntry ?? DEFAULT_ENTRY,
        request,
        {
          stopGraceMs: this.#opts.stopGraceMs ?? 10_000,
          onEvent: (event) => this.#progress(active, event.progress),
        },
      ),
    };
    this.#active.set(runId, active);
    this.#opts.listener?.status?.({ runId, status: 'running' });
    active.job.result.then(
      (outcome) => this.#finish(active, outcome, undefined),
      (error: unknown) => this.#finish(active, undefined, error),
    );
  }

  /** Relays progress at most progressPerSecond times a second per run, always including the latest step. */
  #progress(active: Active, progress: RunProgress): void {
    const listener = this.#opts.listener?.progress;
    if (!listener) return;
    const gap = 1000 / (this.#opts.progressPerSecond ?? 20);
    const now = performance.now();
    if (now - active.lastProgressAt >= gap || progress.step >= progress.totalSteps) {
      clearTimeout(active.progressTimer);
      active.progressTimer = undefined;
      active.pendingProgress = undefined;
      active.lastProgressAt = now;
      listener(progress);
      return;
    }
    active.pendingProgress = progress;
    active.progressTimer ??= setTimeout(() => this.#flushProgress(active), gap);
  }

  #flushProgress(active: Active): void {
    clearTimeout(active.progressTimer);
    active.progressTimer = undefined;
    const p = active.pendingProgress;
    active.pendingProgress = undefined;
    if (p) {
      active.lastProgressAt = performance.now();
      this.#opts.listener?.progress?.(p);
    }
  }

  #finish(active: Active, outcome: RunOutcome | undefined, error: unknown): void {
    this.#flushProgress(active);
    const { runId } = active;
    let stop: RunStop;
    if (outcome) {
      stop = { runId, status: outcome.status, outcome, ...(outcome.error ? { error: outcome.error } : {}) };
    } else {
      stop = this.#afterFailure(active, error);
    }
    this.#active.delete(runId);
    this.#opts.listener?.status?.({
      runId,
      status: stop.status,
      ...(stop.error ? { error: stop.error } : {}),
    });
    this.#settle(stop);
    this.#pump();
  }

  /**
   * The worker threw or died. executeRun marks the runs it fails itself; a run still 'running' here lost its worker
   * (terminated after a cancel's grace period, out of memory, a crash in native code), so the queue records it.
   */
  #afterFailure(active: Active, error: unknown): RunStop {
    const { runId } = active;
    const message = error instanceof Error ? error.message : String(error);
    // Lost a compare-and-set (another process took the run first): that process owns the run; record nothing.
    if (error instanceof RunStateError) return { runId, status: requireRun(this.#opts.db, runId).status };
    let run = requireRun(this.#opts.db, runId);
    if (run.status === 'running' || run.status === 'queued') {
      const to: RunStatus = active.cancelRequested && run.status === 'running' ? 'cancelled' : 'failed';
      try {
        run = transitionRun(this.#opts.db, runId, to, to === 'failed' ? { error: message } : {});
      } catch {
        run = requireRun(this.#opts.db, runId);
      }
    }
    return { runId, status: run.status, ...(run.error ? { error: run.error } : {}) };
  }

  #settle(stop: RunStop): void {
    const list = this.#waiters.get(stop.runId) ?? [];
    this.#waiters.delete(stop.runId);
    for (const resolve of list) resolve(stop);
    if (this.#active.size === 0 && this.#waiting.length === 0) {
      for (const resolve of this.#idleWaiters.splice(0)) resolve();
    }
  }
}
