import { describe, expect, it } from 'vitest';

import {
  classCounts,
  groupByClass,
  kShotPerClass,
  rebalance,
  shuffleInPlace,
  splitCounts,
  stratifiedSplit,
  uniformInt,
} from '../../../engine/data/splits.ts';
import { ConfigError } from '../../../engine/errors.ts';
import { Rng } from '../../../engine/rng.ts';

/** Labels with `sizes[c]` members of class c, interleaved so that classes are not contiguous. */
function labelsWith(sizes: number[]): Int32Array {
  const out: number[] = [];
  const left = [...sizes];
  while (left.some((n) => n > 0)) {
    for (let c = 0; c < left.length; c++) {
      if (left[c]! > 0) {
        out.push(c);
        left[c]!--;
      }
    }
  }
  return Int32Array.from(out);
}

const union = (...parts: Int32Array[]): number[] => parts.flatMap((p) => [...p]).sort((a, b) => a - b);

describe('uniformInt and shuffleInPlace', () => {
  it('draws every value of [0, n) about equally often', () => {
    const rng = new Rng(1);
    const counts = new Array<number>(7).fill(0);
    for (let i = 0; i < 70_000; i++) counts[uniformInt(rng, 7)]!++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(500);
  });

  it('shuffles into a permutation, the same one for the same seed', () => {
    const a = Int32Array.from({ length: 50 }, (_, i) => i);
    const b = a.slice();
    shuffleInPlace(a, new Rng(9));
    shuffleInPlace(b, new Rng(9));
    expect([...a]).toEqual([...b]);
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect([...a]).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});

describe('splitCounts', () => {
  it('rounds each part per class and gives train the rest', () => {
    expect(splitCounts(100, { val: 0.1, test: 0.2 })).toEqual({ train: 70, val: 10, test: 20 });
    expect(splitCounts(7, { val: 0.1, test: 0.1 })).toEqual({ train: 5, val: 1, test: 1 });
    expect(splitCounts(0, { val: 0.1, test: 0.1 })).toEqual({ train: 0, val: 0, test: 0 });
  });

  it('keeps train non-negative on tiny classes', () => {
    expect(splitCounts(1, { val: 0.5, test: 0.45 })).toEqual({ train: 0, val: 1, test: 0 });
    expect(splitCounts(3, { val: 0.49, test: 0.49 })).toEqual({ train: 1, val: 1, test: 1 });
    expect(splitCounts(2, { val: 0.4, test: 0.4 })).toEqual({ train: 0, val: 1, test: 1 });
  });

  it('rejects fractions outside [0, 1) and sums of 1 or more (BAD CALL)', () => {
    expect(() => splitCounts(10, { val: -0.1, test: 0 })).toThrow(ConfigError);
    expect(() => splitCounts(10, { val: 0.5, test: 0.5 })).toThrow(/val \+ test must be below 1/);
    expect(() => splitCounts(10, { val: Number.NaN, test: 0 })).toThrow(/split\.val/);
  });
});

describe('stratifiedSplit', () => {
  const labels = labelsWith([100, 50, 30, 7]);

  it('is exact per class and partitions the data', () => {
    const s = stratifiedSplit(labels, { seed: 3, val: 0.1, test: 0.2 });
    expect(classCounts(labels, s.train, 4)).toEqual([70, 35, 21, 5]);
    expect(classCounts(labels, s.val, 4)).toEqual([10, 5, 3, 1]);
    expect(classCounts(labels, s.test, 4)).toEqual([20, 10, 6, 1]);
    expect(union(s.train, s.val, s.test)).toEqual(Array.from({ length: labels.length }, (_, i) => i));
    for (const part of [s.train, s.val, s.test]) expect([...part]).toEqual([...part].sort((a, b) => a - b));
  });

  it('gives the same split for the same seed and a different one for another seed', () => {
    const a = stratifiedSplit(labels, { seed: 11, val: 0.1, test: 0.1 });
    const b = stratifiedSplit(labels, { seed: 11, val: 0.1, test: 0.1 });
    const c = stratifiedSplit(labels, { seed: 12, val: 0.1, test: 0.1 });
    expect([...a.test]).toEqual([...b.test]);
    expect([...a.val]).toEqual([...b.val]);
    expect([...a.test]).not.toEqual([...c.test]);
  });

  it('keeps the test set when only the val fraction changes', () => {
    const a = stratifiedSplit(labels, { seed: 5, val: 0.1, test: 0.2 });
    const b = stratifiedSplit(labels, { seed: 5, val: 0.3, test: 0.2 });
    expect([...a.test]).toEqual([...b.test]);
  });

  it("keeps a class's split when another class changes", () => {
    const more = Int32Array.from([...labels, 3, 3, 3, 3]);
    const a = stratifiedSplit(labels, { seed: 5, val: 0.1, test: 0.2 });
    const b = stratifiedSplit(more, { seed: 5, val: 0.1, test: 0.2 });
    const ofClass0 = (s: Int32Array) => [...s].filter((i) => labels[i] === 0);
    expect(ofClass0(b.test)).toEqual(ofClass0(a.test));
  });

  it('pins the exact split of a seed (a golden value, stable across machines)', () => {
    const s = stratifiedSplit(labelsWith([5, 5]), { seed: 42, val: 0.2, test: 0.2 });
    expect({ train: [...s.train], val: [...s.val], test: [...s.test] }).toEqual({
      train: [2, 3, 4, 5, 8, 9],
      val: [1, 6],
      test: [0, 7],
    });
  });

  it('splits only within a pool, whatever order the pool is given in', () => {
    const pool = Int32Array.from({ length: 60 }, (_, i) => 59 - i);
    const s = stratifiedSplit(labels, { seed: 1, val: 0.5, test: 0 }, pool);
    expect(union(s.train, s.val, s.test)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(stratifiedSplit(labels, { seed: 1, val: 0.5, test: 0 }, [...pool].reverse())).toEqual(s);
  });

  it('rejects a negative seed and out-of-range pool indices (BAD CALL)', () => {
    expect(() => stratifiedSplit(labels, { seed: -1, val: 0.1, test: 0.1 })).toThrow(ConfigError);
    expect(() => groupByClass(labels, [labels.length])).toThrow(/outside/);
  });
});

describe('kShotPerClass', () => {
  const labels = labelsWith([40, 30, 20]);

  it('takes exactly k per class', () => {
    const s = kShotPerClass(labels, 16, 7);
    expect(classCounts(labels, s, 3)).toEqual([16, 16, 16]);
    expect(new Set(s).size).toBe(48);
  });

  it('is deterministic and nested over k for one seed', () => {
    expect([...kShotPerClass(labels, 8, 7)]).toEqual([...kShotPerClass(labels, 8, 7)]);
    const k4 = new Set(kShotPerClass(labels, 4, 7));
    const k16 = new Set(kShotPerClass(labels, 16, 7));
    for (const i of k4) expect(k16.has(i)).toBe(true);
    expect([...kShotPerClass(labels, 8, 8)]).not.toEqual([...kShotPerClass(labels, 8, 7)]);
  });

  it('draws from a pool only', () => {
    const { train } = stratifiedSplit(labels, { seed: 1, val: 0.2, test: 0.2 });
    const pool = new Set(train);
    for (const i of kShotPerClass(labels, 5, 3, { pool: train })) expect(pool.has(i)).toBe(true);
  });

  it('fails on a class smaller than k unless allowFewer (BAD CALL)', () => {
    expect(() => kShotPerClass(labels, 25, 1)).toThrow(/class 2 has 20 examples, fewer than k = 25/);
    expect(classCounts(labels, kShotPerClass(labels, 25, 1, { allowFewer: true }), 3)).toEqual([25, 25, 20]);
    expect(() => kShotPerClass(labels, 0, 1)).toThrow(ConfigError);
  });
});

describe('rebalance', () => {
  const labels = labelsWith([12, 5, 3]);

  it('caps every class at the smallest by default', () => {
    const s = rebalance(labels, { mode: 'cap', seed: 2 });
    expect(classCounts(labels, s, 3)).toEqual([3, 3, 3]);
    expect(new Set(s).size).toBe(9);
  });

  it('oversamples to the largest, repeating members evenly', () => {
    const s = rebalance(labels, { mode: 'oversample', seed: 2 });
    expect(classCounts(labels, s, 3)).toEqual([12, 12, 12]);
    const reps = new Map<number, number>();
    for (const i of s) reps.set(i, (reps.get(i) ?? 0) + 1);
    // Class 2 has 3 members for 12 slots: each exactly 4 times. Class 1: 5 members, 12 slots: 2 or 3 times.
    for (const [i, n] of reps) {
      if (labels[i] === 2) expect(n).toBe(4);
      if (labels[i] === 1) expect([2, 3]).toContain(n);
    }
  });

  it('honours an explicit target and is deterministic', () => {
    const a = rebalance(labels, { mode: 'oversample', seed: 4, perClass: 8 });
    expect(classCounts(labels, a, 3)).toEqual([8, 8, 8]);
    expect([...a]).toEqual([...rebalance(labels, { mode: 'oversample', seed: 4, perClass: 8 })]);
    expect(() => rebalance(labels, { mode: 'cap', seed: 4, perClass: 0 })).toThrow(ConfigError);
  });
});
