// Caller side of a job: starts the job's entry file in a worker_threads Worker and turns its messages into a
// typed promise plus events, so the caller's event loop (Electron main, CLI progress bar, app server) never
// blocks on ONNX Runtime, whose run() is synchronous native code.
import { fileURLToPath } from 'node:url';
import { Worker, type ResourceLimits, type WorkerOptions } from 'node:worker_threads';

import {
  CONTROL_STATE,
  PAUSED,
  RUNNING,
  STOPPING,
  reviveError,
  type HostToWorker,
  type JobWorkerData,
  type WorkerToHost,
} from './protocol.ts';

export interface RunInWorkerOptions<Ev> {
  /** Aborting asks the job to stop (see WorkerJob.stop). */
  signal?: AbortSignal;
  onEvent?: (event: Ev) => void;
  /** How long a stop may take before the worker is terminated (default 10 s). */
  stopGraceMs?: number;
  resourceLimits?: ResourceLimits;
  /** Node flags of the worker (default: inherited from this process). */
  execArgv?: string[];
}

export interface WorkerJob<Res> {
  /** Resolves with the job's return value (also after a stop the job honoured), rejects with its error. */
  readonly result: Promise<Res>;
  readonly threadId: number;
  /** The job blocks at its next checkpoint until resume() or stop(). */
  pause(): void;
  resume(): void;
  /**
   * Asks the job to stop at its next checkpoint and return. If it has not finished after stopGraceMs, the worker
   * is terminated and `result` rejects with an AbortError.
   */
  stop(): void;
}

/** The stop and abort failures carry this name, as DOM/Node abort errors do. */
function abortError(message: string, cause?: unknown): DOMException {
  const e = new DOMException(message, 'AbortError');
  if (cause !== undefined) Object.defineProperty(e, 'cause', { value: cause });
  return e;
}

let tsxApi: string | undefined;
/** tsx's ESM API as an absolute URL, so the worker finds it whatever the current directory is. */
function tsxApiUrl(): string {
  tsxApi ??= import.meta.resolve('tsx/esm/api');
  return tsxApi;
}

/**
 * A .ts entry is started through a tiny eval'd bootstrap that registers tsx's loader hooks in the worker and
 * then imports the entry. `execArgv: ['--import', 'tsx']` does not work for workers on Node 20 (the entry is
 * resolved before the hooks apply: ERR_UNKNOWN_FILE_EXTENSION, seen on 20.20), while register() then import() works.
 */
function spawn(entry: URL, options: WorkerOptions): Worker {
  if (!fileURLToPath(entry).endsWith('.ts')) return new Worker(entry, options);
  const code =
    `import(${JSON.stringify(tsxApiUrl())})` +
    `.then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(code, { ...options, eval: true });
}

/**
 * Runs the job declared (with defineJob) by the entry module in a new worker thread. Entries ending in .ts are
 * loaded through tsx (development and tests); built .js entries are loaded directly.
 */
export function runInWorker<Req, Ev, Res>(
  entry: URL,
  request: Req,
  options: RunInWorkerOptions<Ev> = {},
): WorkerJob<Res> {
  const { signal, onEvent, stopGraceMs = 10_000 } = options;
  if (signal?.aborted) {
    return {
      result: Promise.reject(abortError('aborted before start', signal.reason)),
      threadId: -1,
      pause() {},
      resume() {},
      stop() {},
    };
  }
  const controlBuffer = new SharedArrayBuffer(4);
  const control = new Int32Array(controlBuffer);
  const workerData: JobWorkerData<Req> = { flopsJob: true, request, control: controlBuffer };
  const worker = spawn(entry, {
    workerData,
    ...(options.execArgv && { execArgv: options.execArgv }),
    ...(options.resourceLimits && { resourceLimits: options.resourceLimits }),
  });

  let settled = false;
  let stopTimer: NodeJS.Timeout | undefined;
  let resolveResult!: (r: Res) => void;
  let rejectResult!: (e: unknown) => void;
  const result = new Promise<Res>((resolve, reject) => {
    resolveResult = resolve;
    rejectResult = reject;
  });

  const send = (msg: HostToWorker): void => {
    if (!settled) worker.postMessage(msg);
  };
  const setState = (state: number): void => {
    // Never leave STOPPING: a stop wins over a later pause or resume.
    if (Atomics.load(control, CONTROL_STATE) === STOPPING) return;
    Atomics.store(control, CONTROL_STATE, state);
    Atomics.notify(control, CONTROL_STATE);
  };
  const settle = (fn: () => void): void => {
    if (settled) return;
    settled = true;
    clearTimeout(stopTimer);
    signal?.removeEventListener('abort', onAbort);
    fn();
    void worker.terminate();
  };

  const stop = (): void => {
    if (settled || stopTimer !== undefined) return;
    setState(STOPPING);
    send({ type: 'stop' });
    stopTimer = setTimeout(() => {
      settle(() =>
        rejectResult(
          abortError(`job did not stop within ${stopGraceMs} ms; worker terminated`, signal?.reason),
        ),
      );
    }, stopGraceMs);
  };
  const onAbort = (): void => stop();
  signal?.addEventListener('abort', onAbort, { once: true });

  worker.on('message', (msg: WorkerToHost<Ev, Res>) => {
    if (settled) return;
    if (msg.type === 'event') {
      try {
        onEvent?.(msg.event);
      } catch (e) {
        // A failing listener cannot be reported anywhere better than the result; stop the job.
        settle(() => rejectResult(e));
      }
    } else if (msg.type === 'result') {
      settle(() => resolveResult(msg.result));
    } else {
      settle(() => rejectResult(reviveError(msg.error)));
    }
  });
  // Uncaught exceptions at the top level of the entry (e.g. a failing import) arrive here.
  worker.on('error', (e) => settle(() => rejectResult(e)));
  worker.on('exit', (code) => {
    settle(() => rejectResult(new Error(`job worker exited with code ${code} before sending a result`)));
  });

  return {
    result,
    threadId: worker.threadId,
    pause: () => {
      setState(PAUSED);
      send({ type: 'pause' });
    },
    resume: () => {
      if (Atomics.load(control, CONTROL_STATE) !== PAUSED) return;
      setState(RUNNING);
      send({ type: 'resume' });
    },
    stop,
  };
}
