import { existsSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { insertAllocations } from '../../../app/db/allocations.ts';
import { listCheckpoints, writeCheckpoint } from '../../../app/db/checkpoints.ts';
import { CheckpointCorruptError, RunStateError } from '../../../app/db/errors.ts';
import { insertEvaluations, listEvaluations } from '../../../app/db/evaluations.ts';
import { listEvents } from '../../../app/db/events.ts';
import { insertMetrics, readMetrics, rebuildRollups } from '../../../app/db/metrics.ts';
import type { WritableDb } from '../../../app/db/open.ts';
import { prepareResume, truncateRunAfter } from '../../../app/db/resume.ts';
import { getRun, transitionRun } from '../../../app/db/runs.ts';
import { insertSteps, readSteps } from '../../../app/db/steps.ts';

import { addRun, metricRow, openTestStore } from './fixtures.ts';

function history(db: WritableDb, runId: number, steps: number): void {
  const range = Array.from({ length: steps }, (_, s) => s);
  insertMetrics(
    db,
    runId,
    range.map((s) => metricRow(s)),
  );
  insertAllocations(
    db,
    runId,
    range.map((s) => ({
      step: s,
      sampleIds: Int32Array.of(s),
      counts: Int32Array.of(2),
      losses: Float32Array.of(1),
      allocatorParams: {},
    })),
  );
  insertSteps(
    db,
    runId,
    range.map((s) => ({ step: s, seed: s, scalars: Float32Array.of(s) })),
  );
  insertEvaluations(
    db,
    runId,
    range
      .filter((s) => s % 10 === 9)
      .map((s) => ({ step: s, split: 'val' as const, loss: 1, accuracy: 0.5, examples: 1, wallMs: 1 })),
  );
}

const ck = (step: number) => ({ step, params: Float32Array.of(step, step + 1), rngState: [step] });

describe('resume', () => {
  it('takes an interrupted run back from its latest checkpoint, dropping what the dead process wrote after it', () => {
    const { db } = openTestStore();
    const run = addRun(db);
    transitionRun(db, run.id, 'running', { pid: 1 });
    history(db, run.id, 100);
    writeCheckpoint(db, run.id, ck(29), { storage: 'file' });
    writeCheckpoint(db, run.id, ck(59), { storage: 'file' });
    transitionRun(db, run.id, 'interrupted');

    const { run: resumed, checkpoint } = prepareResume(db, run.id, { pid: 2, now: () => 77 });
    expect(checkpoint?.step).toBe(59);
    expect(checkpoint?.params).toEqual(Float32Array.of(59, 60));
    expect(checkpoint?.rngState).toEqual([59]);
    expect(resumed).toMatchObject({ status: 'running', pid: 2, heartbeatAt: 77 });
    expect(readMetrics(db, run.id).at(-1)?.step).toBe(59);
    expect(readSteps(db, run.id)).toHaveLength(60);
    expect(listEvaluations(db, run.id).map((e) => e.step)).toEqual([9, 19, 29, 39, 49, 59]);
    expect(db.prepare('SELECT max(step) FROM allocations').pluck().get()).toBe(59);
    // The pyramid is exactly what the remaining rows give.
    const rollups = db.prepare('SELECT * FROM metric_rollups ORDER BY level, bucket').all();
    rebuildRollups(db, run.id);
    expect(db.prepare('SELECT * FROM metric_rollups ORDER BY level, bucket').all()).toEqual(rollups);
    expect(listEvents(db, { runId: run.id })[0]).toMatchObject({
      kind: 'run/resumed',
      message: { fromStep: 59 },
    });
    // The resumed loop rewrites step 60 onwards without conflicts.
    insertMetrics(db, run.id, [metricRow(60)]);
  });

  it('starts over when there is no checkpoint', () => {
    const { db } = openTestStore();
    const run = addRun(db);
    transitionRun(db, run.id, 'running', { pid: 1 });
    history(db, run.id, 20);
    transitionRun(db, run.id, 'interrupted');
    expect(prepareResume(db, run.id, { pid: 3 }).checkpoint).toBeUndefined();
    expect(readMetrics(db, run.id)).toEqual([]);
    expect(readSteps(db, run.id)).toEqual([]);
  });

  it('refuses a run that is not interrupted, and changes nothing when the checkpoint is corrupt', () => {
    const { db } = openTestStore();
    const run = addRun(db);
    expect(() => prepareResume(db, run.id, { pid: 1 })).toThrow(RunStateError);
    transitionRun(db, run.id, 'running', { pid: 1 });
    history(db, run.id, 40);
    const info = writeCheckpoint(db, run.id, ck(19));
    db.prepare('UPDATE checkpoints SET params_blob = zeroblob(8) WHERE id = ?').run(info.id);
    transitionRun(db, run.id, 'interrupted');
    expect(() => prepareResume(db, run.id, { pid: 2 })).toThrow(CheckpointCorruptError);
    expect(getRun(db, run.id)).toMatchObject({ status: 'interrupted', pid: null });
    expect(readMetrics(db, run.id)).toHaveLength(40);
  });

  it('truncates a run after a step, removing later checkpoint files', () => {
    const { db } = openTestStore();
    const run = addRun(db);
    history(db, run.id, 30);
    const early = writeCheckpoint(db, run.id, ck(9), { storage: 'file' });
    const late = writeCheckpoint(db, run.id, ck(19), { storage: 'file' });
    truncateRunAfter(db, run.id, 9);
    expect(listCheckpoints(db, run.id).map((c) => c.step)).toEqual([9]);
    expect(existsSync(late.path as string)).toBe(false);
    expect(existsSync(early.path as string)).toBe(true);
    expect(readMetrics(db, run.id)).toHaveLength(10);
  });
});
