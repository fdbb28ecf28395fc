// What the estimators need from a model. SPSA and ES only ever ask for per-sample losses at some parameter vector
// (the §3.7 per-sample average needs the loss vector, not the batch mean); LR at the head needs the frozen-prefix
// features instead, and injects its noise in TypeScript.

export interface LossOracle {
  /** B, rows of the current batch. */
  readonly batchSize: number;
  /** Per-row losses at parameters theta for batch rows `rows` (indices into the batch): out[r] for r < rows.length.
   *  Async because onnxruntime-node's session.run returns a Promise (see docs/engine-design.md). */
  losses(theta: Float32Array, rows: Int32Array, out: Float32Array): Promise<void>;
  /**
   * Optional fast path for 'table' directions (engine/estimators/directions.ts): G perturbations in one call,
   * out[g·R + r] (R = rows.length) = the loss of row rows[r] at θ + eps[g]·table[offsets[g] : offsets[g] + d]
   * with table = noiseTable(noiseTableSize(d)), d = theta.length — what `losses` gives at that point, but with
   * the perturbation formed by the oracle (e.g. inside its ONNX graph) instead of in JS. eps may be negative.
   */
  lossesAlongDirections?(
    theta: Float32Array,
    eps: Float32Array,
    offsets: ArrayLike<number>,
    rows: Int32Array,
    out: Float32Array,
  ): Promise<void>;
}

export interface FeatureOracle {
  readonly batchSize: number;
  readonly featureDim: number;
  /** Frozen-prefix features a_i of batch rows (row-major [rows, featureDim]). */
  features(rows: Int32Array): Promise<Float32Array>;
  labels(rows: Int32Array): Int32Array;
}
