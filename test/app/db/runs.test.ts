import { existsSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { insertAllocations } from '../../../app/db/allocations.ts';
import { writeCheckpoint } from '../../../app/db/checkpoints.ts';
import { RunNotFoundError, RunStateError } from '../../../app/db/errors.ts';
import { insertEvaluations } from '../../../app/db/evaluations.ts';
import { listEvents } from '../../../app/db/events.ts';
import { insertMetrics } from '../../../app/db/metrics.ts';
import type { WritableDb } from '../../../app/db/open.ts';
import {
  createRun,
  deleteRun,
  diffRunConfigs,
  getRun,
  listRuns,
  listTags,
  setRunTags,
  transitionRun,
  updateRun,
} from '../../../app/db/runs.ts';
import { insertSteps } from '../../../app/db/steps.ts';

import { addRun, metricRow, openTestStore } from './fixtures.ts';

const clock = (t: number) => () => t;

describe('runs', () => {
  it('creates a queued run with normalised tags and reads it back', () => {
    const { db } = openTestStore();
    const run = createRun(
      db,
      {
        name: 'baseline',
        requestedConfig: { optimizer: { lr: 1e-3 } },
        seed: 42,
        tags: [' flops ', 'flops', '', 'cifar'],
        notes: 'first try',
      },
      clock(5),
    );
    expect(run).toMatchObject({
      name: 'baseline',
      status: 'queued',
      seed: 42,
      createdAt: 5,
      resolvedConfig: null,
      tags: ['cifar', 'flops'],
      notes: 'first try',
      pid: null,
    });
    expect(getRun(db, run.id)).toEqual(run);
    expect(getRun(db, 999)).toBeUndefined();
  });

  it('walks the lifecycle, taking and releasing the lease, and logs each change', () => {
    const { db } = openTestStore();
    const run = addRun(db);
    const running = transitionRun(db, run.id, 'running', { pid: 4242, now: clock(10) });
    expect(running).toMatchObject({
      status: 'running',
      pid: 4242,
      heartbeatAt: 10,
      startedAt: 10,
      finishedAt: null,
    });
    expect(transitionRun(db, run.id, 'paused', { now: clock(20) })).toMatchObject({
      status: 'paused',
      pid: 4242,
    });
    const back = transitionRun(db, run.id, 'running', { pid: 4243, now: clock(30) });
    expect(back).toMatchObject({ pid: 4243, startedAt: 10 });
    const failed = transitionRun(db, run.id, 'diverged', { error: 'loss is NaN at step 7', now: clock(40) });
    expect(failed).toMatchObject({
      status: 'diverged',
      pid: null,
      finishedAt: 40,
      error: 'loss is NaN at step 7',
    });
    expect(
      listEvents(db, { runId: run.id })
        .reverse()
        .map((e) => `${e.level}:${(e.message as { to: string }).to}`),
    ).toEqual(['info:running', 'info:paused', 'info:running', 'error:diverged']);
  });

  it('refuses transitions the lifecycle does not allow', () => {
    const { db } = openTestStore();
    const run = addRun(db);
    expect(() => transitionRun(db, run.id, 'completed')).toThrow(RunStateError);
    expect(() => transitionRun(db, run.id, 'running')).toThrow(/needs the pid/);
    transitionRun(db, run.id, 'cancelled');
    expect(() => transitionRun(db, run.id, 'running', { pid: 1 })).toThrow(
      /cannot go from 'cancelled' to 'running'/,
    );
    expect(() => transitionRun(db, 999, 'running', { pid: 1 })).toThrow(RunNotFoundError);
  });

  it('edits name, notes, resolved config and provider', () => {
    const { db } = openTestStore();
    const run = addRun(db);
    const edited = updateRun(db, run.id, {
      notes: 'n',
      resolvedConfig: { lr: 2e-3 },
      executionProvider: 'cpu',
    });
    expect(edited).toMatchObject({
      name: 'run',
      notes: 'n',
      resolvedConfig: { lr: 2e-3 },
      executionProvider: 'cpu',
    });
    expect(updateRun(db, run.id, { name: 'renamed' })).toMatchObject({
      name: 'renamed',
      executionProvider: 'cpu',
    });
    expect(() => updateRun(db, 999, { name: 'x' })).toThrow(RunNotFoundError);
  });
});

describe('listRuns', () => {
  function seed(db: WritableDb): number[] {
    const a = createRun(db, { name: 'alpha', requestedConfig: {}, seed: 1, tags: ['base'] }, clock(1));
    const b = createRun(db, { name: 'Beta 100%', requestedConfig: {}, seed: 1, tags: ['flops'] }, clock(2));
    const c = createRun(db, { name: 'gamma', requestedConfig: {}, seed: 1, notes: 'uses FLOPS_x' }, clock(3));
    transitionRun(db, b.id, 'running', { pid: 1, now: clock(4) });
    insertMetrics(db, a.id, [metricRow(0, 2), metricRow(1, 0.5)]);
    insertMetrics(db, b.id, [metricRow(0, 1)]);
    return [a.id, b.id, c.id];
  }

  it('sorts newest first by default, and by any listed column either way', () => {
    const { db } = openTestStore();
    const [a, b, c] = seed(db);
    expect(listRuns(db).map((r) => r.id)).toEqual([c, b, a]);
    expect(listRuns(db, { sort: 'name', order: 'asc' }).map((r) => r.name)).toEqual([
      'alpha',
      'Beta 100%',
      'gamma',
    ]);
    // Runs without metrics sort last in either direction.
    expect(listRuns(db, { sort: 'lastLoss', order: 'asc' }).map((r) => r.id)).toEqual([a, b, c]);
    expect(listRuns(db, { sort: 'lastLoss' }).map((r) => r.id)).toEqual([b, a, c]);
    expect(listRuns(db, { limit: 1, offset: 1 }).map((r) => r.id)).toEqual([b]);
    expect(listRuns(db, { sort: 'created' })[2]).toMatchObject({ id: a, lastStep: 1, lastLoss: 0.5 });
    expect(() => listRuns(db, { sort: 'r.id; DROP TABLE runs' as never })).toThrow(/unknown sort/);
    expect(() => listRuns(db, { sort: 'constructor' as never })).toThrow(/unknown sort/);
  });

  it('filters by status, tag and text (name, notes or tag), treating % and _ literally', () => {
    const { db } = openTestStore();
    const [a, b, c] = seed(db);
    expect(listRuns(db, { status: 'running' }).map((r) => r.id)).toEqual([b]);
    expect(listRuns(db, { status: ['queued', 'running'] }).map((r) => r.id)).toEqual([c, b, a]);
    expect(listRuns(db, { tag: 'base' }).map((r) => r.id)).toEqual([a]);
    expect(listRuns(db, { text: 'flops' }).map((r) => r.id)).toEqual([c, b]);
    expect(listRuns(db, { text: '100%' }).map((r) => r.id)).toEqual([b]);
    expect(listRuns(db, { text: 'S_x' }).map((r) => r.id)).toEqual([c]);
    expect(listRuns(db, { text: "'; DROP TABLE runs; --" })).toEqual([]);
    expect(listRuns(db, { tag: 'base', status: 'completed' })).toEqual([]);
  });

  it('lists tags with their run counts and replaces a run’s tags', () => {
    const { db } = openTestStore();
    const [a] = seed(db);
    setRunTags(db, a as number, ['flops', 'keep']);
    expect(listTags(db)).toEqual([
      { tag: 'flops', runs: 2 },
      { tag: 'keep', runs: 1 },
    ]);
    expect(() => setRunTags(db, 999, ['x'])).toThrow(RunNotFoundError);
  });
});

describe('diffRunConfigs', () => {
  it('returns only the dotted keys that differ, per run', () => {
    const { db } = openTestStore();
    const cfg = (lr: number, extra: object = {}) => ({
      optimizer: { kind: 'adam', lr },
      batchSize: 64,
      ...extra,
    });
    const a = createRun(db, { name: 'a', requestedConfig: {}, resolvedConfig: cfg(1e-3), seed: 1 });
    const b = createRun(db, {
      name: 'b',
      requestedConfig: {},
      resolvedConfig: cfg(1e-3, { epochs: 2 }),
      seed: 1,
    });
    const c = createRun(db, { name: 'c', requestedConfig: { seed: 3 }, resolvedConfig: cfg(3e-3), seed: 1 });
    expect(diffRunConfigs(db, [a.id, b.id, c.id])).toEqual([
      { key: 'epochs', values: [undefined, 2, undefined] },
      { key: 'optimizer.lr', values: [1e-3, 1e-3, 3e-3] },
    ]);
    expect(diffRunConfigs(db, [a.id, c.id], 'requested')).toEqual([{ key: 'seed', values: [undefined, 3] }]);
    expect(diffRunConfigs(db, [a.id, a.id])).toEqual([]);
  });
});

describe('deleteRun', () => {
  it('removes the run, every row that belongs to it, and its checkpoint files; other runs stay', () => {
    const { db, dir } = openTestStore();
    const run = addRun(db, { tags: ['x'] });
    const other = addRun(db);
    for (const id of [run.id, other.id]) {
      insertMetrics(db, id, [metricRow(0), metricRow(1)]);
      insertAllocations(db, id, [
        {
          step: 0,
          sampleIds: Int32Array.of(1),
          counts: Int32Array.of(2),
          losses: Float32Array.of(1),
          allocatorParams: {},
        },
      ]);
      insertSteps(db, id, [{ step: 0, seed: 1, scalars: Float32Array.of(1) }]);
      insertEvaluations(db, id, [{ step: 0, split: 'val', loss: 1, accuracy: 0.5, examples: 10, wallMs: 1 }]);
      transitionRun(db, id, 'running', { pid: 1 });
      writeCheckpoint(db, id, { step: 0, params: new Float32Array(8), rngState: [1] }, { storage: 'file' });
      writeCheckpoint(db, id, { step: 1, params: new Float32Array(8), rngState: [1] }, { storage: 'blob' });
    }
    expect(() => deleteRun(db, run.id)).toThrow(/cannot go from 'running' to 'deleted'/);
    transitionRun(db, run.id, 'cancelled');
    const count = (table: string, id: number) =>
      db.prepare(`SELECT count(*) FROM ${table} WHERE run_id = ?`).pluck().get(id) as number;
    const tables = [
      'metrics',
      'metric_rollups',
      'allocations',
      'steps',
      'evaluations',
      'checkpoints',
      'events',
      'run_tags',
    ];
    const runDir = `${dir}/checkpoints/run-${run.id}`;
    expect(existsSync(runDir)).toBe(true);
    deleteRun(db, run.id);
    expect(getRun(db, run.id)).toBeUndefined();
    for (const t of tables) expect(count(t, run.id), t).toBe(0);
    expect(existsSync(runDir)).toBe(false);
    for (const t of tables.filter((t) => t !== 'run_tags')) expect(count(t, other.id), t).toBeGreaterThan(0);
    expect(existsSync(`${dir}/checkpoints/run-${other.id}`)).toBe(true);
    expect(() => deleteRun(db, run.id)).toThrow(RunNotFoundError);
  });
});
