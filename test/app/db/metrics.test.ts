import { describe, expect, it } from 'vitest';

import { bucketExtremes, FANOUT, MAX_LEVEL } from '../../../app/db/downsample.ts';
import {
  insertMetrics,
  readMetrics,
  rebuildRollups,
  SERIES,
  SERIES_KEYS,
  stepBounds,
  truncateMetricsAfter,
  type MetricRow,
} from '../../../app/db/metrics.ts';
import type { ReadableDb } from '../../../app/db/open.ts';

import { addRun, metricRow, openTestStore, prng } from './fixtures.ts';

function rollups(db: ReadableDb, runId: number): Record<string, unknown>[] {
  return db
    .prepare('SELECT * FROM metric_rollups WHERE run_id = ? ORDER BY level, bucket')
    .all(runId) as Record<string, unknown>[];
}

/** What every rollup row must be: per level and bucket, the extremes of the raw rows, computed independently. */
function expectedRollups(runId: number, rows: readonly MetricRow[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const steps = rows.map((r) => r.step);
  for (let level = 1; level <= MAX_LEVEL; level++) {
    const width = FANOUT ** level;
    const perSeries = SERIES_KEYS.map(
      (k) =>
        new Map(
          bucketExtremes(
            steps,
            rows.map((r) => r[k]),
            width,
          ).map((e) => [e.bucket, e]),
        ),
    );
    for (const s of bucketExtremes(steps, steps, width)) {
      const row: Record<string, unknown> = {
        run_id: runId,
        level,
        bucket: s.bucket,
        step_min: s.lo,
        step_max: s.hi,
      };
      SERIES_KEYS.forEach((k, i) => {
        const e = perSeries[i]?.get(s.bucket);
        const c = SERIES[k];
        Object.assign(row, {
          [`${c}_lo`]: e?.lo ?? null,
          [`${c}_lo_step`]: e?.loStep ?? null,
          [`${c}_hi`]: e?.hi ?? null,
          [`${c}_hi_step`]: e?.hiStep ?? null,
        });
      });
      out.push(row);
    }
  }
  return out;
}

describe('metrics', () => {
  it('stores and reads rows in step order, nulls and NaN as null', () => {
    const { db } = openTestStore();
    const run = addRun(db);
    const rows = [metricRow(2), metricRow(0, NaN), metricRow(1, null)];
    insertMetrics(db, run.id, rows);
    const back = readMetrics(db, run.id);
    expect(back.map((r) => r.step)).toEqual([0, 1, 2]);
    expect(back[0]?.trainLoss).toBeNull();
    expect(back[2]).toEqual(metricRow(2));
    expect(readMetrics(db, run.id, { fromStep: 1, limit: 1 }).map((r) => r.step)).toEqual([1]);
    expect(stepBounds(db, run.id)).toEqual({ first: 0, last: 2 });
    expect(stepBounds(db, addRun(db).id)).toBeUndefined();
  });

  it('refuses a step logged twice, and rolls the whole batch back', () => {
    const { db } = openTestStore();
    const run = addRun(db);
    insertMetrics(db, run.id, [metricRow(5)]);
    expect(() => insertMetrics(db, run.id, [metricRow(6), metricRow(5)])).toThrow(/UNIQUE/);
    expect(readMetrics(db, run.id).map((r) => r.step)).toEqual([5]);
  });

  it('keeps the rollup pyramid equal to the extremes of the raw rows, batch after out-of-order batch', () => {
    const { db } = openTestStore();
    const run = addRun(db);
    const rand = prng(11);
    const all = Array.from({ length: 3000 }, (_, i) => metricRow(i * 3, rand() < 0.03 ? null : rand()));
    const shuffled = [...all].sort(() => rand() - 0.5);
    for (let i = 0; i < shuffled.length; i += 137) insertMetrics(db, run.id, shuffled.slice(i, i + 137));
    expect(rollups(db, run.id)).toEqual(expectedRollups(run.id, all));
  });

  it('truncates after a step and repairs the pyramid to what a full rebuild gives', () => {
    const { db } = openTestStore();
    const run = addRun(db);
    const other = addRun(db);
    const rand = prng(5);
    const rows = Array.from({ length: 5000 }, (_, i) => metricRow(i, rand()));
    insertMetrics(db, run.id, rows);
    insertMetrics(db, other.id, rows.slice(0, 100));
    for (const cut of [4095, 2500, 511, 0]) {
      truncateMetricsAfter(db, run.id, cut);
      const kept = rows.slice(0, cut + 1);
      expect(stepBounds(db, run.id)).toEqual({ first: 0, last: cut });
      expect(rollups(db, run.id)).toEqual(expectedRollups(run.id, kept));
      const incremental = rollups(db, run.id);
      rebuildRollups(db, run.id);
      expect(rollups(db, run.id)).toEqual(incremental);
    }
    truncateMetricsAfter(db, run.id, -1);
    expect(readMetrics(db, run.id)).toEqual([]);
    expect(rollups(db, run.id)).toEqual([]);
    expect(readMetrics(db, other.id)).toHaveLength(100);
  });
});
