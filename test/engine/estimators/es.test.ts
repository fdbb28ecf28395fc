import { describe, expect, it } from 'vitest';

import { ConfigError, DivergenceError } from '../../../engine/errors.ts';
import { estimateEs } from '../../../engine/estimators/es.ts';
import { deriveSeed, Rng } from '../../../engine/rng.ts';
import {
  allRows,
  distance,
  gaussianVector,
  identity,
  Moments,
  norm,
  PoisonedOracle,
  quadratic,
  randomSpd,
  SpyOracle,
} from './fixtures.ts';

describe('ES (parameter noise per sample, §2.2)', () => {
  it('is unbiased for the batch-mean gradient under a non-uniform allocation', async () => {
    const d = 6;
    const rng = new Rng(1);
    const centers = [0.2, 1, 4].map((s) => Array.from(gaussianVector(rng, d, s)));
    const oracle = quadratic(randomSpd(rng, d), centers);
    const theta = new Float32Array(d);
    const counts = Int32Array.from([4, 2, 1]);
    const truth = oracle.exactGradient(theta, allRows(3));
    const moments = new Moments(truth);
    for (let r = 0; r < 10_000; r++) {
      moments.add((await estimateEs(oracle, theta, counts, deriveSeed(2, r), { sigma: 1e-2 })).grad);
    }
    expect(distance(moments.mean(), truth) / norm(truth)).toBeLessThan(0.05);
  });

  it('has independent queries across samples: V(n) = (1/B²) Σ (d+1)‖g_i‖²/n_i even for parallel g_i', async () => {
    const d = 8;
    const scales = [1, 2, 3];
    const centers = scales.map((s) => Array.from({ length: d }, () => -s / Math.sqrt(d)));
    const oracle = quadratic(identity(d), centers);
    const theta = new Float32Array(d);
    const counts = Int32Array.from([1, 2, 4]);
    const predicted = scales.reduce((acc, s, i) => acc + ((d + 1) * s * s) / counts[i]!, 0) / 9;
    const moments = new Moments(oracle.exactGradient(theta, allRows(3)));
    const vHat = new Float64Array(3);
    for (let r = 0; r < 10_000; r++) {
      const est = await estimateEs(oracle, theta, counts, deriveSeed(3, r), { sigma: 1e-2 });
      moments.add(est.grad);
      est.varianceEstimates.forEach((v, i) => (vHat[i] = vHat[i]! + v / 10_000));
    }
    expect(Math.abs(moments.traceCov() / predicted - 1)).toBeLessThan(0.1);
    scales.forEach((s, i) => expect(Math.abs(vHat[i]! / (d * s * s) - 1)).toBeLessThan(0.1));
  });

  it('spends 2 rows per antithetic direction, each at its own per-sample θ', async () => {
    const oracle = quadratic(identity(3), [
      [1, 0, 0],
      [0, 1, 0],
    ]);
    const spy = new SpyOracle(oracle);
    const theta = Float32Array.from([0.1, 0.2, 0.3]);
    const est = await estimateEs(spy, theta, Int32Array.from([1, 3]), 4, { sigma: 0.1 });
    expect(est.rows).toBe(8);
    expect(spy.calls).toEqual([[0], [0], [1], [1], [1], [1], [1], [1]]);
    expect(est.scalars.length).toBe(4);
    const again = await estimateEs(oracle, theta, Int32Array.from([1, 3]), 4, { sigma: 0.1 });
    expect(again.grad).toEqual(est.grad);
  });

  it('runs one-sided with a baseline', async () => {
    const d = 4;
    const oracle = quadratic(identity(d), [[1, -1, 0.5, 0]]);
    const theta = new Float32Array(d);
    const clean = new Float32Array(1);
    await oracle.losses(theta, allRows(1), clean);
    const est = await estimateEs(oracle, theta, Int32Array.of(100_000), 5, {
      sigma: 1e-2,
      antithetic: false,
      baseline: Float64Array.of(clean[0]!),
    });
    const truth = oracle.exactGradient(theta, allRows(1));
    expect(distance(est.grad, truth) / norm(truth)).toBeLessThan(0.05);
    expect(est.rows).toBe(100_000);
  });

  it('reports bad options as ConfigError and non-finite losses as DivergenceError', async () => {
    const oracle = quadratic(identity(2), [
      [0, 0],
      [1, 1],
    ]);
    const theta = new Float32Array(2);
    const counts = Int32Array.from([1, 2]);
    await expect(estimateEs(oracle, theta, counts, 1, { sigma: 0 })).rejects.toThrow(/esSigma: must be/);
    await expect(estimateEs(oracle, theta, Int32Array.from([0, 2]), 1, { sigma: 0.1 })).rejects.toThrow(
      /sample 0 has 0 queries, below nMin = 1/,
    );
    await expect(estimateEs(oracle, theta, counts, 1, { sigma: 0.1, nMin: 2 })).rejects.toThrow(
      /below nMin = 2/,
    );
    await expect(estimateEs(oracle, theta, counts, 1, { sigma: 0.1, antithetic: false })).rejects.toThrow(
      ConfigError,
    );
    await expect(
      estimateEs(oracle, theta, counts, 1, {
        sigma: 0.1,
        baseline: Float64Array.from([0, Number.NaN]),
        step: 2,
      }),
    ).rejects.toThrow(DivergenceError);
    const err = await estimateEs(new PoisonedOracle(oracle, 0), theta, counts, 1, {
      sigma: 0.1,
      step: 9,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DivergenceError);
    expect((err as Error).message).toMatch(/step 9: .*batch row 0 at θ\+σE_0/);
  });
});
