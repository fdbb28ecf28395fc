import { monitorEventLoopDelay } from 'node:perf_hooks';

import { describe, expect, it } from 'vitest';

import { ConfigError, DivergenceError, FlopsError, FormatError, ModelError } from '../../../engine/errors.ts';
import { runInWorker } from '../../../engine/worker/host.ts';
import type { LoopEvent, LoopRequest, LoopResult } from './fixtures/ort-loop.worker.ts';
import type { ThrowKind } from './fixtures/throws.worker.ts';

const LOOP = new URL('./fixtures/ort-loop.worker.ts', import.meta.url);
const THROWS = new URL('./fixtures/throws.worker.ts', import.meta.url);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function startLoop(request: Partial<LoopRequest> = {}, signal?: AbortSignal) {
  const events: LoopEvent[] = [];
  let onReady!: () => void;
  const readyEvent = new Promise<void>((r) => (onReady = r));
  const job = runInWorker<LoopRequest, LoopEvent, LoopResult>(
    LOOP,
    { maxRuns: 1e9, progressEvery: 20, batch: 64, ...request },
    {
      ...(signal && { signal }),
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'ready') onReady();
      },
    },
  );
  // A job that fails before 'ready' must fail the test, not hang it.
  const ready = Promise.race([
    readyEvent,
    job.result.then(() => {
      throw new Error('job ended before ready');
    }),
  ]);
  return { job, events, ready };
}

const progressCount = (events: LoopEvent[]): number => events.filter((e) => e.type === 'progress').length;

describe('runInWorker', () => {
  // retry: on the 2-core CI box other test files' processes can preempt this thread for tens of ms; a worker that
  // really blocked the caller would fail every attempt (the main thread would wait for whole ORT loops).
  it(
    'keeps the caller responsive while the worker runs ORT in a loop; an AbortSignal stops it',
    { retry: 2 },
    async () => {
      const abort = new AbortController();
      const { job, events, ready } = startLoop({}, abort.signal);
      await ready;
      // Measure the main thread's own event-loop gaps while the worker is busy.
      const histogram = monitorEventLoopDelay({ resolution: 5 });
      histogram.enable();
      let maxGap = 0;
      let last = performance.now();
      const timer = setInterval(() => {
        const now = performance.now();
        maxGap = Math.max(maxGap, now - last - 5);
        last = now;
      }, 5);
      await sleep(1500);
      clearInterval(timer);
      histogram.disable();
      const progressBefore = progressCount(events);
      abort.abort();
      const result = await job.result;

      console.log(
        `[worker.test] ${result.runs} ORT runs of 64 rows in the worker; main-thread max gap ${maxGap.toFixed(1)} ms ` +
          `(histogram max ${(histogram.max / 1e6).toFixed(1)} ms)`,
      );
      expect(maxGap).toBeLessThan(50);
      expect(progressBefore).toBeGreaterThan(5);
      expect(result.stopped).toBe(true);
      expect(result.runs).toBeGreaterThanOrEqual(progressBefore * 20);
      expect(Number.isFinite(result.lossSum)).toBe(true);
    },
  );

  it('finishes on its own with the job result', async () => {
    const { job, events } = startLoop({ maxRuns: 40, progressEvery: 10 });
    const result = await job.result;
    expect(result).toMatchObject({ runs: 40, stopped: false });
    expect(events.map((e) => e.type)).toEqual(['ready', 'progress', 'progress', 'progress', 'progress']);
  });

  it('pauses at a checkpoint without spinning, then resumes and stops', async () => {
    const { job, events, ready } = startLoop({ progressEvery: 10 });
    await ready;
    await sleep(200);
    job.pause();
    await sleep(100); // let an in-flight event arrive
    const atPause = progressCount(events);
    const cpu0 = process.cpuUsage();
    await sleep(400);
    const cpu = process.cpuUsage(cpu0);
    expect(progressCount(events)).toBe(atPause);
    // Blocked in Atomics.wait, the worker burns no CPU (the whole process used well under the 400 ms).
    expect((cpu.user + cpu.system) / 1000).toBeLessThan(150);
    job.resume();
    await sleep(300);
    expect(progressCount(events)).toBeGreaterThan(atPause);
    job.pause();
    job.stop(); // a stop while paused must release the checkpoint
    await expect(job.result).resolves.toMatchObject({ stopped: true });
  });

  it('rejects at once when the signal is already aborted', async () => {
    const job = runInWorker(LOOP, {}, { signal: AbortSignal.abort() });
    await expect(job.result).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('terminates a job that ignores stop after the grace period, rejecting with AbortError', async () => {
    const job = runInWorker<ThrowKind, never, string>(THROWS, 'ignore-stop', { stopGraceMs: 300 });
    await sleep(200);
    const t0 = performance.now();
    job.stop();
    await expect(job.result).rejects.toMatchObject({
      name: 'AbortError',
      message: /did not stop within 300 ms/,
    });
    expect(performance.now() - t0).toBeLessThan(5000);
  });
});

describe('errors cross the thread boundary as the same class', () => {
  const fail = (kind: ThrowKind): Promise<unknown> =>
    runInWorker<ThrowKind, never, string>(THROWS, kind).result.then(
      () => {
        throw new Error('expected the job to fail');
      },
      (e: unknown) => e,
    );

  it('ModelError keeps class, code, message and cause', async () => {
    const e = await fail('model');
    expect(e).toBeInstanceOf(ModelError);
    expect(e).toBeInstanceOf(FlopsError);
    expect(e).toMatchObject({
      name: 'ModelError',
      code: 'MODEL_INVALID',
      message: /lacks trainable inputs w9/,
    });
    expect((e as Error).cause).toMatchObject({ message: 'inner cause' });
    expect((e as Error).stack).toMatch(/throws\.worker\.ts/);
  });

  it('ConfigError and DivergenceError keep their fields', async () => {
    const c = await fail('config');
    expect(c).toBeInstanceOf(ConfigError);
    expect(c).toMatchObject({
      code: 'CONFIG_INVALID',
      field: 'optimizer.lr',
      message: 'optimizer.lr: must be positive',
    });
    const d = await fail('diverged');
    expect(d).toBeInstanceOf(DivergenceError);
    expect(d).toMatchObject({ code: 'DIVERGED', step: 17 });
  });

  it('a FormatError raised by ONNX Runtime code in the worker arrives as FormatError', async () => {
    const e = await fail('onnx-format');
    expect(e).toBeInstanceOf(FormatError);
    expect(e).toMatchObject({
      code: 'FORMAT_INVALID',
      file: 'junk.onnx',
      message: /junk\.onnx: not an ONNX model/,
    });
  });

  it('built-in errors and thrown non-errors', async () => {
    const r = await fail('range');
    expect(r).toBeInstanceOf(RangeError);
    expect(r).toMatchObject({ message: 'row 99 is outside the batch' });
    const s = await fail('string');
    expect(s).toBeInstanceOf(Error);
    expect(s).toMatchObject({ message: 'a bare string' });
  });
});
