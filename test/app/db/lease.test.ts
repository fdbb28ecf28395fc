import { describe, expect, it } from 'vitest';

import { RunLeaseLostError } from '../../../app/db/errors.ts';
import { listEvents } from '../../../app/db/events.ts';
import { heartbeat, isProcessAlive, markInterruptedRuns } from '../../../app/db/lease.ts';
import { getRun, transitionRun } from '../../../app/db/runs.ts';

import { addRun, openTestStore } from './fixtures.ts';

const at = (t: number) => () => t;

describe('lease', () => {
  it('knows this process is alive and a reaped pid is not', () => {
    expect(isProcessAlive(process.pid)).toBe(true);
    expect(isProcessAlive(2 ** 22 + 12345)).toBe(false);
  });

  it('refreshes the heartbeat of a held run and reports a lost lease', () => {
    const { db } = openTestStore();
    const run = addRun(db);
    transitionRun(db, run.id, 'running', { pid: 100, now: at(1) });
    heartbeat(db, run.id, 100, at(50));
    expect(getRun(db, run.id)?.heartbeatAt).toBe(50);
    expect(() => heartbeat(db, run.id, 101, at(60))).toThrow(RunLeaseLostError);
    transitionRun(db, run.id, 'interrupted');
    expect(() => heartbeat(db, run.id, 100, at(70))).toThrow(/process 100 no longer holds the run/);
  });

  it('marks running/paused runs interrupted when their process is gone or silent too long, and only those', () => {
    const { db } = openTestStore();
    const alive = new Set([1, 2, 3]);
    const isAlive = (pid: number) => alive.has(pid);
    const fresh = addRun(db, { name: 'fresh' });
    const dead = addRun(db, { name: 'dead' });
    const stale = addRun(db, { name: 'stale' });
    const pausedDead = addRun(db, { name: 'paused-dead' });
    const queued = addRun(db, { name: 'queued' });
    const done = addRun(db, { name: 'done' });
    transitionRun(db, fresh.id, 'running', { pid: 1, now: at(1000) });
    transitionRun(db, dead.id, 'running', { pid: 99, now: at(1000) });
    transitionRun(db, stale.id, 'running', { pid: 2, now: at(0) });
    transitionRun(db, pausedDead.id, 'running', { pid: 98, now: at(1000) });
    transitionRun(db, pausedDead.id, 'paused', { now: at(1000) });
    transitionRun(db, done.id, 'running', { pid: 97, now: at(1000) });
    transitionRun(db, done.id, 'completed', { now: at(1000) });

    const marked = markInterruptedRuns(db, { now: at(1500), staleMs: 1000, isAlive });
    expect(marked).toEqual([
      { runId: dead.id, pid: 99, reason: 'process-gone' },
      { runId: stale.id, pid: 2, reason: 'heartbeat-stale' },
      { runId: pausedDead.id, pid: 98, reason: 'process-gone' },
    ]);
    for (const r of [dead, stale, pausedDead])
      expect(getRun(db, r.id)).toMatchObject({ status: 'interrupted', pid: null });
    expect(getRun(db, fresh.id)).toMatchObject({ status: 'running', pid: 1 });
    expect(getRun(db, queued.id)?.status).toBe('queued');
    expect(getRun(db, done.id)?.status).toBe('completed');
    expect(listEvents(db, { runId: dead.id })[0]).toMatchObject({
      level: 'warn',
      kind: 'run/interrupted',
      message: { from: 'running', pid: 99, reason: 'process-gone', heartbeatAt: 1000 },
    });
    // Idempotent: a second pass finds nothing more.
    expect(markInterruptedRuns(db, { now: at(1500), staleMs: 1000, isAlive })).toEqual([]);
    // The stale run's process, still alive, learns it lost the run at its next heartbeat.
    expect(() => heartbeat(db, stale.id, 2, at(1600))).toThrow(RunLeaseLostError);
  });
});
