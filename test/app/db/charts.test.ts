import { describe, expect, it } from 'vitest';

import { chartSeries } from '../../../app/db/charts.ts';
import { minMaxDownsample } from '../../../app/db/downsample.ts';
import { insertMetrics, readMetrics, type MetricRow } from '../../../app/db/metrics.ts';

import { addRun, metricRow, openTestStore, prng } from './fixtures.ts';

describe('chartSeries', () => {
  // Distinct random values (no ties), so the SQL extremes and the pure reference must agree on steps too.
  function seeded(n: number, seed: number, gapEvery = 0): MetricRow[] {
    const rand = prng(seed);
    const rows: MetricRow[] = [];
    for (let s = 0; rows.length < n; s++) {
      if (gapEvery && s % gapEvery === 0) continue;
      rows.push(metricRow(s, rand() < 0.02 ? null : rand()));
    }
    return rows;
  }

  it('equals the pure min/max reference on the raw rows at every pyramid level', () => {
    const { db } = openTestStore();
    const run = addRun(db);
    const rows = seeded(40_000, 1, 13);
    insertMetrics(db, run.id, rows);
    const levels = new Set<number>();
    for (const maxPoints of [100_000, 20_000, 2000, 300, 40, 4]) {
      const [series] = chartSeries(db, { runIds: [run.id], metric: 'trainLoss', maxPoints });
      if (!series) throw new Error('no series');
      levels.add(series.level);
      const ref = minMaxDownsample(
        rows.map((r) => r.step),
        rows.map((r) => r.trainLoss),
        series.width,
      );
      expect(series.steps).toEqual(ref.steps);
      expect(series.y).toEqual(ref.values);
      expect(series.x).toEqual(ref.steps);
      expect(series.steps.length).toBeLessThanOrEqual(maxPoints);
    }
    expect([...levels].sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it('serves several runs in the order asked, another metric, and another x axis', () => {
    const { db } = openTestStore();
    const a = addRun(db);
    const b = addRun(db);
    const empty = addRun(db);
    insertMetrics(db, a.id, seeded(3000, 2));
    insertMetrics(db, b.id, seeded(700, 3));
    const out = chartSeries(db, {
      runIds: [b.id, empty.id, a.id],
      metric: 'gradNorm',
      x: 'queries',
      maxPoints: 200,
    });
    expect(out.map((s) => s.runId)).toEqual([b.id, empty.id, a.id]);
    expect(out[1]?.steps).toEqual([]);
    for (const s of out) {
      const rows = readMetrics(db, s.runId);
      const ref = minMaxDownsample(
        rows.map((r) => r.step),
        rows.map((r) => r.gradNorm),
        s.width,
      );
      expect(s.y).toEqual(ref.values);
      // x is the queries column at each chosen step.
      expect(s.x).toEqual(s.steps.map((st) => rows.find((r) => r.step === st)?.queries));
    }
  });

  it('zooms into a step range', () => {
    const { db } = openTestStore();
    const run = addRun(db);
    const rows = seeded(10_000, 4);
    insertMetrics(db, run.id, rows);
    const [raw] = chartSeries(db, { runIds: [run.id], metric: 'trainLoss', fromStep: 1000, toStep: 1999 });
    const inRange = rows.filter((r) => r.step >= 1000 && r.step <= 1999 && r.trainLoss !== null);
    expect(raw?.steps).toEqual(inRange.map((r) => r.step));
    const [coarse] = chartSeries(db, {
      runIds: [run.id],
      metric: 'trainLoss',
      fromStep: 4096,
      toStep: 8191,
      maxPoints: 64,
    });
    const sub = rows.filter((r) => r.step >= 4096 && r.step <= 8191);
    const ref = minMaxDownsample(
      sub.map((r) => r.step),
      sub.map((r) => r.trainLoss),
      coarse?.width ?? 0,
    );
    expect(coarse?.steps).toEqual(ref.steps);
  });

  it('refuses an unknown metric or axis (they name columns, so they are checked, never spliced)', () => {
    const { db } = openTestStore();
    const bad = { runIds: [1], metric: 'train_loss; DROP TABLE runs' } as unknown as Parameters<
      typeof chartSeries
    >[1];
    expect(() => chartSeries(db, bad)).toThrow(/unknown chart metric/);
    expect(() => chartSeries(db, { runIds: [1], metric: 'lr', x: 'epoch' as never })).toThrow(
      /unknown chart x axis/,
    );
    expect(() => chartSeries(db, { runIds: [1], metric: 'constructor' as never })).toThrow(
      /unknown chart metric/,
    );
  });
});
