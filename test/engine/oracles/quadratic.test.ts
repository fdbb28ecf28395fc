import { expect, it } from 'vitest';

import { ConfigError } from '../../../engine/errors.ts';
import { QuadraticOracle } from '../../../engine/oracles/quadratic.ts';

// A = [[2, 1], [1, 3]], centers c_0 = (1, 0), c_1 = (0, -1).
const A = Float64Array.from([2, 1, 1, 3]);
const C = Float64Array.from([1, 0, 0, -1]);

it('evaluates ½(θ−c_i)ᵀA(θ−c_i) per row', async () => {
  const q = new QuadraticOracle(A, C);
  expect([q.batchSize, q.dim]).toEqual([2, 2]);
  const out = new Float32Array(3);
  await q.losses(Float32Array.from([2, 1]), Int32Array.from([1, 0, 1]), out);
  // row 1: diff (2, 2): ½(2·4 + 2·1·4 + 3·4) = 14; row 0: diff (1, 1): ½(2 + 2 + 3) = 3.5
  expect(Array.from(out)).toEqual([14, 3.5, 14]);
});

it('has the analytic gradient A(θ−c_i), matching central differences', async () => {
  const q = new QuadraticOracle(A, C);
  const theta = Float32Array.from([0.5, -0.25]);
  expect(Array.from(q.sampleGradient(theta, 0))).toEqual([2 * -0.5 + -0.25, -0.5 + 3 * -0.25]);
  const rows = Int32Array.from([0, 1]);
  const g = q.exactGradient(theta, rows);
  const h = 0.125; // central differences are exact on a quadratic, and this h is exact in float32
  const lp = new Float32Array(2);
  const lm = new Float32Array(2);
  for (let j = 0; j < 2; j++) {
    const tp = theta.slice();
    const tm = theta.slice();
    tp[j]! += h;
    tm[j]! -= h;
    await q.losses(tp, rows, lp);
    await q.losses(tm, rows, lm);
    expect((lp[0]! + lp[1]! - lm[0]! - lm[1]!) / 2 / (2 * h)).toBeCloseTo(g[j]!, 6);
  }
});

it('rejects a non-square or asymmetric A and mis-sized centers', () => {
  expect(() => new QuadraticOracle(new Float64Array(3), C)).toThrow(ConfigError);
  expect(() => new QuadraticOracle(Float64Array.from([1, 2, 0, 1]), C)).toThrow(/not symmetric/);
  expect(() => new QuadraticOracle(A, new Float64Array(3))).toThrow(/whole number of 2-vectors/);
});
