import { describe, expect, it } from 'vitest';

import { integerise, largestRemainder, uniformCounts, waterFill } from '../../../engine/allocators/index.ts';
import { ConfigError } from '../../../engine/errors.ts';
import { Rng } from '../../../engine/rng.ts';
import { randInt, sum } from './helpers.ts';

describe('waterFill', () => {
  it('gives clip(κw, lo, hi) with the exact total and one κ for every unclipped entry', () => {
    const rng = new Rng(11);
    for (let t = 0; t < 300; t++) {
      const n = randInt(rng, 1, 30);
      const lo = randInt(rng, 0, 3);
      const hi = lo + randInt(rng, 0, 20);
      const w = Float64Array.from({ length: n }, () => (rng.nextFloat() < 0.2 ? 0 : rng.nextFloat() ** 3));
      const total = n * lo + rng.nextFloat() * n * (hi - lo);
      const x = waterFill(w, total, lo, hi);
      expect(Math.abs(sum(x) - total)).toBeLessThan(1e-9 * Math.max(1, total));
      const kappas = new Set<number>();
      for (let i = 0; i < n; i++) {
        expect(x[i]!).toBeGreaterThanOrEqual(lo);
        expect(x[i]!).toBeLessThanOrEqual(hi);
        if (x[i]! > lo && x[i]! < hi && w[i]! > 0) kappas.add(Math.round((x[i]! / w[i]!) * 1e6));
      }
      // Entries strictly between the bounds share one κ (up to float rounding).
      if (kappas.size > 1) {
        const ks = [...kappas];
        expect(Math.max(...ks) / Math.min(...ks)).toBeLessThan(1 + 1e-6);
      }
    }
  });

  it('caps heavy weights at hi and spreads the rest proportionally', () => {
    // w = [10, 1, 1], total 12 in [0, 6]: uncapped κ = 1 would give 10 > 6, so x0 = 6 and the other two share 6.
    expect(Array.from(waterFill([10, 1, 1], 12, 0, 6))).toEqual([6, 3, 3]);
  });

  it('spreads over zero weights only once the positive ones are full, and all-zero weights give equal shares', () => {
    expect(Array.from(waterFill([1, 0, 0], 9, 1, 5))).toEqual([5, 2, 2]);
    expect(Array.from(waterFill([0, 0, 0, 0], 10, 1, 5))).toEqual([2.5, 2.5, 2.5, 2.5]);
  });
});

describe('largestRemainder', () => {
  it('floors, then gives leftovers to the largest fractions with ties to the lower index', () => {
    expect(Array.from(largestRemainder([1.5, 1.5, 2], 5, 1, 10))).toEqual([2, 1, 2]);
    expect(Array.from(largestRemainder([1.2, 1.7, 2.1], 5, 1, 10))).toEqual([1, 2, 2]);
    expect(Array.from(largestRemainder([10 / 3, 10 / 3, 10 / 3], 10, 1, 10))).toEqual([4, 3, 3]);
  });

  it('repairs a sum that float error pushed off by one without crossing the bounds', () => {
    expect(Array.from(largestRemainder([3 - 1e-12, 3 - 1e-12, 3], 9, 1, 3))).toEqual([3, 3, 3]);
    expect(Array.from(largestRemainder([1 + 1e-12, 2, 2], 5, 1, 3))).toEqual([1, 2, 2]);
  });
});

describe('integerise', () => {
  it('excess form: n = nMin + Hamilton share of N − B·nMin, with exact sum and bounds over random cases', () => {
    const rng = new Rng(12);
    for (let t = 0; t < 500; t++) {
      const b = randInt(rng, 1, 40);
      const g = randInt(rng, 1, 2) as 1 | 2;
      const nMin = g * randInt(rng, 1, 2);
      const nMax = nMin + g * randInt(rng, 0, 20);
      const budget = g * randInt(rng, (b * nMin) / g, (b * nMax) / g);
      const w = Float64Array.from({ length: b }, () => (rng.nextFloat() < 0.3 ? 0 : rng.nextFloat()));
      for (const form of ['excess', 'proportional'] as const) {
        const n = integerise(w, { budget, nMin, nMax, granularity: g }, form);
        expect(sum(n)).toBe(budget);
        for (const ni of n) {
          expect(ni).toBeGreaterThanOrEqual(nMin);
          expect(ni).toBeLessThanOrEqual(nMax);
          expect(ni % g).toBe(0);
        }
        expect(Array.from(integerise(w, { budget, nMin, nMax, granularity: g }, form))).toEqual(
          Array.from(n),
        );
      }
    }
  });

  it('follows the weights: 10 queries over weights 1:2:7 above a floor of 1 each', () => {
    // x = 1 + 7·(0.1, 0.2, 0.7) = (1.7, 2.4, 5.9); floors (1, 2, 5) sum to 8; the 2 leftovers go to the largest
    // fractions, .9 (row 2) and .7 (row 0).
    expect(Array.from(integerise([1, 2, 7], { budget: 10, nMin: 1, nMax: 10, granularity: 1 }))).toEqual([
      2, 2, 6,
    ]);
    // proportional: 1 : 2 : 7 of 10 exactly
    expect(
      Array.from(integerise([1, 2, 7], { budget: 10, nMin: 1, nMax: 10, granularity: 1 }, 'proportional')),
    ).toEqual([1, 2, 7]);
  });

  it('granularity 2 allocates pairs on N/2 and doubles', () => {
    const n = uniformCounts(3, { budget: 20, nMin: 2, nMax: 20, granularity: 2 });
    expect(Array.from(n)).toEqual([8, 6, 6]); // 10 pairs: 4, 3, 3
    expect(Array.from(uniformCounts(3, { budget: 10, nMin: 1, nMax: 10, granularity: 1 }))).toEqual([
      4, 3, 3,
    ]);
  });

  it('refuses infeasible budgets, odd counts under granularity 2 and a zero floor, naming the field', () => {
    const bad =
      (budget: number, nMin: number, nMax: number, granularity: 1 | 2 = 1): (() => unknown) =>
      () =>
        integerise([1, 1, 1, 1], { budget, nMin, nMax, granularity });
    expect(bad(7, 2, 10)).toThrow(ConfigError);
    expect(bad(7, 2, 10)).toThrow(/allocator\.budget: 7 is below batch 4 × nMin 2 = 8/);
    expect(bad(41, 1, 10)).toThrow(/allocator\.budget: 41 is above batch 4 × nMax 10 = 40/);
    expect(bad(21, 2, 10, 2)).toThrow(/allocator\.budget: 21 is odd, but granularity 2/);
    expect(bad(20, 1, 10, 2)).toThrow(/allocator\.nMin: 1 is odd/);
    expect(bad(20, 2, 9, 2)).toThrow(/allocator\.nMax: 9 is odd/);
    expect(bad(20, 0, 10)).toThrow(/allocator\.nMin: must be ≥ 1/);
    expect(bad(20, 5, 4)).toThrow(/allocator\.nMax: 4 is below nMin 5/);
    expect(bad(20.5, 1, 10)).toThrow(/allocator\.budget: must be an integer/);
  });
});
