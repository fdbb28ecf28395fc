// Worker side of a job: the module a worker entry file imports to declare its job. The job (e.g. the whole
// training loop) runs here, synchronously calling ONNX Runtime, while the caller's thread stays responsive.
// Pause and stop arrive through a shared control word rather than only as messages: a synchronous loop never
// turns its event loop, so a message would not be seen until the loop ends. checkpoint() reads the word, and
// while paused blocks in Atomics.wait (no CPU) until resume or stop.
import { isMainThread, parentPort, workerData, type TransferListItem } from 'node:worker_threads';

import {
  CONTROL_STATE,
  PAUSED,
  STOPPING,
  serializeError,
  type HostToWorker,
  type JobWorkerData,
  type WorkerToHost,
} from './protocol.ts';

export interface JobContext<Ev> {
  /** Aborted once a stop is seen (at a checkpoint, or by the message handler when the event loop turns). */
  readonly signal: AbortSignal;
  /** True once a stop was requested. */
  readonly stopRequested: boolean;
  /** Sends an event to the host's onEvent. */
  emit(event: Ev, transfer?: readonly TransferListItem[]): void;
  /** Call between steps: blocks while paused; returns true when the job should stop (then return a result). */
  checkpoint(): boolean;
}

export type JobHandler<Req, Ev, Res> = (request: Req, ctx: JobContext<Ev>) => Res | Promise<Res>;

function isJobData(data: unknown): data is JobWorkerData<unknown> {
  return typeof data === 'object' && data !== null && (data as { flopsJob?: unknown }).flopsJob === true;
}

/**
 * Declares the job of this worker entry file. Runs it when the file is loaded by runInWorker; does nothing when
 * imported anywhere else (so entries can also be imported by tests).
 */
export function defineJob<Req, Ev, Res>(handler: JobHandler<Req, Ev, Res>): void {
  if (isMainThread || !parentPort || !isJobData(workerData)) return;
  const port = parentPort;
  const data = workerData as JobWorkerData<Req>;
  const control = new Int32Array(data.control);
  const abort = new AbortController();
  const post = (msg: WorkerToHost<Ev, Res>, transfer?: readonly TransferListItem[]): void =>
    port.postMessage(msg, transfer as TransferListItem[] | undefined);

  const seeStop = (): boolean => {
    if (Atomics.load(control, CONTROL_STATE) !== STOPPING) return false;
    if (!abort.signal.aborted) abort.abort(new DOMException('the job was asked to stop', 'AbortError'));
    return true;
  };
  port.on('message', (msg: HostToWorker) => {
    if (msg.type === 'stop') seeStop();
  });

  const ctx: JobContext<Ev> = {
    signal: abort.signal,
    get stopRequested() {
      return seeStop();
    },
    emit: (event, transfer) => post({ type: 'event', event }, transfer),
    checkpoint() {
      while (Atomics.load(control, CONTROL_STATE) === PAUSED) Atomics.wait(control, CONTROL_STATE, PAUSED);
      return seeStop();
    },
  };

  const finish = (msg: WorkerToHost<Ev, Res>): void => {
    try {
      post(msg);
    } catch (e) {
      // A result that cannot be cloned (a function, a class instance with private state) is a job bug.
      post({
        type: 'error',
        error: serializeError(new TypeError(`job result cannot be sent: ${(e as Error).message}`)),
      });
    }
    // Let the thread end on its own once nothing else is pending.
    port.unref();
  };
  void (async () => {
    try {
      const result = await handler(data.request, ctx);
      finish({ type: 'result', result });
    } catch (e) {
      finish({ type: 'error', error: serializeError(e) });
    }
  })();
}
