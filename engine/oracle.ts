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
  /**
   * Optional, SPSA's whole 'table' step for one group of directions that share their rows, the combine included
   * (so it runs where the windows already are, e.g. inside the ONNX graph). With z_k = table[offsets[k] : +d],
   * K = offsets.length, R = rows.length, n_r = counts[rows[r]] and B = batchSize:
   *   losses[(2k)·R + r] and losses[(2k+1)·R + r]: row rows[r] at θ + fround(eps)·z_k and θ − fround(eps)·z_k;
   *   scalars[k] = fround( (Σ_r ((double)ℓ⁺ − ℓ⁻) / (2·eps) / n_r) / B )   (float64 inside; row order free);
   *   grad ← accumulateTableWindows(grad, table, offsets, scalars)   (float32, bit for bit; grad is in/out).
   * Returns false, having written nothing, when it cannot serve the call (e.g. more rows than one run takes):
   * the caller then uses lossesAlongDirections and the same combine in JS. SPSA calls it only on an oracle that
   * also has lossesAlongDirections (that fallback).
   */
  gradientAlongDirections?(request: DirectionGradientRequest): Promise<boolean>;
}

/** One call of LossOracle.gradientAlongDirections (see there for what each output holds). */
export interface DirectionGradientRequest {
  theta: Float32Array;
  /** SPSA's ε (float64: the scalars divide by 2·eps; the perturbation uses fround(eps)). */
  eps: number;
  offsets: ArrayLike<number>;
  rows: Int32Array;
  /** n_i per batch row (length B); the rows of this call use counts[rows[r]]. */
  counts: Int32Array;
  grad: Float32Array;
  losses: Float32Array;
  scalars: Float32Array;
}

export interface FeatureOracle {
  readonly batchSize: number;
  readonly featureDim: number;
  /** Frozen-prefix features a_i of batch rows (row-major [rows, featureDim]). */
  features(rows: Int32Array): Promise<Float32Array>;
  labels(rows: Int32Array): Int32Array;
}
