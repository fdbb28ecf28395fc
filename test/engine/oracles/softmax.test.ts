import { expect, it } from 'vitest';

import { ConfigError } from '../../../engine/errors.ts';
import { crossEntropy, crossEntropyGrad } from '../../../engine/oracles/cross-entropy.ts';
import { SoftmaxOracle } from '../../../engine/oracles/softmax.ts';
import { Rng } from '../../../engine/rng.ts';

function problem(b: number, p: number, m: number, seed: number) {
  const rng = new Rng(seed);
  const x = new Float32Array(b * p);
  rng.fillGaussian(x);
  const y = Int32Array.from({ length: b }, () => rng.nextU32() % m);
  const theta = new Float32Array(m * (p + 1));
  rng.fillGaussian(theta);
  for (let i = 0; i < theta.length; i++) theta[i]! *= 0.5;
  return { oracle: new SoftmaxOracle(x, y, m), x, y, theta };
}

it('computes a stable cross-entropy and its logit gradient', () => {
  expect(crossEntropy([0, 0, 0, 0], 0, 4, 2)).toBeCloseTo(Math.log(4), 14);
  expect(crossEntropy([9, 1000, 1002], 1, 2, 1)).toBeCloseTo(Math.log(1 + Math.exp(-2)), 12);
  const g = new Float64Array(3);
  crossEntropyGrad([1, 2, 3], 0, 3, 0, g);
  const z = Math.exp(1) + Math.exp(2) + Math.exp(3);
  expect(g[0]).toBeCloseTo(Math.exp(1) / z - 1, 14);
  expect(g[2]).toBeCloseTo(Math.exp(3) / z, 14);
});

it('evaluates per-row CE of W a + b and serves features and labels', async () => {
  const x = Float32Array.from([1, 2, -1, 0]);
  const y = Int32Array.from([1, 0]);
  const o = new SoftmaxOracle(x, y, 2);
  expect([o.batchSize, o.featureDim, o.paramSize]).toEqual([2, 2, 6]);
  // W = [[1, 0], [0, 1]], b = [0, 1]: logits row 0 = (1, 3), row 1 = (-1, 1)
  const theta = Float32Array.from([1, 0, 0, 1, 0, 1]);
  const out = new Float32Array(2);
  await o.losses(theta, Int32Array.from([0, 1]), out);
  expect(out[0]).toBeCloseTo(Math.log(1 + Math.exp(-2)), 6);
  expect(out[1]).toBeCloseTo(Math.log(1 + Math.exp(2)), 6);
  expect(Array.from(await o.features(Int32Array.from([1, 0])))).toEqual([-1, 0, 1, 2]);
  expect(Array.from(o.labels(Int32Array.from([1, 1, 0])))).toEqual([0, 0, 1]);
});

it('has an analytic gradient that matches central differences', async () => {
  const { oracle, theta } = problem(6, 4, 3, 1);
  const rows = Int32Array.from([0, 1, 2, 3, 4, 5]);
  const g = oracle.exactGradient(theta, rows);
  const lp = new Float32Array(6);
  const lm = new Float32Array(6);
  const h = 1e-2;
  for (let j = 0; j < theta.length; j++) {
    const tp = theta.slice();
    const tm = theta.slice();
    tp[j]! += h;
    tm[j]! -= h;
    await oracle.losses(tp, rows, lp);
    await oracle.losses(tm, rows, lm);
    let fd = 0;
    for (let r = 0; r < 6; r++) fd += (lp[r]! - lm[r]!) / (2 * h) / 6;
    expect(Math.abs(fd - g[j]!)).toBeLessThan(2e-4);
  }
});

it('rejects bad labels, shapes and parameter vectors', async () => {
  expect(() => new SoftmaxOracle(new Float32Array(4), Int32Array.from([0, 2]), 2)).toThrow(/label 2/);
  expect(() => new SoftmaxOracle(new Float32Array(5), Int32Array.from([0, 1]), 2)).toThrow(ConfigError);
  expect(() => new SoftmaxOracle(new Float32Array(4), Int32Array.from([0, 1]), 1)).toThrow(/>= 2/);
  const { oracle } = problem(2, 3, 2, 2);
  await expect(oracle.losses(new Float32Array(7), Int32Array.from([0]), new Float32Array(1))).rejects.toThrow(
    /needs 8/,
  );
});
