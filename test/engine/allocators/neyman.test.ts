// T4 (§8): Neyman allocation n ∝ √v with known (oracle) and running-estimate variances.
import { describe, expect, it } from 'vitest';

import {
  allocationVariance,
  NeymanAllocator,
  neymanOptimum,
  uniformCounts,
} from '../../../engine/allocators/index.ts';
import { ConfigError, DivergenceError } from '../../../engine/errors.ts';
import { deriveSeed, Rng } from '../../../engine/rng.ts';
import { gaussian, request } from './helpers.ts';

const B = 32;
const N = 100 * B;
// log-normal v with CV(v) = 1: v = exp(σz) has CV² = e^{σ²} − 1, so σ² = ln 2.
const SIGMA = Math.sqrt(Math.LN2);

function logNormalV(rng: Rng, b: number, sigma: number): Float64Array {
  return Float64Array.from({ length: b }, () => Math.exp(sigma * gaussian(rng)));
}

function oracleAllocator(v: Float64Array): NeymanAllocator {
  return new NeymanAllocator(
    { kind: 'neyman', decay: 0.9, floor: 0 },
    { oracle: (ids) => Array.from(ids, (i) => v[i]!) },
  );
}

describe('T4: Neyman with known v', () => {
  it('beats uniform and lands within 5% of (Σ√v)²/(B²N) for log-normal v with CV ≈ 1 (200 batches)', () => {
    const rng = new Rng(4);
    for (let t = 0; t < 200; t++) {
      const v = logNormalV(rng, B, SIGMA);
      // nMax = 4·n̄, the default cap (§6 Q4).
      const req = request(new Float64Array(B).fill(1), { budget: N, nMax: 400, seed: t });
      const n = oracleAllocator(v).allocate(req);
      const vNeyman = allocationVariance(n, v);
      const vUniform = allocationVariance(uniformCounts(B, req), v);
      const vStar = neymanOptimum(v, N).variance;
      expect(vNeyman).toBeLessThan(vUniform);
      expect(Math.abs(vNeyman / vStar - 1)).toBeLessThan(0.05);
    }
  });

  it('the same holds for CV(√v) ≈ 1, where the 4·n̄ cap binds less often than it matters', () => {
    const rng = new Rng(5);
    for (let t = 0; t < 200; t++) {
      const v = logNormalV(rng, B, 2 * SIGMA); // √v = exp(σz): CV(√v) = 1
      const req = request(new Float64Array(B).fill(1), { budget: N, nMax: N, seed: t });
      const n = oracleAllocator(v).allocate(req);
      const vStar = neymanOptimum(v, N).variance;
      expect(allocationVariance(n, v)).toBeLessThan(allocationVariance(uniformCounts(B, req), v));
      expect(Math.abs(allocationVariance(n, v) / vStar - 1)).toBeLessThan(0.05);
    }
  });

  it('empirically: the per-sample-averaged estimator over simulated queries has the predicted variance', () => {
    // Each query of sample i is N(0, v_i); the estimate is (1/B) Σ_i mean_j g_ij. 8000 replicates of N = 3200
    // queries each: the sample variance has a relative standard error of √(2/8000) ≈ 1.6%.
    const rng = new Rng(6);
    const v = logNormalV(rng, B, SIGMA);
    const req = request(new Float64Array(B).fill(1), { budget: N, nMax: 400 });
    const allocations = { neyman: oracleAllocator(v).allocate(req), uniform: uniformCounts(B, req) };
    const reps = 8000;
    const noise = new Float32Array(N);
    const empirical: Record<string, number> = {};
    for (const [name, n] of Object.entries(allocations)) {
      let ss = 0;
      for (let r = 0; r < reps; r++) {
        rng.fillGaussian(noise);
        let est = 0;
        let q = 0;
        for (let i = 0; i < B; i++) {
          let s = 0;
          for (let j = 0; j < n[i]!; j++) s += noise[q++]!;
          est += (Math.sqrt(v[i]!) * s) / n[i]!;
        }
        est /= B;
        ss += est * est; // the true mean is 0
      }
      empirical[name] = ss / reps;
    }
    const vStar = neymanOptimum(v, N).variance;
    expect(empirical.neyman!).toBeLessThan(empirical.uniform!);
    expect(Math.abs(empirical.neyman! / vStar - 1)).toBeLessThan(0.05);
    expect(Math.abs(empirical.uniform! / allocationVariance(allocations.uniform, v) - 1)).toBeLessThan(0.05);
  });
});

describe('neymanOptimum', () => {
  it('is n* = N√v/Σ√v and V* = (Σ√v)²/(B²N), and with bounds is the water-filled optimum', () => {
    const { counts, variance } = neymanOptimum([1, 4, 9, 16], 100);
    expect(Array.from(counts)).toEqual([10, 20, 30, 40]);
    expect(variance).toBeCloseTo((1 + 2 + 3 + 4) ** 2 / (16 * 100), 15);
    expect(variance).toBeCloseTo(allocationVariance(counts, [1, 4, 9, 16]), 15);
    const capped = neymanOptimum([1, 4, 9, 16], 100, { nMin: 15, nMax: 35 });
    expect(Array.from(capped.counts)).toEqual([15, 20, 30, 35]);
  });
});

describe('running variance estimates', () => {
  const ids = Int32Array.of(7, 8, 9);
  const req = (sampleIds: Int32Array) => ({
    ...request(Float64Array.of(1, 1, 1), { budget: 30 }),
    sampleIds,
  });

  it('keeps an EMA of v̂ per sample id and falls back to the batch mean for unseen samples', () => {
    const a = new NeymanAllocator({ kind: 'neyman', decay: 0.5, floor: 0 });
    // Nothing seen yet: uniform.
    expect(Array.from(a.allocate(req(ids)))).toEqual([10, 10, 10]);
    a.update({
      counts: Int32Array.of(10, 10, 10),
      varianceEstimates: Float64Array.of(1, 4, 16),
      sampleIds: ids,
    });
    a.update({
      counts: Int32Array.of(10, 10, 10),
      varianceEstimates: Float64Array.of(1, 4, 0),
      sampleIds: ids,
    });
    // EMA with decay 0.5: v = (1, 4, 8); unseen id 3 gets the mean of the seen ones in its batch, (1 + 8)/2.
    expect(Array.from(a.variancesFor(Int32Array.of(7, 8, 9)))).toEqual([1, 4, 8]);
    expect(Array.from(a.variancesFor(Int32Array.of(7, 9, 3)))).toEqual([1, 8, 4.5]);
    // n ∝ √v = 1 : 2 : 2√2 of 30, Hamilton-rounded.
    expect(Array.from(a.allocate(req(ids)))).toEqual([5, 10, 15]);
    expect(a.snapshot()).toMatchObject({ tracked: 3, seenInBatch: 3 });
  });

  it('approaches the oracle allocation as noisy estimates accumulate over epochs', () => {
    const rng = new Rng(deriveSeed(7, 1));
    const b = 64;
    const budget = 10 * b;
    const v = logNormalV(rng, b, 2 * SIGMA);
    const sampleIds = Int32Array.from({ length: b }, (_, i) => i);
    const base = { ...request(new Float64Array(b).fill(1), { budget, nMax: 40 }), sampleIds };
    const a = new NeymanAllocator({ kind: 'neyman', decay: 0.9, floor: 0.01 });
    const oracleV = allocationVariance(oracleAllocator(v).allocate(base), v);
    const uniformV = allocationVariance(uniformCounts(b, base), v);
    for (let epoch = 0; epoch < 10; epoch++) {
      const n = a.allocate({ ...base, epoch });
      // v̂_i: unbiased sample variance of n_i draws, χ²-distributed around v_i.
      const vhat = Float64Array.from(v, (vi, i) => {
        let s = 0;
        for (let j = 0; j < n[i]!; j++) s += gaussian(rng) ** 2;
        return (vi * s) / n[i]!;
      });
      a.update({ counts: n, varianceEstimates: vhat, sampleIds });
    }
    const learnedV = allocationVariance(a.allocate(base), v);
    expect(learnedV).toBeLessThan(uniformV);
    expect(learnedV / oracleV).toBeLessThan(1.1);
  });

  it('round-trips its state through JSON and refuses bad states and non-finite estimates', () => {
    const a = new NeymanAllocator({ kind: 'neyman', decay: 0.9, floor: 0 });
    a.update({ counts: Int32Array.of(2, 2, 2), varianceEstimates: Float64Array.of(1, 2, 3), sampleIds: ids });
    const b = new NeymanAllocator({ kind: 'neyman', decay: 0.9, floor: 0 });
    b.setState(JSON.parse(JSON.stringify(a.getState())));
    expect(Array.from(b.variancesFor(ids))).toEqual([1, 2, 3]);
    expect(() => b.setState({ kind: 'flops', version: 1 })).toThrow(
      /state of allocator "flops", not "neyman"/,
    );
    expect(() => b.setState({ kind: 'neyman', version: 1, ids: [1, 2], v: [1] })).toThrow(ConfigError);
    const bad = () =>
      a.update({
        counts: Int32Array.of(2, 2, 2),
        varianceEstimates: Float64Array.of(1, NaN, 3),
        sampleIds: ids,
      });
    expect(bad).toThrow(DivergenceError);
    expect(bad).toThrow(/variance estimate of batch row 1 \(sample 8\) is NaN/);
    expect(() => new NeymanAllocator({ kind: 'neyman', decay: 1, floor: 0 })).toThrow(/allocator\.decay/);
  });
});
