import { describe, expect, it, vi } from 'vitest';

import { listCheckpoints, readCheckpoint } from '../../../app/db/checkpoints.ts';
import { RunLeaseLostError } from '../../../app/db/errors.ts';
import { listEvents } from '../../../app/db/events.ts';
import { openDb } from '../../../app/db/open.ts';
import { getRun, transitionRun } from '../../../app/db/runs.ts';
import { readSteps } from '../../../app/db/steps.ts';
import { openRunWriter } from '../../../app/db/writer.ts';
import { getAllocation } from '../../../app/db/allocations.ts';

import { addRun, metricRow, openTestStore } from './fixtures.ts';

/** What another connection (the UI) sees: only committed rows. */
function observer(file: string) {
  const ro = openDb(file, { readonly: true });
  return {
    metrics: () => ro.prepare('SELECT count(*) FROM metrics').pluck().get() as number,
    close: () => ro.close(),
  };
}

describe('RunWriter', () => {
  it('commits per maxRows rows, and on close', () => {
    const { db, file } = openTestStore();
    const run = addRun(db);
    const ui = observer(file);
    const w = openRunWriter(db, run.id, { maxRows: 10, intervalMs: 1e9, timer: false });
    for (let s = 0; s < 9; s++) w.metric(metricRow(s));
    expect(ui.metrics()).toBe(0);
    expect(w.pending).toBe(9);
    w.metric(metricRow(9));
    expect(ui.metrics()).toBe(10);
    for (let s = 10; s < 15; s++) w.metric(metricRow(s));
    expect(ui.metrics()).toBe(10);
    w.close();
    expect(ui.metrics()).toBe(15);
    expect(() => w.metric(metricRow(99))).toThrow(/closed/);
    ui.close();
  });

  it('commits when the interval has passed, checked on add', () => {
    const { db, file } = openTestStore();
    const run = addRun(db);
    const ui = observer(file);
    let now = 0;
    const w = openRunWriter(db, run.id, { maxRows: 1000, intervalMs: 1000, now: () => now, timer: false });
    w.metric(metricRow(0));
    now = 999;
    w.metric(metricRow(1));
    expect(ui.metrics()).toBe(0);
    now = 1000;
    w.metric(metricRow(2));
    expect(ui.metrics()).toBe(3);
    w.close();
    ui.close();
  });

  it('also flushes from its timer when the loop is quiet', async () => {
    vi.useFakeTimers();
    try {
      const { db } = openTestStore();
      const run = addRun(db);
      const w = openRunWriter(db, run.id, { maxRows: 1000, intervalMs: 500 });
      w.metric(metricRow(0));
      expect(w.pending).toBe(1);
      await vi.advanceTimersByTimeAsync(1100);
      expect(w.pending).toBe(0);
      w.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('writes every kind of row, copying the engine’s reused buffers', () => {
    const { db } = openTestStore();
    const run = addRun(db);
    const w = openRunWriter(db, run.id, { timer: false });
    const ids = Int32Array.of(1, 2);
    const counts = Int32Array.of(3, 5);
    const losses = Float32Array.of(0.5, 1.5);
    const scalars = Float32Array.of(0.25);
    w.allocation({ step: 0, sampleIds: ids, counts, losses, allocatorParams: { alpha: 1 } });
    w.step({ step: 0, seed: 11, scalars });
    ids.fill(9);
    counts.fill(0);
    losses.fill(0);
    scalars.fill(0);
    w.evaluation({ step: 0, split: 'val', loss: 1, accuracy: 0.5, examples: 10, wallMs: 3 });
    w.event('info', 'run/note', { hello: 'world' });
    w.close();
    expect(getAllocation(db, run.id, 0)).toMatchObject({
      sampleIds: Int32Array.of(1, 2),
      counts: Int32Array.of(3, 5),
    });
    expect(readSteps(db, run.id)).toEqual([{ step: 0, seed: 11, scalars: Float32Array.of(0.25) }]);
    expect(listEvents(db, { runId: run.id })[0]).toMatchObject({
      kind: 'run/note',
      message: { hello: 'world' },
    });
  });

  it('commits buffered rows together with a checkpoint, and prunes old checkpoints', () => {
    const { db, file } = openTestStore();
    const run = addRun(db);
    const ui = observer(file);
    const w = openRunWriter(db, run.id, {
      maxRows: 1000,
      intervalMs: 1e9,
      timer: false,
      checkpoints: { keep: 2, storage: 'file' },
    });
    for (let step = 0; step < 4; step++) {
      w.metric(metricRow(step));
      const info = w.checkpoint({ step, params: Float32Array.of(step), rngState: [step] });
      expect(ui.metrics()).toBe(step + 1);
      expect(readCheckpoint(db, info.id)?.params).toEqual(Float32Array.of(step));
    }
    expect(listCheckpoints(db, run.id).map((c) => c.step)).toEqual([2, 3]);
    w.close();
    ui.close();
  });

  it('heartbeats under its pid and stops for good once the lease is lost', () => {
    const { db } = openTestStore();
    const run = addRun(db);
    transitionRun(db, run.id, 'running', { pid: 4321, now: () => 0 });
    let now = 10;
    const w = openRunWriter(db, run.id, { pid: 4321, maxRows: 2, now: () => now, timer: false });
    w.metric(metricRow(0));
    w.metric(metricRow(1));
    expect(getRun(db, run.id)?.heartbeatAt).toBe(10);
    // Another process decided this one was dead.
    transitionRun(db, run.id, 'interrupted');
    now = 20;
    w.metric(metricRow(2));
    expect(() => w.metric(metricRow(3))).toThrow(RunLeaseLostError);
    expect(db.prepare('SELECT count(*) FROM metrics').pluck().get()).toBe(2);
    expect(() => w.metric(metricRow(4))).toThrow(RunLeaseLostError);
    expect(() => w.close()).toThrow(RunLeaseLostError);
  });
});
