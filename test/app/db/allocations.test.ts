import { describe, expect, it } from 'vitest';

import {
  allocationStats,
  countStats,
  getAllocation,
  insertAllocations,
  readAllocations,
  sampleAllocationHistory,
} from '../../../app/db/allocations.ts';

import { addRun, openTestStore, prng } from './fixtures.ts';

/** Gini as the mean absolute difference over all ordered pairs, divided by twice the mean: O(n²), obviously right. */
function giniBrute(x: number[]): number {
  const n = x.length;
  const mean = x.reduce((a, b) => a + b, 0) / n;
  if (mean === 0) return 0;
  let sum = 0;
  for (const a of x) for (const b of x) sum += Math.abs(a - b);
  return sum / (n * n) / (2 * mean);
}

describe('countStats', () => {
  it('matches brute-force min/max/mean/std/gini on random allocations', () => {
    const rand = prng(9);
    for (let t = 0; t < 50; t++) {
      const counts = Array.from({ length: 1 + Math.floor(rand() * 80) }, () => Math.floor(rand() * 40));
      const s = countStats(counts);
      const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
      expect(s.budget).toBe(counts.reduce((a, b) => a + b, 0));
      expect(s.min).toBe(Math.min(...counts));
      expect(s.max).toBe(Math.max(...counts));
      expect(s.mean).toBeCloseTo(mean, 12);
      expect(s.std).toBeCloseTo(
        Math.sqrt(counts.reduce((a, c) => a + (c - mean) ** 2, 0) / counts.length),
        10,
      );
      expect(s.gini).toBeCloseTo(giniBrute(counts), 12);
    }
  });

  it('gives 0 for uniform allocation and (n−1)/n with everything on one sample', () => {
    expect(countStats([10, 10, 10, 10]).gini).toBe(0);
    expect(countStats([0, 0, 0, 40]).gini).toBeCloseTo(3 / 4, 15);
    expect(countStats([])).toEqual({ budget: 0, min: 0, max: 0, mean: 0, std: 0, gini: 0 });
  });
});

describe('allocations', () => {
  it('round-trips per-sample arrays and keeps the summary statistics in columns', () => {
    const { db } = openTestStore();
    const run = addRun(db);
    const row = {
      step: 3,
      sampleIds: Int32Array.of(10, 20, 30),
      counts: Int32Array.of(2, 6, 4),
      losses: Float32Array.of(0.5, 2.25, 1),
      allocatorParams: { alpha: 0.5, logC: -1 },
    };
    insertAllocations(db, run.id, [row]);
    expect(getAllocation(db, run.id, 3)).toEqual(row);
    expect(getAllocation(db, run.id, 4)).toBeUndefined();
    expect(readAllocations(db, run.id)).toEqual([row]);
    expect(allocationStats(db, run.id)).toEqual([
      { step: 3, ...countStats([2, 6, 4]), allocatorParams: row.allocatorParams },
    ]);
    expect(() => insertAllocations(db, run.id, [{ ...row, step: 4, counts: Int32Array.of(1) }])).toThrow(
      /differ in length/,
    );
  });

  it('traces one sample across steps, including repeats in a batch, without false byte matches', () => {
    const { db } = openTestStore();
    const run = addRun(db);
    const sample = 0x01020304;
    // Step 1 holds the sample's bytes only across an element boundary (…01 02 | 03 04…): instr() matches, the
    // aligned check must not.
    const straddle = Int32Array.of(0x02000000 | 0x00000000, 0x00000000);
    const bytes = new Uint8Array(straddle.buffer);
    bytes.set([0x04, 0x03], 2);
    bytes.set([0x02, 0x01], 4);
    insertAllocations(db, run.id, [
      {
        step: 0,
        sampleIds: Int32Array.of(7, sample, 9, sample),
        counts: Int32Array.of(1, 3, 1, 5),
        losses: Float32Array.of(0, 1.5, 0, 2.5),
        allocatorParams: {},
      },
      {
        step: 1,
        sampleIds: straddle,
        counts: Int32Array.of(1, 1),
        losses: Float32Array.of(0, 0),
        allocatorParams: {},
      },
      {
        step: 2,
        sampleIds: Int32Array.of(sample),
        counts: Int32Array.of(8),
        losses: Float32Array.of(0.25),
        allocatorParams: {},
      },
      {
        step: 3,
        sampleIds: Int32Array.of(1, 2),
        counts: Int32Array.of(1, 1),
        losses: Float32Array.of(0, 0),
        allocatorParams: {},
      },
    ]);
    expect(
      db
        .prepare('SELECT count(*) FROM allocations WHERE instr(sample_ids, ?) > 0')
        .pluck()
        .get(Buffer.from(Int32Array.of(sample).buffer)),
    ).toBe(3);
    expect(sampleAllocationHistory(db, run.id, sample)).toEqual([
      { step: 0, row: 1, count: 3, loss: 1.5 },
      { step: 0, row: 3, count: 5, loss: 2.5 },
      { step: 2, row: 0, count: 8, loss: 0.25 },
    ]);
    expect(sampleAllocationHistory(db, run.id, sample, { fromStep: 1 })).toHaveLength(1);
  });
});
