import { expect, it } from 'vitest';

import {
  cholesky,
  cholInverse,
  cholLogDet,
  cholSolve,
  lowerMatVec,
} from '../../../engine/allocators/linalg.ts';
import { Rng } from '../../../engine/rng.ts';
import { gaussian } from './helpers.ts';

/** A random SPD matrix M Mᵀ + 0.1 I. */
function randomSpd(rng: Rng, n: number): Float64Array {
  const m = Float64Array.from({ length: n * n }, () => gaussian(rng));
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = i === j ? 0.1 : 0;
      for (let k = 0; k < n; k++) s += m[i * n + k]! * m[j * n + k]!;
      a[i * n + j] = s;
    }
  }
  return a;
}

it('factors, solves, inverts and takes the log-determinant of random SPD matrices', () => {
  const rng = new Rng(3);
  for (const n of [1, 2, 5, 16, 40]) {
    const a = randomSpd(rng, n);
    const l = cholesky(a, n)!;
    expect(l).not.toBeNull();
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += l[i * n + k]! * l[j * n + k]!;
        expect(s).toBeCloseTo(a[i * n + j]!, 8);
        if (j > i) expect(l[i * n + j]).toBe(0);
      }
    }
    const x = Float64Array.from({ length: n }, () => gaussian(rng));
    const b = new Float64Array(n);
    for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) b[i] = b[i]! + a[i * n + k]! * x[k]!;
    const solved = cholSolve(l, n, b);
    for (let i = 0; i < n; i++) expect(solved[i]).toBeCloseTo(x[i]!, 6);
    const inv = cholInverse(l, n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += inv[i * n + k]! * a[k * n + j]!;
        expect(s).toBeCloseTo(i === j ? 1 : 0, 6);
      }
    }
    const lx = lowerMatVec(l, n, x);
    let ref = 0;
    for (let k = 0; k <= n - 1; k++) ref += l[(n - 1) * n + k]! * x[k]!;
    expect(lx[n - 1]).toBeCloseTo(ref, 12);
  }
  // 2×2 closed form: det [[4, 2], [2, 3]] = 8
  expect(cholLogDet(cholesky(Float64Array.of(4, 2, 2, 3), 2)!, 2)).toBeCloseTo(Math.log(8), 14);
});

it('returns null for matrices that are not positive definite', () => {
  expect(cholesky(Float64Array.of(1, 2, 2, 1), 2)).toBeNull(); // eigenvalues 3, −1
  expect(cholesky(Float64Array.of(1, 1, 1, 1), 2)).toBeNull(); // singular
  expect(cholesky(Float64Array.of(Number.NaN), 1)).toBeNull();
});
