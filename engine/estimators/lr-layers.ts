// LR through every trainable layer (the ULR estimator, spec §2.1): each query row carries independent Gaussian
// noise σ·ε_l at the pre-activation of every trainable linear layer l, and for that row the graph reports the loss
// ℓ_r and each layer's input a_lr (which differs per row, because the noise upstream changes it). Then per layer
//   ĝ_{W_l} = (1/B) Σ_i (1/n_i) Σ_j (ℓ_ij − b_i) (ε_lij/σ) a_lijᵀ,   ĝ_{c_l} likewise without a_lij,
// which is unbiased for ∇ E_ε[ℓ] layer by layer: conditional on the upstream noise, layer l is exactly the
// single-layer case of lr-linear.ts, and the baseline b_i (the clean loss) is independent of ε_l.
//
// Reused from lr-linear.ts: the query layout (sample 0's n_0 rows, then sample 1's, ...) and drawOutputNoise, so
// antithetic pairs (ε, −ε) stay within one sample exactly as at the head. Not reused: linearLr's JS outer
// products. With per-row inputs they cost R·m·p multiply-adds per layer (784·64·640 ≈ 32 M for the first MLP
// layer at B = 64, n̄ = 10), so the weight gradient Cᵀ·A goes through the oracle's contraction (a BLAS Gemm).
import { ConfigError } from '../errors.ts';
import type { ParamLayout } from '../onnx/session.ts';
import { deriveSeed } from '../rng.ts';
import { drawOutputNoise, queryLayout } from './lr-linear.ts';
import type { EstimateResult } from './types.ts';
import { checkBaseline, checkCounts, checkPositive, nonFiniteLoss } from './validate.ts';

/** One perturbed linear layer h = W a + c, W [outDim, inDim] row-major, named as in the parameter layout. */
export interface LrLayerSpec {
  weight: string;
  bias: string;
  outDim: number;
  inDim: number;
}

/** What LR through every layer needs from a model: noisy query rows with per-layer inputs, and Cᵀ·A. */
export interface LayerLrOracle {
  /** B, rows of the current batch. */
  readonly batchSize: number;
  /** The perturbed layers in forward order. */
  readonly layers: readonly LrLayerSpec[];
  /** Where each layer's weight and bias sit in θ (and so in the gradient). */
  readonly layout: ParamLayout;
  /**
   * Runs batch rows `rows` (repeats allowed) at θ with `noise[l]` ([rows, m_l], already σ-scaled) added to layer
   * l's pre-activation; writes each row's loss to `losses` and layer l's input to `acts[l]` ([rows, p_l]).
   */
  queries(
    theta: Float32Array,
    rows: Int32Array,
    noise: readonly Float32Array[],
    losses: Float32Array,
    acts: readonly Float32Array[],
  ): Promise<void>;
  /** outW ([m, p]) ← Cᵀ·A and outB ([m]) ← Σ_r C[r, :] for C [rows, m], A [rows, p]; written in place. */
  contract(
    c: Float32Array,
    a: Float32Array,
    rows: number,
    m: number,
    p: number,
    outW: Float32Array,
    outB: Float32Array,
  ): Promise<void>;
}

export interface LayersLrOptions {
  /** σ of the Gaussian noise at every perturbed pre-activation. */
  sigma: number;
  /** b_i per sample, the clean per-sample loss (§Q8); any value independent of the noise keeps ĝ unbiased. */
  baseline: Float64Array;
  /** Antithetic pairs (ε, −ε) within each sample (default true; counts must then be even). */
  antithetic?: boolean;
  /** Default 2 with antithetic pairs, else 1. */
  nMin?: number;
  step?: number;
}

/** Layer l's noise stream: independent of the other layers' and of the allocation of other samples' rows. */
export const LAYER_NOISE_PATH = 0x1a7e;

export async function estimateLayersLr(
  oracle: LayerLrOracle,
  theta: Float32Array,
  counts: Int32Array,
  stepSeed: number,
  opts: LayersLrOptions,
): Promise<EstimateResult> {
  const step = opts.step ?? 0;
  const { sigma, baseline } = opts;
  const antithetic = opts.antithetic ?? true;
  checkPositive('lrSigma', sigma);
  const b = oracle.batchSize;
  checkCounts(counts, b, opts.nMin ?? (antithetic ? 2 : 1), antithetic);
  checkBaseline(baseline, b, step);
  if (theta.length !== oracle.layout.size) {
    throw new ConfigError(
      'theta',
      `has ${theta.length} values, the model's layout has ${oracle.layout.size}`,
    );
  }
  const layers = oracle.layers;
  if (layers.length === 0)
    throw new ConfigError('estimator', 'LR through the layers needs a perturbed layer');

  const rows = queryLayout(counts);
  const total = rows.length;
  const buf = takeBuffers(oracle, layers, total);
  try {
    // ε_l, standard normal [R, m_l]; the graph gets σ·ε_l.
    const eps = layers.map((layer, l) =>
      drawOutputNoise(counts, layer.outDim, deriveSeed(stepSeed, LAYER_NOISE_PATH, l), antithetic),
    );
    eps.forEach((e, l) => scaleInto(e, sigma, buf.scaled[l]!));
    const { losses, acts, coef } = buf;
    await oracle.queries(theta, rows, buf.scaled, losses, acts);
    rowCoefficients(rows, counts, losses, baseline, sigma, coef, step);

    const grad = new Float32Array(theta.length);
    const { layout } = oracle;
    for (let l = 0; l < layers.length; l++) {
      const { weight, bias, outDim: m, inDim: p } = layers[l]!;
      const c = buf.c[l]!;
      outerRows(coef, eps[l]!, m, c);
      const w = layout.offset(weight);
      const bo = layout.offset(bias);
      await oracle.contract(c, acts[l]!, total, m, p, grad.subarray(w, w + m * p), grad.subarray(bo, bo + m));
    }
    const varianceEstimates = layerVarianceEstimates(
      counts,
      losses,
      acts,
      layers,
      baseline,
      sigma,
      antithetic,
    );
    return { grad, rows: total, varianceEstimates, scalars: new Float32Array(0) };
  } finally {
    buf.busy = false;
  }
}

/**
 * Per-step buffers of one oracle, reused while the row count stays the same (it does under every allocator:
 * R = N): the layer inputs alone are R·p_0 floats (2 MB per step for the 784-input MLP at N = 640), and
 * reallocating them each step showed up as garbage-collector time. An estimate running while another one on
 * the same oracle is suspended at an await gets fresh buffers.
 */
interface Buffers {
  total: number;
  scaled: Float32Array[];
  acts: Float32Array[];
  c: Float32Array[];
  losses: Float32Array;
  coef: Float64Array;
  busy: boolean;
}
const buffersOf = new WeakMap<LayerLrOracle, Buffers>();

function takeBuffers(oracle: LayerLrOracle, layers: readonly LrLayerSpec[], total: number): Buffers {
  const cached = buffersOf.get(oracle);
  const fits =
    cached !== undefined &&
    cached.total === total &&
    cached.acts.length === layers.length &&
    layers.every(
      (l, i) => cached.acts[i]!.length === total * l.inDim && cached.c[i]!.length === total * l.outDim,
    );
  if (fits && !cached.busy) {
    cached.busy = true;
    return cached;
  }
  const fresh: Buffers = {
    total,
    scaled: layers.map((l) => new Float32Array(total * l.outDim)),
    acts: layers.map((l) => new Float32Array(total * l.inDim)),
    c: layers.map((l) => new Float32Array(total * l.outDim)),
    losses: new Float32Array(total),
    coef: new Float64Array(total),
    busy: true,
  };
  if (!cached?.busy) buffersOf.set(oracle, fresh);
  return fresh;
}

// The loops below are plain functions on purpose: V8 does not optimise a hot loop inside a suspended async
// function, and TypedArray.from with a map callback takes a slow generic path (it was ~30% of an LR step).

function scaleInto(src: Float32Array, sigma: number, dst: Float32Array): void {
  for (let j = 0; j < src.length; j++) dst[j] = src[j]! * sigma;
}

/** c_r = (ℓ_r − b_i) / (σ B n_i): the per-sample average of §3.7 folded into one coefficient per row. */
function rowCoefficients(
  rows: Int32Array,
  counts: Int32Array,
  losses: Float32Array,
  baseline: Float64Array,
  sigma: number,
  coef: Float64Array,
  step: number,
): void {
  const b = counts.length;
  for (let r = 0; r < rows.length; r++) {
    const i = rows[r]!;
    const loss = losses[r]!;
    if (!Number.isFinite(loss)) {
      throw nonFiniteLoss(step, `batch row ${i}, noisy query ${r - firstRowOf(rows, r)}`, loss);
    }
    coef[r] = (loss - baseline[i]!) / (sigma * b * counts[i]!);
  }
}

/** C[r, k] = c_r ε_rk, the left factor of the layer's Cᵀ·A. */
function outerRows(coef: Float64Array, eps: Float32Array, m: number, out: Float32Array): void {
  for (let r = 0; r < coef.length; r++) {
    const cr = coef[r]!;
    const o = r * m;
    for (let k = 0; k < m; k++) out[o + k] = cr * eps[o + k]!;
  }
}

/** Index of the first row of the sample that row r belongs to (rows are grouped by sample). */
function firstRowOf(rows: Int32Array, r: number): number {
  let s = r;
  while (s > 0 && rows[s - 1] === rows[r]) s--;
  return s;
}

/**
 * §3.4(a) per sample, summed over the perturbed layers: the single-layer proxy of lr-linear.ts,
 * m_l ‖a_l‖² · mean_pairs δ² with δ = (ℓ⁺ − ℓ⁻)/2σ (antithetic; ‖a‖² averaged over the pair), or
 * m_l ‖a_l‖² (ℓ − b_i)²/σ² averaged over the queries (one-sided). Each layer's gradient variance is of that
 * form given the noise upstream, and the layers' noises are independent, so the per-layer proxies add.
 */
function layerVarianceEstimates(
  counts: Int32Array,
  losses: Float32Array,
  acts: readonly Float32Array[],
  layers: readonly LrLayerSpec[],
  baseline: Float64Array,
  sigma: number,
  antithetic: boolean,
): Float64Array {
  const out = new Float64Array(counts.length);
  // Σ_l m_l ‖a_lr‖² per row: the weight each row's squared loss deviation gets.
  const total = losses.length;
  const weightOfRow = new Float64Array(total);
  for (let l = 0; l < layers.length; l++) {
    const { outDim: m, inDim: p } = layers[l]!;
    const a = acts[l]!;
    for (let r = 0; r < total; r++) {
      let s = 0;
      for (let j = r * p; j < (r + 1) * p; j++) s += a[j]! * a[j]!;
      weightOfRow[r] = weightOfRow[r]! + m * s;
    }
  }
  let r = 0;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i]!;
    let v = 0;
    for (let j = 0; j < n; j++, r++) {
      if (!antithetic) {
        v += (weightOfRow[r]! * (losses[r]! - baseline[i]!) ** 2) / (sigma * sigma);
      } else if (j % 2 === 1) {
        const delta = (losses[r - 1]! - losses[r]!) / (2 * sigma);
        v += 0.5 * (weightOfRow[r - 1]! + weightOfRow[r]!) * delta * delta;
      }
    }
    out[i] = v / (antithetic ? n / 2 : n);
  }
  return out;
}
