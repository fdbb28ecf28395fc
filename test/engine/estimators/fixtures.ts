// Shared helpers for the estimator tests: small problems with known gradients and vector arithmetic in float64.
import type { LossOracle } from '../../../engine/oracle.ts';
import { QuadraticOracle } from '../../../engine/oracles/quadratic.ts';
import { SoftmaxOracle } from '../../../engine/oracles/softmax.ts';
import { Rng } from '../../../engine/rng.ts';

export function gaussianVector(rng: Rng, n: number, scale = 1): Float32Array {
  const v = new Float32Array(n);
  rng.fillGaussian(v);
  for (let i = 0; i < n; i++) v[i]! *= scale;
  return v;
}

/** A random symmetric positive definite d×d matrix MᵀM/d + I/2 (eigenvalues roughly in [0.5, 4.5]). */
export function randomSpd(rng: Rng, d: number): Float64Array {
  const m = gaussianVector(rng, d * d);
  const a = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += m[k * d + i]! * m[k * d + j]!;
      s /= d;
      if (i === j) s += 0.5;
      a[i * d + j] = s;
      a[j * d + i] = s;
    }
  }
  return a;
}

export function identity(d: number): Float64Array {
  const a = new Float64Array(d * d);
  for (let i = 0; i < d; i++) a[i * d + i] = 1;
  return a;
}

export function quadratic(a: Float64Array, centers: number[][]): QuadraticOracle {
  return new QuadraticOracle(a, Float64Array.from(centers.flat()));
}

export function softmaxProblem(b: number, p: number, m: number, seed: number) {
  const rng = new Rng(seed);
  const x = gaussianVector(rng, b * p);
  const y = Int32Array.from({ length: b }, () => rng.nextU32() % m);
  const oracle = new SoftmaxOracle(x, y, m);
  const theta = gaussianVector(rng, oracle.paramSize, 0.3);
  return { oracle, theta, x, y };
}

export function allRows(b: number): Int32Array {
  return Int32Array.from({ length: b }, (_, i) => i);
}

export const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};
export const norm = (a: ArrayLike<number>): number => Math.sqrt(dot(a, a));
export const cosine = (a: ArrayLike<number>, b: ArrayLike<number>): number => dot(a, b) / (norm(a) * norm(b));
export function distance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(s);
}

/** Running mean and mean squared distance to a known centre, over many estimates. */
export class Moments {
  readonly sum: Float64Array;
  sqDist = 0;
  count = 0;
  constructor(readonly centre: ArrayLike<number>) {
    this.sum = new Float64Array(centre.length);
  }
  add(x: ArrayLike<number>): void {
    for (let i = 0; i < x.length; i++) {
      this.sum[i] = this.sum[i]! + x[i]!;
      this.sqDist += (x[i]! - this.centre[i]!) ** 2;
    }
    this.count++;
  }
  mean(): Float64Array {
    return this.sum.map((s) => s / this.count);
  }
  /** tr Cov around the known centre (unbiased when the centre is the true mean). */
  traceCov(): number {
    return this.sqDist / this.count;
  }
}

/** Wraps an oracle and records every call's rows. */
export class SpyOracle implements LossOracle {
  readonly calls: number[][] = [];
  constructor(readonly inner: LossOracle) {}
  get batchSize(): number {
    return this.inner.batchSize;
  }
  async losses(theta: Float32Array, rows: Int32Array, out: Float32Array): Promise<void> {
    this.calls.push(Array.from(rows));
    await this.inner.losses(theta, rows, out);
  }
}

/** An oracle whose loss for one batch row is NaN. */
export class PoisonedOracle implements LossOracle {
  constructor(
    readonly inner: LossOracle,
    readonly badRow: number,
  ) {}
  get batchSize(): number {
    return this.inner.batchSize;
  }
  async losses(theta: Float32Array, rows: Int32Array, out: Float32Array): Promise<void> {
    await this.inner.losses(theta, rows, out);
    rows.forEach((row, r) => {
      if (row === this.badRow) out[r] = Number.NaN;
    });
  }
}
