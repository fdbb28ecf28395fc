// Reference oracle with a closed-form gradient: per-sample loss ½(θ−c_i)ᵀA(θ−c_i). Used to test estimators for
// unbiasedness and variance (its central differences are exact, so SPSA has no ε bias here) and to run the
// training loop on tiny problems without ONNX.
import { ConfigError } from '../errors.ts';
import type { LossOracle } from '../oracle.ts';

export class QuadraticOracle implements LossOracle {
  readonly batchSize: number;
  readonly dim: number;
  readonly #a: Float64Array;
  readonly #centers: Float64Array;
  readonly #diff: Float64Array;

  /** `a`: symmetric d×d matrix (row-major); `centers`: B×d, one c_i per batch row. */
  constructor(a: Float64Array, centers: Float64Array) {
    const d = Math.round(Math.sqrt(a.length));
    if (d < 1 || d * d !== a.length)
      throw new ConfigError('quadratic.A', `${a.length} values is not a square matrix`);
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < i; j++) {
        if (a[i * d + j] !== a[j * d + i])
          throw new ConfigError('quadratic.A', `not symmetric at (${i}, ${j})`);
      }
    }
    if (centers.length === 0 || centers.length % d !== 0) {
      throw new ConfigError(
        'quadratic.centers',
        `${centers.length} values is not a whole number of ${d}-vectors`,
      );
    }
    this.dim = d;
    this.batchSize = centers.length / d;
    this.#a = a;
    this.#centers = centers;
    this.#diff = new Float64Array(d);
  }

  #loadDiff(theta: Float32Array, row: number): Float64Array {
    const d = this.dim;
    const c = this.#centers;
    const diff = this.#diff;
    for (let j = 0; j < d; j++) diff[j] = theta[j]! - c[row * d + j]!;
    return diff;
  }

  async losses(theta: Float32Array, rows: Int32Array, out: Float32Array): Promise<void> {
    const d = this.dim;
    const a = this.#a;
    for (let r = 0; r < rows.length; r++) {
      const diff = this.#loadDiff(theta, rows[r]!);
      let q = 0;
      for (let i = 0; i < d; i++) {
        let ai = 0;
        for (let j = 0; j < d; j++) ai += a[i * d + j]! * diff[j]!;
        q += diff[i]! * ai;
      }
      out[r] = 0.5 * q;
    }
  }

  /** ∇ℓ_row(θ) = A(θ − c_row). */
  sampleGradient(theta: Float32Array, row: number): Float64Array {
    const d = this.dim;
    const a = this.#a;
    const diff = this.#loadDiff(theta, row);
    const g = new Float64Array(d);
    for (let i = 0; i < d; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += a[i * d + j]! * diff[j]!;
      g[i] = s;
    }
    return g;
  }

  /** Gradient of the mean loss over `rows`. */
  exactGradient(theta: Float32Array, rows: Int32Array): Float64Array {
    const g = new Float64Array(this.dim);
    for (const row of rows) {
      const gi = this.sampleGradient(theta, row);
      for (let j = 0; j < g.length; j++) g[j] = g[j]! + gi[j]! / rows.length;
    }
    return g;
  }
}
