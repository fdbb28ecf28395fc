import { describe, expect, it } from 'vitest';

import { ConfigError, DivergenceError } from '../../../engine/errors.ts';
import { estimateHeadLr, headCleanLosses } from '../../../engine/estimators/lr-head.ts';
import { drawOutputNoise, linearLr, queryLayout } from '../../../engine/estimators/lr-linear.ts';
import type { FeatureOracle } from '../../../engine/oracle.ts';
import { crossEntropy, crossEntropyGrad } from '../../../engine/oracles/cross-entropy.ts';
import { deriveSeed, Rng } from '../../../engine/rng.ts';
import { allRows, cosine, distance, gaussianVector, Moments, norm, softmaxProblem } from './fixtures.ts';

describe('LR at the head', () => {
  it('T1: is unbiased — softmax regression, 20 features, 5 classes, 2·10^5 antithetic queries', async () => {
    const b = 16;
    const { oracle, theta } = softmaxProblem(b, 20, 5, 1);
    const truth = oracle.exactGradient(theta, allRows(b));
    const counts = new Int32Array(b).fill(12_500);
    const est = await estimateHeadLr(oracle, theta, counts, 42, { sigma: 1e-3 });
    expect(est.rows).toBe(200_000);
    expect(cosine(est.grad, truth)).toBeGreaterThan(0.99);
    expect(Math.abs(norm(est.grad) / norm(truth) - 1)).toBeLessThan(0.05);
    expect(est.scalars.length).toBe(0);
  });

  it('is unbiased for the batch-mean gradient under a non-uniform allocation', async () => {
    const b = 4;
    const { oracle, theta } = softmaxProblem(b, 6, 3, 2);
    const counts = Int32Array.from([2, 2, 6, 30]);
    const truth = oracle.exactGradient(theta, allRows(b));
    // What row replication would estimate instead: Σ_i (n_i/N) g_i.
    const replicated = new Float64Array(truth.length);
    counts.forEach((n, i) => {
      const gi = oracle.sampleGradient(theta, i);
      for (let j = 0; j < gi.length; j++) replicated[j] = replicated[j]! + (n / 40) * gi[j]!;
    });
    expect(distance(replicated, truth) / norm(truth)).toBeGreaterThan(0.2);
    const moments = new Moments(truth);
    for (let r = 0; r < 20_000; r++) {
      moments.add((await estimateHeadLr(oracle, theta, counts, deriveSeed(3, r), { sigma: 1e-2 })).grad);
    }
    const mean = moments.mean();
    expect(distance(mean, truth) / norm(truth)).toBeLessThan(0.04);
    expect(cosine(mean, truth)).toBeGreaterThan(0.999);
  });

  it('is unbiased one-sided too (baseline = clean loss), and v̂_i matches §3.4(a)', async () => {
    const b = 3;
    const { oracle, theta, x } = softmaxProblem(b, 4, 3, 4);
    const truth = oracle.exactGradient(theta, allRows(b));
    const counts = Int32Array.from([20_000, 40_000, 60_000]);
    const one = await estimateHeadLr(oracle, theta, counts, 5, { sigma: 1e-2, antithetic: false });
    expect(cosine(one.grad, truth)).toBeGreaterThan(0.99);
    expect(one.rows).toBe(120_000);

    // Antithetic: v̂_i = m‖a_i‖² mean δ², with E[δ²] → ‖∇_h ℓ_i‖² as σ → 0.
    const anti = await estimateHeadLr(oracle, theta, counts, 6, { sigma: 1e-3 });
    const logits = new Float64Array(3);
    const gh = new Float64Array(3);
    for (let i = 0; i < b; i++) {
      for (let k = 0; k < 3; k++) {
        let s = theta[12 + k]!;
        for (let j = 0; j < 4; j++) s += theta[k * 4 + j]! * x[i * 4 + j]!;
        logits[k] = s;
      }
      crossEntropyGrad(logits, 0, 3, oracle.labels(Int32Array.of(i))[0]!, gh);
      const aSq = norm(x.subarray(i * 4, i * 4 + 4)) ** 2;
      const expected = 3 * aSq * norm(gh) ** 2;
      expect(Math.abs(anti.varianceEstimates[i]! / expected - 1)).toBeLessThan(0.05);
    }
  });

  it('defaults the baseline to the clean per-sample losses and reports them', async () => {
    const { oracle, theta } = softmaxProblem(5, 3, 4, 7);
    const clean = new Float32Array(5);
    await oracle.losses(theta, allRows(5), clean);
    const counts = new Int32Array(5).fill(4);
    const est = await estimateHeadLr(oracle, theta, counts, 8, { sigma: 1e-2, antithetic: false });
    est.cleanLosses.forEach((l, i) => expect(l).toBeCloseTo(clean[i]!, 5));
    const viaHelper = await headCleanLosses(oracle, theta);
    expect(viaHelper).toEqual(est.cleanLosses);
    const explicit = await estimateHeadLr(oracle, theta, counts, 8, {
      sigma: 1e-2,
      antithetic: false,
      baseline: est.cleanLosses,
    });
    expect(explicit.grad).toEqual(est.grad);
    const again = await estimateHeadLr(oracle, theta, counts, 8, { sigma: 1e-2, antithetic: false });
    expect(again.grad).toEqual(est.grad);
  });

  it('estimates ∂E[ℓ]/∂log σ_k = E[(ℓ − b)(ε_k² − 1)], checked against smoothed-loss finite differences', async () => {
    const { oracle, theta, x, y } = softmaxProblem(1, 3, 3, 9);
    const sigma = 0.8;
    const est = await estimateHeadLr(oracle, theta, Int32Array.of(400_000), 10, { sigma });
    // Smoothed loss L(σ) = E[ℓ(h + σε)] by Monte Carlo with common random numbers, differentiated in log σ.
    const logits = new Float64Array(3);
    for (let k = 0; k < 3; k++) {
      let s = theta[9 + k]!;
      for (let j = 0; j < 3; j++) s += theta[k * 3 + j]! * x[j]!;
      logits[k] = s;
    }
    const eps = new Float32Array(3 * 200_000);
    new Rng(11).fillGaussian(eps);
    const smoothed = (s: number): number => {
      let total = 0;
      const h = new Float64Array(3);
      for (let q = 0; q < 200_000; q++) {
        for (let k = 0; k < 3; k++) h[k] = logits[k]! + s * eps[q * 3 + k]!;
        total += crossEntropy(h, 0, 3, y[0]!);
      }
      return total / 200_000;
    };
    const dlog = 0.05;
    const fd = (smoothed(sigma * Math.exp(dlog)) - smoothed(sigma * Math.exp(-dlog))) / (2 * dlog);
    let sum = 0;
    for (const g of est.gradLogSigma) sum += g;
    expect(Math.abs(sum - fd)).toBeLessThan(0.1 * Math.abs(fd));
  });

  it('reports bad options as ConfigError and non-finite losses as DivergenceError', async () => {
    const { oracle, theta } = softmaxProblem(2, 3, 2, 12);
    const two = Int32Array.from([2, 4]);
    await expect(estimateHeadLr(oracle, theta, two, 1, { sigma: 0 })).rejects.toThrow(/lrSigma: must be/);
    await expect(estimateHeadLr(oracle, theta, two, 1, { sigma: -1 })).rejects.toThrow(ConfigError);
    await expect(estimateHeadLr(oracle, theta, Int32Array.from([2, 3]), 1, { sigma: 1e-3 })).rejects.toThrow(
      /sample 1 has 3 queries; antithetic pairs need an even count/,
    );
    await expect(estimateHeadLr(oracle, theta, Int32Array.from([0, 2]), 1, { sigma: 1e-3 })).rejects.toThrow(
      /below nMin = 2/,
    );
    await expect(
      estimateHeadLr(oracle, theta, Int32Array.from([1, 2]), 1, { sigma: 1e-3, antithetic: false, nMin: 2 }),
    ).rejects.toThrow(/sample 0 has 1 queries, below nMin = 2/);
    await expect(estimateHeadLr(oracle, theta.subarray(1), two, 1, { sigma: 1e-3 })).rejects.toThrow(/theta/);
    await expect(
      estimateHeadLr(oracle, theta, two, 1, { sigma: 1e-3, baseline: new Float64Array(3) }),
    ).rejects.toThrow(/baseline: has 3 entries/);

    const nanFeatures: FeatureOracle = {
      batchSize: 2,
      featureDim: 3,
      features: async (rows) => (await oracle.features(rows)).map((v, i) => (i === 4 ? Number.NaN : v)),
      labels: (rows) => oracle.labels(rows),
    };
    const clean = await estimateHeadLr(nanFeatures, theta, two, 1, { sigma: 1e-3, step: 3 }).catch((e) => e);
    expect(clean).toBeInstanceOf(DivergenceError);
    expect((clean as Error).message).toMatch(/step 3: .*clean pass of batch row 1/);
    const noisy = await estimateHeadLr(nanFeatures, theta, two, 1, {
      sigma: 1e-3,
      baseline: Float64Array.from([1, 1]),
      step: 4,
    }).catch((e) => e);
    expect(noisy).toBeInstanceOf(DivergenceError);
    expect((noisy as Error).message).toMatch(/step 4: .*batch row 1, noisy query 0/);
  });
});

describe('the generic linear-layer LR core', () => {
  it('lays queries out per sample and pairs ε with −ε within a sample', () => {
    const counts = Int32Array.from([2, 4]);
    expect(Array.from(queryLayout(counts))).toEqual([0, 0, 1, 1, 1, 1]);
    const noise = drawOutputNoise(counts, 3, 9, true);
    expect(noise.length).toBe(18);
    for (let t = 0; t < 3; t++) {
      for (let k = 0; k < 3; k++) expect(noise[(2 * t + 1) * 3 + k]).toBe(-noise[2 * t * 3 + k]!);
    }
    expect(noise[0]).not.toBe(noise[6]);
  });

  it('gives the same gradient with per-query inputs as with per-sample inputs when they coincide', () => {
    const m = 4;
    const p = 5;
    const counts = Int32Array.from([2, 6, 4]);
    const rng = new Rng(13);
    const inputs = gaussianVector(rng, 3 * p);
    const noise = drawOutputNoise(counts, m, 14, true);
    const losses = gaussianVector(rng, 12);
    const baseline = Float64Array.from([0.1, -0.2, 0.3]);
    const sigma = Float32Array.from([0.1, 0.2, 0.3, 0.4]);
    const cfg = { outDim: m, inDim: p, counts, sigma, baseline, antithetic: true };
    const shared = linearLr(cfg, { noise, losses, inputs, inputsPerQuery: false });
    const layout = queryLayout(counts);
    const perQuery = new Float32Array(layout.length * p);
    layout.forEach((i, r) => perQuery.set(inputs.subarray(i * p, (i + 1) * p), r * p));
    const each = linearLr(cfg, { noise, losses, inputs: perQuery, inputsPerQuery: true });
    for (let j = 0; j < m * p; j++) expect(each.gradW[j]).toBeCloseTo(shared.gradW[j]!, 5);
    expect(each.gradC).toEqual(shared.gradC);
    each.varianceEstimates.forEach((v, i) => expect(v).toBeCloseTo(shared.varianceEstimates[i]!, 6));
    expect(shared.rows).toBe(12);
    expect(() => linearLr(cfg, { noise, losses: losses.subarray(1), inputs, inputsPerQuery: false })).toThrow(
      /losses: has 11 values, expected 12/,
    );
    expect(() =>
      linearLr(
        { ...cfg, sigma: Float32Array.from([1, 1, 1]) },
        { noise, losses, inputs, inputsPerQuery: false },
      ),
    ).toThrow(/lrSigma: has 3 entries/);
  });
});
