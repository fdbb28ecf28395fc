import { flushSync } from 'svelte';
import { describe, expect, it } from 'vitest';

import type { HandlerArgs, HandlerResult } from '../../../app/contract.ts';
import { RunView } from '../../../renderer/src/lib/state/run-view.svelte.ts';
import { settle, testBridge } from '../bridge.ts';
import { progress, runSummary } from '../fixtures.ts';

const frame = () => new Promise<void>((resolve) => requestAnimationFrame(() => resolve()));

function metrics(args: HandlerArgs<'run/metrics'>): HandlerResult<'run/metrics'> {
  const x = args.x ?? 'step';
  const steps = [1, 2, 3];
  const xs = steps.map((s) => (x === 'step' ? s : s * 100));
  return {
    x,
    series: [
      { runId: 7, metric: 'trainLoss', level: 0, width: 1, steps, x: xs, y: [2, 1.5, 1.2] },
      { runId: 7, metric: 'trainAcc', level: 0, width: 1, steps, x: xs, y: [0.2, 0.3, 0.4] },
    ],
    evaluations: [{ runId: 7, points: [{ step: 0, x: 0, loss: 2.3, accuracy: 0.1 }] }],
  };
}

function bridge() {
  // A small stand-in for the server's run record: the control calls change it, run/get reads it.
  let status: HandlerResult<'run/get'>['run']['status'] = 'running';
  const { stats, ...run } = runSummary({ id: 7, status, executionProvider: null });
  const details = () => ({
    run: { ...run, status },
    stats,
    queue: { state: 'active' as const },
    model: null,
    dataset: null,
    evaluations: [],
    checkpoints: [],
    events: [
      {
        id: 2,
        runId: 7,
        ts: 1,
        level: 'info' as const,
        kind: 'run/problem',
        message: { provider: 'cpu', trainSize: 1000 },
      },
    ],
  });
  return testBridge({
    'run/get': details,
    'run/metrics': metrics,
    'run/allocations': () => ({
      runId: 7,
      latest: {
        step: 3,
        sampleIds: [0, 1],
        counts: [4, 6],
        losses: [0.2, 0.9],
        allocatorParams: { alpha: 0.5 },
      },
      histogram: { counts: [4, 6], samples: [1, 1] },
      stats: [],
      heatmap: {
        steps: [1, 2, 3],
        bins: 16,
        rows: [new Array(16).fill(5), new Array(16).fill(5), new Array(16).fill(5)],
      },
    }),
    'run/pause': () => ({ ...run, status: (status = 'paused') }),
    'run/resume': () => ({ ...run, status: (status = 'queued') }),
  });
}

describe('RunView', () => {
  it('loads the record, the down-sampled curves and the allocations', async () => {
    const view = new RunView(bridge(), 7);
    await view.load();
    expect(view.status).toBe('running');
    expect(view.loss.y).toEqual([2, 1.5, 1.2]);
    expect(view.trainAcc.y).toEqual([0.2, 0.3, 0.4]);
    expect(view.evalAcc).toEqual({ steps: [0], x: [0], y: [0.1] });
    expect(view.allocation).toMatchObject({ step: 3, counts: [4, 6], params: { alpha: 0.5 } });
    expect(view.heatmap.rows).toHaveLength(3);
    expect(view.provider).toBe('cpu'); // announced in the events before the run records it
    view.dispose();
  });

  it('appends streamed steps once per frame, replacing the arrays', async () => {
    const b = bridge();
    const view = new RunView(b, 7);
    await view.load();
    const loss = view.loss;
    for (let s = 2; s <= 30; s++) b.emit('run/progress', progress(7, s));
    b.emit('run/progress', progress(8, 99)); // another run's
    expect(view.loss).toBe(loss);
    await frame();
    flushSync();
    expect(view.loss.steps.at(-1)).toBe(30);
    expect(view.loss.steps.filter((s) => s === 3)).toHaveLength(1); // overlap with the fetched points merged
    expect(loss.steps).toEqual([1, 2, 3]); // the old array was not mutated
    expect(view.progress?.step).toBe(30);
    expect(view.allocation?.step).toBe(30);
    expect(view.heatmap.steps.at(-1)).toBe(30);
    expect(view.rate?.stepsPerSecond).toBeCloseTo(50, 6); // one step per 20 ms
    view.dispose();
    expect(b.listenerCount('run/progress')).toBe(0);
  });

  it('re-reads the curves on another x axis and places live points on it', async () => {
    const b = bridge();
    const view = new RunView(b, 7);
    await view.load();
    view.setXAxis('queries');
    await settle();
    expect(b.callsTo('run/metrics').at(-1)).toMatchObject({ x: 'queries' });
    expect(view.loss.x).toEqual([100, 200, 300]);
    b.emit('run/progress', progress(7, 4));
    await frame();
    expect(view.loss.x.at(-1)).toBe(4 * 320);
    view.dispose();
  });

  it('pauses and resumes through the contract, following status events', async () => {
    const b = bridge();
    const view = new RunView(b, 7);
    await view.load();
    expect(view.canPause).toBe(true);
    await view.pause();
    expect(view.status).toBe('paused');
    expect(b.callsTo('run/pause')).toEqual([{ id: 7 }]);
    b.emit('run/status', { runId: 7, status: 'interrupted' });
    expect(view.canResume).toBe(true);
    expect(view.canCancel).toBe(true);
    b.emit('run/status', { runId: 7, status: 'completed' });
    expect(view.canCancel).toBe(false);
    view.dispose();
  });

  it('keeps a status event that overtakes the answer of a control call', async () => {
    const b = bridge();
    const view = new RunView(b, 7);
    await view.load();
    await view.pause();
    // The queue announces 'running' before run/resume answers with the store's (still 'paused') record, and
    // before the store says so: the event wins, and later steps confirm it.
    b.handle({
      'run/resume': async () => {
        b.emit('run/status', { runId: 7, status: 'running' });
        const { stats: _stats, ...run } = runSummary({ id: 7, status: 'paused' });
        return run;
      },
    });
    await view.resume();
    expect(view.status).toBe('running');
    b.emit('run/status', { runId: 7, status: 'paused' });
    b.emit('run/progress', progress(7, 50));
    await frame();
    expect(view.status).toBe('running');
    view.dispose();
  });

  it('shows a failed action next to the controls', async () => {
    const b = bridge();
    b.handle({
      'run/cancel': () => {
        throw new Error('run 7 is completed; cannot be cancelled');
      },
    });
    const view = new RunView(b, 7);
    await view.load();
    await view.cancel();
    expect(view.actionError).toMatch(/cannot be cancelled/);
    expect(view.pendingAction).toBeNull();
    view.dispose();
  });
});
