import { describe, expect, it } from 'vitest';

import {
  bucketExtremes,
  extremesToPoints,
  FANOUT,
  MAX_LEVEL,
  minMaxDownsample,
  planBuckets,
} from '../../../app/db/downsample.ts';

import { prng } from './fixtures.ts';

/** The reference: group every point by bucket, then scan each group in full for its extremes. */
function bruteForce(
  steps: number[],
  values: (number | null)[],
  width: number,
): { steps: number[]; values: number[] } {
  const groups = new Map<number, { s: number; v: number }[]>();
  steps.forEach((s, i) => {
    const v = values[i];
    if (v === null || v === undefined || Number.isNaN(v)) return;
    const b = Math.floor(s / width);
    groups.set(b, [...(groups.get(b) ?? []), { s, v }]);
  });
  const out = { steps: [] as number[], values: [] as number[] };
  for (const b of [...groups.keys()].sort((x, y) => x - y)) {
    const g = (groups.get(b) ?? []).sort((x, y) => x.s - y.s);
    const lo = g.reduce((m, p) => (p.v < m.v ? p : m));
    const hi = g.reduce((m, p) => (p.v > m.v ? p : m));
    for (const p of lo.s === hi.s ? [lo] : lo.s < hi.s ? [lo, hi] : [hi, lo]) {
      out.steps.push(p.s);
      out.values.push(p.v);
    }
  }
  return out;
}

describe('minMaxDownsample', () => {
  it('matches the brute-force reference on shuffled data with gaps, nulls, NaN and ties', () => {
    const rand = prng(7);
    for (let trial = 0; trial < 30; trial++) {
      const n = 1 + Math.floor(rand() * 400);
      const steps = Array.from({ length: n }, (_, i) => i * (1 + Math.floor(rand() * 3)));
      const values = steps.map(() => {
        const r = rand();
        return r < 0.05 ? null : r < 0.08 ? NaN : Math.round(rand() * 20) / 4; // rounding makes ties common
      });
      const order = steps.map((_, i) => i).sort(() => rand() - 0.5);
      const width = 1 + Math.floor(rand() * 40);
      const got = minMaxDownsample(
        order.map((i) => steps[i] as number),
        order.map((i) => values[i] ?? null),
        width,
      );
      expect(got).toEqual(bruteForce(steps, values, width));
    }
  });

  it('keeps a single spike that averaging would flatten', () => {
    const steps = Array.from({ length: 1000 }, (_, i) => i);
    const values = steps.map((s) => (s === 617 ? 50 : 1));
    const { steps: s, values: v } = minMaxDownsample(steps, values, 100);
    expect(v).toContain(50);
    expect(s[v.indexOf(50)]).toBe(617);
    expect(s.length).toBeLessThanOrEqual(20);
  });

  it('emits the extremes of a bucket in step order and one point when they coincide', () => {
    expect(extremesToPoints([{ bucket: 0, lo: 1, loStep: 5, hi: 3, hiStep: 2 }])).toEqual({
      steps: [2, 5],
      values: [3, 1],
    });
    expect(extremesToPoints([{ bucket: 0, lo: 1, loStep: 4, hi: 1, hiStep: 4 }])).toEqual({
      steps: [4],
      values: [1],
    });
  });

  it('refuses a bad width and mismatched inputs', () => {
    expect(() => bucketExtremes([1], [1], 0)).toThrow(/positive integer/);
    expect(() => bucketExtremes([1], [1], 1.5)).toThrow(/positive integer/);
    expect(() => bucketExtremes([1, 2], [1], 2)).toThrow(/differ in length/);
  });
});

describe('planBuckets', () => {
  it('returns raw resolution when the range fits', () => {
    expect(planBuckets(0, 1999, 2000)).toEqual({ level: 0, width: 1, factor: 1 });
    expect(planBuckets(5, 5, 2)).toEqual({ level: 0, width: 1, factor: 1 });
  });

  it('never exceeds maxPoints and reads at most FANOUT summary rows per output bucket', () => {
    const rand = prng(3);
    for (let t = 0; t < 500; t++) {
      const lo = Math.floor(rand() * 1e6);
      const hi = lo + Math.floor(rand() ** 3 * 5e7);
      const maxPoints = 2 + Math.floor(rand() * 4000);
      const plan = planBuckets(lo, hi, maxPoints);
      const base = FANOUT ** plan.level;
      expect(plan.width).toBe(plan.factor * base);
      expect(plan.level).toBeLessThanOrEqual(MAX_LEVEL);
      const buckets = Math.floor(hi / plan.width) - Math.floor(lo / plan.width) + 1;
      const points = plan.width === 1 ? hi - lo + 1 : 2 * buckets;
      expect(points).toBeLessThanOrEqual(maxPoints);
      if (plan.level < MAX_LEVEL && plan.width > 1) expect(plan.factor).toBeLessThanOrEqual(2 * FANOUT);
    }
  });

  it('picks the 512-step level for a million steps at 2,000 points', () => {
    expect(planBuckets(0, 999_999, 2000)).toEqual({ level: 3, width: 1024, factor: 2 });
  });
});
