// The run view's curves on a fast run: a down-sampled read (min/max per 32-step bucket) up to step 23,000, then
// progress events at 20 per second of a run doing ~2,600 steps/s (one event every 130 steps) up to 34,000, as in
// test-artifacts/screenshots/run-live.png. Continued by the events alone, the raw line dropped from ~62 points per
// 1,000 steps to ~8 and the smoothed line followed single steps; the tail read now continues the series with
// points of the same kind, so the live curve equals a fresh full read of the store.
import { flushSync } from 'svelte';
import { describe, expect, it } from 'vitest';

import type { HandlerArgs, HandlerResult } from '../../../app/contract.ts';
import { bucketExtremes, mergeTail, tailStart, type Curve } from '../../../renderer/src/lib/curve.ts';
import { smoothEma } from '../../../renderer/src/lib/smoothing.ts';
import { RunView } from '../../../renderer/src/lib/state/run-view.svelte.ts';
import { testBridge } from '../bridge.ts';
import { progress, runSummary } from '../fixtures.ts';

const frame = () => new Promise<void>((resolve) => requestAnimationFrame(() => resolve()));

/** A noisy loss per step: a slow decay plus a deterministic zigzag (what min/max buckets keep). */
const lossAt = (step: number) =>
  0.5 + 1 / (1 + step / 2000) + 0.4 * Math.sin(step * 1.7) * Math.cos(step * 0.31);
const accAt = (step: number) => 0.5 + 0.3 * Math.sin(step * 0.9);
const WIDTH = 32;

/** The store: `stored` steps, read like run/metrics (raw rows when they fit maxPoints, else WIDTH-step buckets). */
function store() {
  const s = { stored: 0 };
  const raw = (from: number, f: (step: number) => number): Curve => {
    const steps = Array.from({ length: s.stored - from + 1 }, (_, i) => from + i);
    return { steps, x: steps, y: steps.map(f) };
  };
  const metrics = (args: HandlerArgs<'run/metrics'>): HandlerResult<'run/metrics'> => {
    const from = args.fromStep ?? 1;
    const fits = s.stored - from + 1 <= (args.maxPoints ?? 2000);
    const series = (metric: 'trainLoss' | 'trainAcc', f: (step: number) => number) => {
      // Independent of the renderer's helper: min and max per aligned bucket, in step order.
      const c = raw(from, f);
      if (fits) return { runId: 7, metric, level: 0, width: 1, ...c, y: c.y as number[] };
      const out: Curve = { steps: [], x: [], y: [] };
      for (let b = Math.floor(from / WIDTH); b * WIDTH <= s.stored; b++) {
        const steps = c.steps.slice(Math.max(0, b * WIDTH - from), Math.max(0, (b + 1) * WIDTH - from));
        if (steps.length === 0) continue;
        const ys = steps.map(f);
        const lo = steps[ys.indexOf(Math.min(...ys))]!;
        const hi = steps[ys.indexOf(Math.max(...ys))]!;
        for (const st of lo === hi ? [lo] : [Math.min(lo, hi), Math.max(lo, hi)]) {
          out.steps.push(st);
          out.x.push(st);
          out.y.push(f(st));
        }
      }
      return { runId: 7, metric, level: 2, width: WIDTH, ...out, y: out.y as number[] };
    };
    return {
      x: 'step',
      series: [series('trainLoss', lossAt), series('trainAcc', accAt)],
      evaluations: [{ runId: 7, points: [] }],
    };
  };
  return { s, metrics };
}

function bridge(metrics: (a: HandlerArgs<'run/metrics'>) => HandlerResult<'run/metrics'>) {
  const { stats, ...run } = runSummary({ id: 7, status: 'running', executionProvider: 'cpu' });
  return testBridge({
    'run/get': () => ({
      run,
      stats,
      queue: { state: 'active' as const },
      model: null,
      dataset: null,
      evaluations: [],
      checkpoints: [],
      events: [],
    }),
    'run/metrics': metrics,
    'run/allocations': () => ({
      runId: 7,
      latest: null,
      histogram: { counts: [], samples: [] },
      stats: [],
      heatmap: { steps: [], bins: 16, rows: [] },
    }),
  });
}

/** Points per 1,000 steps of a curve between two steps. */
const density = (c: Curve, from: number, to: number) =>
  (1000 * c.steps.filter((s) => s >= from && s < to).length) / (to - from);

describe('bucketExtremes and mergeTail', () => {
  it('bucket raw rows exactly like the store', () => {
    const raw: Curve = {
      steps: [30, 31, 32, 33, 34, 64],
      x: [3, 3.1, 3.2, 3.3, 3.4, 6.4],
      y: [5, 1, 2, null, 9, 4],
    };
    expect(bucketExtremes(raw, 32)).toEqual({
      steps: [30, 31, 32, 34, 64],
      x: [3, 3.1, 3.2, 3.4, 6.4],
      y: [5, 1, 2, 9, 4],
    });
    expect(bucketExtremes(raw, 1)).toBe(raw);
  });

  it('replaces the partial last bucket and keeps live points after the tail only', () => {
    const history: Curve = { steps: [1, 5, 64, 70], x: [1, 5, 64, 70], y: [3, 1, 2, 2.5] };
    expect(tailStart(history, 32)).toBe(64);
    const tail: Curve = { steps: [64, 65, 70, 90, 96], x: [64, 65, 70, 90, 96], y: [2, 0.5, 2.5, 3, 1] };
    const live: Curve = { steps: [70, 96, 120], x: [70, 96, 120], y: [9, 9, 0.7] };
    expect(mergeTail(history, tail, 64, 32, live)).toEqual({
      steps: [1, 5, 65, 90, 96, 120],
      x: [1, 5, 65, 90, 96, 120],
      y: [3, 1, 0.5, 3, 1, 0.7],
    });
  });
});

describe('RunView on a fast run', () => {
  it('continues the curves from the store at the same density, equal to a full read', async () => {
    const { s, metrics } = store();
    s.stored = 23_000;
    const b = bridge(metrics);
    const view = new RunView(b, 7);
    await view.load();
    expect(view.loss.steps.at(-1)).toBeGreaterThan(22_990);
    const before = density(view.loss, 0, 23_000);
    expect(before).toBeGreaterThan(60); // two points per 32-step bucket: 62.5 per 1,000 steps

    // 11,000 more steps arrive as throttled events, one every 130 steps.
    for (let step = 23_130; step <= 34_000; step += 130)
      b.emit('run/progress', progress(7, step, { loss: lossAt(step) }));
    await frame();
    flushSync();
    // What the screenshot showed: the events alone are a thin sample after step 23,000.
    expect(density(view.loss, 23_100, 34_000)).toBeLessThan(8);

    s.stored = 34_000;
    await view.loadTail();
    const tailCall = b.callsTo('run/metrics').at(-1) as HandlerArgs<'run/metrics'>;
    expect(tailCall.fromStep).toBe(22_976); // the last (partial) bucket, 718 × 32, is read again
    // One series of one density from the first step to the last stored one, in step order.
    expect(view.loss.steps.at(-1)).toBeGreaterThan(33_990);
    const after = density(view.loss, 23_100, 34_000);
    expect(Math.abs(after - before)).toBeLessThan(2);
    expect(view.loss.steps.every((st, i) => i === 0 || st > (view.loss.steps[i - 1] as number))).toBe(true);

    // Exactly what a fresh read of the whole store gives, so the raw and the smoothed lines agree with a reload.
    const full = metrics({ runIds: [7], metrics: ['trainLoss', 'trainAcc'], x: 'step', maxPoints: 2000 });
    const fullLoss = full.series[0]!;
    expect(view.loss.steps).toEqual(fullLoss.steps);
    expect(view.loss.y).toEqual(fullLoss.y);
    const smooth = smoothEma(view.loss.y, 0.6, view.loss.x);
    const fullSmooth = smoothEma(fullLoss.y, 0.6, fullLoss.x);
    expect(smooth.at(-1)).toBeCloseTo(fullSmooth.at(-1) as number, 12);
    // The batch accuracy (no live events) is continued the same way.
    expect(view.trainAcc.steps).toEqual(full.series[1]!.steps);
    view.dispose();
  });

  it('re-reads the whole series when the tail is too long to read raw', async () => {
    const { s, metrics } = store();
    s.stored = 23_000;
    const b = bridge(metrics);
    const view = new RunView(b, 7);
    await view.load();
    b.emit('run/progress', progress(7, 60_000, { loss: 1 }));
    await frame();
    s.stored = 60_000;
    await view.loadTail();
    const last = b.callsTo('run/metrics').at(-1) as HandlerArgs<'run/metrics'>;
    expect(last.fromStep).toBeUndefined();
    expect(last.maxPoints).toBe(2000);
    view.dispose();
  });
});
