// Reference softmax regression: θ = [W (classes×p, row-major), b (classes)], per-sample cross-entropy. It is both
// a LossOracle (for SPSA/ES over θ) and a FeatureOracle (its inputs are the "frozen features" LR at the head
// perturbs), so the two estimator families can be checked against the same analytic gradient.
import { ConfigError } from '../errors.ts';
import type { FeatureOracle, LossOracle } from '../oracle.ts';
import { crossEntropy, crossEntropyGrad } from './cross-entropy.ts';

export class SoftmaxOracle implements LossOracle, FeatureOracle {
  readonly batchSize: number;
  readonly featureDim: number;
  readonly classes: number;
  /** Length of θ: classes·featureDim weights, then classes biases. */
  readonly paramSize: number;
  readonly #x: Float32Array;
  readonly #y: Int32Array;
  readonly #logits: Float64Array;

  constructor(features: Float32Array, labels: Int32Array, classes: number) {
    const b = labels.length;
    if (!Number.isInteger(classes) || classes < 2) {
      throw new ConfigError('softmax.classes', `must be an integer >= 2, got ${classes}`);
    }
    if (b === 0 || features.length % b !== 0 || features.length === 0) {
      throw new ConfigError('softmax.features', `${features.length} values do not split into ${b} rows`);
    }
    for (const y of labels) {
      if (!(y >= 0 && y < classes))
        throw new ConfigError('softmax.labels', `label ${y} outside [0, ${classes})`);
    }
    this.batchSize = b;
    this.featureDim = features.length / b;
    this.classes = classes;
    this.paramSize = classes * (this.featureDim + 1);
    this.#x = features;
    this.#y = labels;
    this.#logits = new Float64Array(classes);
  }

  #check(theta: Float32Array): void {
    if (theta.length !== this.paramSize) {
      throw new ConfigError(
        'theta',
        `has ${theta.length} values, softmax regression needs ${this.paramSize}`,
      );
    }
  }

  #computeLogits(theta: Float32Array, row: number): Float64Array {
    const p = this.featureDim;
    const m = this.classes;
    const x = this.#x;
    const h = this.#logits;
    const biasAt = m * p;
    for (let k = 0; k < m; k++) {
      let s = theta[biasAt + k]!;
      for (let j = 0; j < p; j++) s += theta[k * p + j]! * x[row * p + j]!;
      h[k] = s;
    }
    return h;
  }

  async losses(theta: Float32Array, rows: Int32Array, out: Float32Array): Promise<void> {
    this.#check(theta);
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r]!;
      out[r] = crossEntropy(this.#computeLogits(theta, row), 0, this.classes, this.#y[row]!);
    }
  }

  async features(rows: Int32Array): Promise<Float32Array> {
    const p = this.featureDim;
    const out = new Float32Array(rows.length * p);
    for (let r = 0; r < rows.length; r++) out.set(this.#x.subarray(rows[r]! * p, (rows[r]! + 1) * p), r * p);
    return out;
  }

  labels(rows: Int32Array): Int32Array {
    return Int32Array.from(rows, (row) => this.#y[row]!);
  }

  /** ∇ℓ_row(θ): (softmax − onehot) aᵀ for W, (softmax − onehot) for b. */
  sampleGradient(theta: Float32Array, row: number): Float64Array {
    this.#check(theta);
    const p = this.featureDim;
    const m = this.classes;
    const e = new Float64Array(m);
    crossEntropyGrad(this.#computeLogits(theta, row), 0, m, this.#y[row]!, e);
    const g = new Float64Array(this.paramSize);
    for (let k = 0; k < m; k++) {
      for (let j = 0; j < p; j++) g[k * p + j] = e[k]! * this.#x[row * p + j]!;
      g[m * p + k] = e[k]!;
    }
    return g;
  }

  /** Gradient of the mean loss over `rows`. */
  exactGradient(theta: Float32Array, rows: Int32Array): Float64Array {
    const g = new Float64Array(this.paramSize);
    for (const row of rows) {
      const gi = this.sampleGradient(theta, row);
      for (let j = 0; j < g.length; j++) g[j] = g[j]! + gi[j]! / rows.length;
    }
    return g;
  }
}
