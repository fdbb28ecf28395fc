// The run queue on a real workspace: each run trains in its own worker thread against the same SQLite file.
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { BUNDLED_VIT_DIR } from '../../../engine/models/vit/index.ts';
import { BUNDLED_DATASET_DIR } from '../../../app/bundled.ts';
import { latestCheckpoint } from '../../../app/db/checkpoints.ts';
import { readMetrics } from '../../../app/db/metrics.ts';
import { listDatasetVersions } from '../../../app/db/datasets.ts';
import { markInterruptedRuns } from '../../../app/db/lease.ts';
import { requireRun, transitionRun } from '../../../app/db/runs.ts';
import { RunQueue } from '../../../app/runs/queue.ts';
import { createRun, resumeRun } from '../../../app/use-cases/runs.ts';
import { importDataset } from '../../../app/use-cases/datasets.ts';
import { importModel } from '../../../app/use-cases/models.ts';
import { testWorkspace, type TestWorkspace } from './helpers.ts';

let ws: TestWorkspace;
beforeAll(async () => {
  ws = await testWorkspace();
});
afterAll(() => ws.dispose());

/** Parameters after the last step, as stored bytes. */
function finalParams(runId: number): Buffer {
  const c = latestCheckpoint(ws.ctx.workspace.db, runId);
  if (!c) throw new Error(`run ${runId} has no checkpoint`);
  return Buffer.from(c.params.buffer, c.params.byteOffset, c.params.byteLength);
}

describe('RunQueue', () => {
  it('pause then resume ends with the same parameter bytes as an uninterrupted run', async () => {
    const { ctx } = ws;
    // 200 images / batch 8 = 25 steps per epoch, 4 epochs. LoRA with SPSA costs ~20 ms a step here (a head-only
    // step takes ~0.3 ms, over before a pause can land), and the pause is asked for at the first progress event,
    // so ~99 steps of margin remain however loaded the machine is.
    const train = { epochs: 4, seed: 7, evalEverySteps: 30, estimator: 'spsa', spsaEps: 1e-3 };
    const mode = { kind: 'lora', rank: 2, alpha: 4, targets: ['q', 'v'] as ('q' | 'v')[] } as const;
    const straight = await createRun(ctx, { spec: ws.spec(train, { name: 'straight', mode }) });
    const straightStop = await ctx.queue.wait(straight.id);
    expect(straightStop.status).toBe('completed');

    const paused = await createRun(ctx, { spec: ws.spec(train, { name: 'paused', mode }), start: false });
    let pauseAt: Promise<unknown> | undefined;
    const off = ctx.events.on('run/progress', (p) => {
      if (p.runId === paused.id && !pauseAt) pauseAt = ctx.queue.pause(paused.id);
    });
    ctx.queue.enqueue(paused.id);
    const first = await ctx.queue.wait(paused.id);
    off();
    expect(first.status).toBe('paused');
    const stoppedAt = requireRun(ctx.workspace.db, paused.id);
    expect(stoppedAt.status).toBe('paused');
    const pausedStep = latestCheckpoint(ctx.workspace.db, paused.id)!.step;
    expect(pausedStep).toBeGreaterThan(0);
    expect(pausedStep).toBeLessThan(100);

    ctx.queue.resume(paused.id);
    const second = await ctx.queue.wait(paused.id);
    expect(second.status).toBe('completed');
    expect(latestCheckpoint(ctx.workspace.db, paused.id)!.step).toBe(100);
    expect(finalParams(paused.id).equals(finalParams(straight.id))).toBe(true);
    // The recorded history is the same step for step, not just the end point.
    const losses = (id: number) =>
      readMetrics(ctx.workspace.db, id).map((m) => [m.step, m.trainLoss, m.queries]);
    expect(losses(paused.id)).toEqual(losses(straight.id));
  });

  it('starts queued runs in order, one at a time per device by default', async () => {
    const { ctx } = ws;
    const running = new Set<number>();
    let maxRunning = 0;
    const started: number[] = [];
    const off = ctx.events.on('run/status', (s) => {
      if (s.status === 'running') {
        running.add(s.runId);
        started.push(s.runId);
        maxRunning = Math.max(maxRunning, running.size);
      } else running.delete(s.runId);
    });
    const runs = [];
    for (const seed of [1, 2, 3]) runs.push(await createRun(ctx, { spec: ws.spec({ seed, maxSteps: 3 }) }));
    const stops = await Promise.all(runs.map((r) => ctx.queue.wait(r.id)));
    off();
    expect(stops.map((s) => s.status)).toEqual(['completed', 'completed', 'completed']);
    expect(started).toEqual(runs.map((r) => r.id));
    expect(maxRunning).toBe(1);
  });

  it('runs two at once when the device allows two', async () => {
    const { ctx } = ws;
    let active = 0;
    let maxActive = 0;
    const queue = new RunQueue({
      dbPath: ctx.workspace.paths.db,
      db: ctx.workspace.db,
      concurrency: { [ctx.queue.device]: 2 },
      listener: {
        status: (s) => {
          active += s.status === 'running' ? 1 : -1;
          maxActive = Math.max(maxActive, active);
        },
      },
    });
    const runs = [];
    for (const seed of [4, 5, 6]) {
      runs.push(await createRun(ctx, { spec: ws.spec({ seed, maxSteps: 3 }), start: false }));
    }
    for (const r of runs) queue.enqueue(r.id);
    expect(queue.snapshot().running).toHaveLength(2);
    expect(queue.snapshot().waiting).toEqual([runs[2]!.id]);
    await queue.idle();
    expect(maxActive).toBe(2);
    for (const r of runs) expect(requireRun(ctx.workspace.db, r.id).status).toBe('completed');
  });

  it('cancels a training run after its current step and a waiting one at once, keeping the store consistent', async () => {
    const { ctx } = ws;
    // 10,000 head-only steps (~0.3 ms each): far longer than the cancel takes to land, however loaded the machine.
    const long = await createRun(ctx, { spec: ws.spec({ epochs: 400, seed: 8 }) });
    const waiting = await createRun(ctx, { spec: ws.spec({ seed: 9, maxSteps: 3 }) });
    expect(ctx.queue.position(waiting.id)).toEqual({ state: 'waiting', position: 0 });
    expect((await ctx.queue.cancel(waiting.id)).status).toBe('cancelled');

    await new Promise<void>((resolve) => {
      const off = ctx.events.on('run/progress', (p) => {
        if (p.runId === long.id) {
          off();
          resolve();
        }
      });
    });
    const cancelled = await ctx.queue.cancel(long.id);
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.pid).toBeNull();
    expect(cancelled.finishedAt).not.toBeNull();
    const db = ctx.workspace.db;
    const rows = readMetrics(db, long.id);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.length).toBeLessThan(400 * 25);
    // Every recorded step has its allocation row: the writer committed whole steps only.
    const allocations = db.prepare('SELECT count(*) FROM allocations WHERE run_id = ?').pluck().get(long.id);
    expect(allocations).toBe(rows.length);
    expect(readMetrics(db, waiting.id)).toHaveLength(0);
    expect(requireRun(db, waiting.id).startedAt).toBeNull();
  });

  it('fails a run whose model files vanished before it started, with a clear message, and loses nothing', async () => {
    const { ctx } = ws;
    const copy = mkdtempSync(join(tmpdir(), 'flops-model-'));
    cpSync(BUNDLED_VIT_DIR, copy, { recursive: true });
    const model = await importModel(ctx, { path: copy, name: 'doomed' });
    const doomed = await createRun(ctx, {
      spec: { ...ws.spec({ maxSteps: 2 }), modelId: model.id },
      start: false,
    });
    const fine = await createRun(ctx, { spec: ws.spec({ maxSteps: 2, seed: 11 }), start: false });
    const runsBefore = ctx.workspace.db.prepare('SELECT count(*) FROM runs').pluck().get();
    rmSync(copy, { recursive: true, force: true });

    ctx.queue.enqueue(doomed.id);
    ctx.queue.enqueue(fine.id);
    const stop = await ctx.queue.wait(doomed.id);
    expect(stop.status).toBe('failed');
    expect(stop.error).toMatch(/model \d+ \(doomed\): its files are gone from .*flops-model-/);
    const failed = requireRun(ctx.workspace.db, doomed.id);
    expect(failed.status).toBe('failed');
    expect(failed.error).toBe(stop.error);
    expect(failed.pid).toBeNull();
    // The queue goes on, and nothing else in the store changed.
    expect((await ctx.queue.wait(fine.id)).status).toBe('completed');
    expect(ctx.workspace.db.prepare('SELECT count(*) FROM runs').pluck().get()).toBe(runsBefore);
    expect(listDatasetVersions(ctx.workspace.db)).toHaveLength(1);
    const events = ctx.workspace.db
      .prepare(`SELECT kind FROM events WHERE run_id = ? ORDER BY id`)
      .pluck()
      .all(doomed.id);
    expect(events).toContain('run/failed');
  });

  it('fails a run whose dataset cache vanished before it started, naming the dataset and the path', async () => {
    const { ctx } = ws;
    const folder = mkdtempSync(join(tmpdir(), 'flops-small-'));
    for (const cls of ['Bag', 'Sandal']) {
      mkdirSync(join(folder, cls));
      for (const f of readdirSync(join(BUNDLED_DATASET_DIR, 'train', cls))
        .sort()
        .slice(0, 20)) {
        cpSync(join(BUNDLED_DATASET_DIR, 'train', cls, f), join(folder, cls, f));
      }
    }
    const { dataset } = await importDataset(ctx, { path: folder, name: 'ephemeral' });
    rmSync(folder, { recursive: true, force: true });
    const run = await createRun(ctx, {
      spec: { ...ws.spec({ maxSteps: 2 }), datasetVersionId: dataset.id, kShot: undefined },
      start: false,
    });
    rmSync(dataset.cachePath!, { recursive: true, force: true });
    ctx.queue.enqueue(run.id);
    const stop = await ctx.queue.wait(run.id);
    expect(stop.status).toBe('failed');
    expect(stop.error).toMatch(/dataset ephemeral \([0-9a-f]{12}\): its cache is gone from /);
    expect(requireRun(ctx.workspace.db, run.id).pid).toBeNull();
  });

  it('writes running to the store before announcing it, so a reader after the event never sees queued', async () => {
    const { ctx } = ws;
    const run = await createRun(ctx, { spec: ws.spec({ seed: 21, maxSteps: 3 }), start: false });
    const seen: { event: string; stored: string; pid: number | null }[] = [];
    const off = ctx.events.on('run/status', (s) => {
      if (s.runId !== run.id) return;
      // What a UI reloading on this event reads back, at the very moment the event is delivered.
      const stored = requireRun(ctx.workspace.db, run.id);
      seen.push({ event: s.status, stored: stored.status, pid: stored.pid });
    });
    const returned = ctx.queue.enqueue(run.id);
    expect(returned.status).toBe('running');
    expect((await ctx.queue.wait(run.id)).status).toBe('completed');
    off();
    expect(seen).toEqual([
      { event: 'running', stored: 'running', pid: process.pid },
      { event: 'completed', stored: 'completed', pid: null },
    ]);
  });

  it('progress carries the batch train accuracy, and resume answers with the run running again', async () => {
    const { ctx } = ws;
    // LoRA SPSA steps are slow enough (~20 ms) for the pause asked at the first progress event to land early.
    const mode = { kind: 'lora', rank: 2, alpha: 4, targets: ['q', 'v'] as ('q' | 'v')[] } as const;
    const run = await createRun(ctx, {
      spec: ws.spec({ epochs: 4, seed: 22, estimator: 'spsa', spsaEps: 1e-3 }, { mode }),
      start: false,
    });
    const progress: { step: number; accuracy: number | null }[] = [];
    let pausing: Promise<unknown> | undefined;
    const off = ctx.events.on('run/progress', (p) => {
      if (p.runId !== run.id) return;
      progress.push({ step: p.step, accuracy: p.accuracy });
      pausing ??= ctx.queue.pause(run.id);
    });
    ctx.queue.enqueue(run.id);
    expect((await ctx.queue.wait(run.id)).status).toBe('paused');
    const stored = new Map(readMetrics(ctx.workspace.db, run.id).map((m) => [m.step, m.trainAcc]));
    expect(progress.length).toBeGreaterThan(0);
    for (const p of progress) {
      // The same number the store keeps for that step: the fraction of the batch of 8 classified right.
      expect(p.accuracy).toBe(stored.get(p.step));
      expect(Number.isInteger(p.accuracy! * 8)).toBe(true);
    }

    const resumed = await resumeRun(ctx, { id: run.id });
    expect(resumed.status).toBe('running');
    expect(requireRun(ctx.workspace.db, run.id).status).toBe('running');
    const cancelled = await ctx.queue.cancel(run.id);
    off();
    expect(cancelled.status).toBe('cancelled');
  });

  it('resumes an interrupted run through the queue: the lease is retaken before the event, and it completes', async () => {
    const { ctx } = ws;
    const db = ctx.workspace.db;
    const run = await createRun(ctx, { spec: ws.spec({ seed: 23, maxSteps: 3 }), start: false });
    // A process that took the run and died before its first checkpoint.
    transitionRun(db, run.id, 'running', { pid: 999_999 });
    expect(markInterruptedRuns(db, { isAlive: () => false }).map((r) => r.runId)).toEqual([run.id]);
    let storedAtEvent: string | undefined;
    const off = ctx.events.on('run/status', (s) => {
      if (s.runId === run.id && s.status === 'running') storedAtEvent = requireRun(db, run.id).status;
    });
    expect(ctx.queue.resume(run.id).status).toBe('running');
    expect((await ctx.queue.wait(run.id)).status).toBe('completed');
    off();
    expect(storedAtEvent).toBe('running');
    expect(readMetrics(db, run.id).map((m) => m.step)).toEqual([1, 2, 3]);
  });
});
