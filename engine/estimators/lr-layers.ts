// LR through every trainable layer (the ULR estimator, spec §2.1): each query row carries independent Gaussian
// noise σ·ε_l at the pre-activation of every trainable linear layer l, and for that row the graph reports the loss
// ℓ_r and each layer's input a_lr (which differs per row, because the noise upstream changes it). Then per layer
//   ĝ_{W_l} = (1/B) Σ_i (1/n_i) Σ_j (ℓ_ij − b_i) (ε_lij/σ) a_lijᵀ,   ĝ_{c_l} likewise without a_lij,
// which is unbiased for ∇ E_ε[ℓ] layer by layer: conditional on the upstream noise, layer l is exactly the
// single-layer case of lr-linear.ts, and the baseline b_i (the clean loss) is independent of ε_l.
//
// Reused from lr-linear.ts: the query layout (sample 0's n_0 rows, then sample 1's, ...) and drawOutputNoise's ε
// (drawn here straight into the graph's buffer), so antithetic pairs (ε, −ε) stay within one sample as at the head. Not reused: linearLr's JS outer
// products. With per-row inputs they cost R·m·p multiply-adds per layer (784·64·640 ≈ 32 M for the first MLP
// layer at B = 64, n̄ = 10), so the weight gradient Cᵀ·A goes through the oracle's contraction (a BLAS Gemm).
import { ConfigError } from '../errors.ts';
import type { ParamLayout } from '../onnx/session.ts';
import { deriveSeed, Rng } from '../rng.ts';
import { queryLayout } from './lr-linear.ts';
import type { EstimateResult } from './types.ts';
import { checkBaseline, checkCounts, checkPositive, nonFiniteLoss } from './validate.ts';

/**
 * One noise site, named as in the parameter layout. Usually a linear layer h = W a + c, W [outDim, inDim]
 * row-major. Generalised for the ViT (engine/models/vit/graph.ts, LrLayerIo):
 * - `tokens` T: the site sees T tokens per row, its noise and input are [rows, T·m] and [rows, T·p], which
 *   row-major is [rows·T, m] and [rows·T, p], so ĝ_W = Cᵀ·A over rows·T with c_r repeated per token (the token sum
 *   is the estimator of ∂/∂W of the shared weight; spec §2.1's note on the reference code's 1/T);
 * - `diagonal`: the weight is a gain γ [outDim] acting elementwise on the input (a LayerNorm's n̂, inDim = outDim),
 *   ĝ_γ = Σ C ⊙ A;
 * - either tensor may be absent (a LoRA factor has no bias; a BitFit bias or VPT prompts no weight, inDim 0);
 * - `act`: sites with the same key read one input (q, k and v share a LayerNorm output), so it is stored once.
 */
export interface LrLayerSpec {
  weight?: string;
  bias?: string;
  outDim: number;
  inDim: number;
  tokens?: number;
  diagonal?: boolean;
  act?: string;
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
   * Runs batch rows `rows` (repeats allowed) at θ with `noise[l]` ([rows, T_l·m_l], already σ-scaled) added to
   * layer l's pre-activation; writes each row's loss to `losses` and layer l's input to `acts[l]` ([rows, T_l·p_l];
   * empty when p_l = 0; layers with the same `act` key get the same array, to be written once).
   */
  queries(
    theta: Float32Array,
    rows: Int32Array,
    noise: readonly Float32Array[],
    losses: Float32Array,
    acts: readonly Float32Array[],
  ): Promise<void>;
  /**
   * Optional, used instead of `contract` when present: site l's gradient from the row coefficients c [R] and the
   * σ-scaled noise [R, T·m] the queries saw (C = c·noise formed natively, not in JS), with its input a; writes
   * outW (W [m, p] or a diagonal gain [m]) and outB ([m]) in place, each only when given.
   */
  contractSite?(
    l: number,
    coef: Float32Array,
    noise: Float32Array,
    a: Float32Array,
    rows: number,
    outW: Float32Array | undefined,
    outB: Float32Array | undefined,
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
    // σ·ε_l [R, T_l·m_l], ε_l standard normal, drawn straight into the buffer the graph reads (the ViT's sites draw
    // ~10⁴ values per row: a separate ε array and a scaling copy cost as much as the drawing).
    layers.forEach((layer, l) => {
      const seed = deriveSeed(stepSeed, LAYER_NOISE_PATH, l);
      drawScaledNoise(buf.scaled[l]!, total, tokensOf(layer) * layer.outDim, seed, sigma, antithetic);
    });
    const { losses, acts, coef } = buf;
    await oracle.queries(theta, rows, buf.scaled, losses, acts);
    // C = c·ε = (c/σ)·(σ·ε): the coefficients absorb 1/σ once more, so ε itself is never kept.
    rowCoefficients(rows, counts, losses, baseline, sigma * sigma, coef, step);

    const grad = new Float32Array(theta.length);
    const { layout } = oracle;
    const coef32 = oracle.contractSite ? Float32Array.from(coef) : undefined;
    for (let l = 0; l < layers.length; l++) {
      const layer = layers[l]!;
      const { weight, bias, outDim: m, inDim: p } = layer;
      const t = tokensOf(layer);
      const view = (name: string, n: number) => grad.subarray(layout.offset(name), layout.offset(name) + n);
      const gb = bias === undefined ? undefined : view(bias, m);
      if (coef32) {
        const gw = weight === undefined ? undefined : view(weight, layer.diagonal ? m : m * p);
        await oracle.contractSite!(l, coef32, buf.scaled[l]!, acts[l]!, total, gw, gb);
        continue;
      }
      const c = (buf.c[l] ??= new Float32Array(total * t * m));
      outerRows(coef, buf.scaled[l]!, t * m, c);
      if (weight !== undefined && !layer.diagonal) {
        // Cᵀ·A over rows·T rows; a site without a bias gets its column sums in a scratch vector.
        const outB = gb ?? new Float32Array(m);
        await oracle.contract(c, acts[l]!, total * t, m, p, view(weight, m * p), outB);
      } else {
        columnSums(c, m, gb, weight === undefined ? undefined : view(weight, m), acts[l]!);
      }
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
  /** C = c·ε per layer, only for oracles without contractSite; allocated on first use. */
  c: (Float32Array | undefined)[];
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
    layers.every((l, i) => cached.acts[i]!.length === total * tokensOf(l) * l.inDim);
  if (fits && !cached.busy) {
    cached.busy = true;
    return cached;
  }
  // One input buffer per `act` key: sites reading the same value share it.
  const shared = new Map<string, Float32Array>();
  const actBuffer = (l: LrLayerSpec): Float32Array => {
    const n = total * tokensOf(l) * l.inDim;
    if (l.act === undefined || n === 0) return new Float32Array(n);
    const b = shared.get(l.act) ?? new Float32Array(n);
    if (b.length !== n) throw new RangeError(`LR sites sharing input '${l.act}' disagree on its width`);
    shared.set(l.act, b);
    return b;
  };
  const fresh: Buffers = {
    total,
    scaled: layers.map((l) => new Float32Array(total * tokensOf(l) * l.outDim)),
    acts: layers.map(actBuffer),
    c: [],
    losses: new Float32Array(total),
    coef: new Float64Array(total),
    busy: true,
  };
  if (!cached?.busy) buffersOf.set(oracle, fresh);
  return fresh;
}

// The loops below are plain functions on purpose: V8 does not optimise a hot loop inside a suspended async
// function, and TypedArray.from with a map callback takes a slow generic path (it was ~30% of an LR step).

function tokensOf(layer: LrLayerSpec): number {
  return layer.tokens ?? 1;
}

/**
 * The sites the Gemm does not serve, summed over rows·T in float64: ĝ_b[k] = Σ C[·, k] and, for a diagonal gain,
 * ĝ_γ[k] = Σ C[·, k]·A[·, k]. Both are R·T·m multiply-adds, as cheap as drawing the noise.
 */
function columnSums(
  c: Float32Array,
  m: number,
  outB: Float32Array | undefined,
  outGain: Float32Array | undefined,
  a: Float32Array,
): void {
  const sb = new Float64Array(m);
  const sg = new Float64Array(m);
  const rows = c.length / m;
  for (let r = 0; r < rows; r++) {
    const o = r * m;
    for (let k = 0; k < m; k++) sb[k] = sb[k]! + c[o + k]!;
    if (outGain) for (let k = 0; k < m; k++) sg[k] = sg[k]! + c[o + k]! * a[o + k]!;
  }
  if (outB) outB.set(sb);
  if (outGain) outGain.set(sg);
}

/**
 * σ·ε into `out` ([rows, m]): the same ε as drawOutputNoise (lr-linear.ts) for these counts and seed. Antithetic:
 * the rows/2 independent rows are drawn into the front of `out` and spread backwards into pairs (ε, −ε), which never
 * overwrites a row before it is read (row t goes to rows 2t and 2t+1 ≥ t).
 */
function drawScaledNoise(
  out: Float32Array,
  rows: number,
  m: number,
  seed: number,
  sigma: number,
  antithetic: boolean,
): void {
  const rng = new Rng(seed);
  if (!antithetic) {
    rng.fillGaussian(out);
    for (let j = 0; j < out.length; j++) out[j] = out[j]! * sigma;
    return;
  }
  const half = rows / 2;
  rng.fillGaussian(out.subarray(0, half * m));
  for (let t = half - 1; t >= 0; t--) {
    for (let k = 0; k < m; k++) {
      const e = out[t * m + k]! * sigma;
      out[2 * t * m + k] = e;
      out[(2 * t + 1) * m + k] = -e;
    }
  }
}

/** c_r = (ℓ_r − b_i) / (s B n_i), s = σ² (see the caller): the per-sample average of §3.7 folded into one
 * coefficient per row. */
function rowCoefficients(
  rows: Int32Array,
  counts: Int32Array,
  losses: Float32Array,
  baseline: Float64Array,
  s: number,
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
    coef[r] = (loss - baseline[i]!) / (s * b * counts[i]!);
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

function rowSquaredNorms(a: Float32Array, rows: number, p: number): Float64Array {
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = r * p; j < (r + 1) * p; j++) s += a[j]! * a[j]!;
    out[r] = s;
  }
  return out;
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
  // Over T tokens a row's input is its T·p values; a diagonal gain has weight ‖a‖² (m = 1 per unit) and a
  // bias-only site the T·m ones its noise multiplies.
  const weightOfRow = new Float64Array(total);
  // ‖a_r‖² per row of each input buffer, once per buffer (q, k and v share theirs).
  const sqNorms = new Map<Float32Array, Float64Array>();
  for (let l = 0; l < layers.length; l++) {
    const layer = layers[l]!;
    const { outDim: m } = layer;
    const t = tokensOf(layer);
    if (layer.weight === undefined) {
      for (let r = 0; r < total; r++) weightOfRow[r] = weightOfRow[r]! + t * m;
      continue;
    }
    const a = acts[l]!;
    let sq = sqNorms.get(a);
    if (!sq) {
      sq = rowSquaredNorms(a, total, t * layer.inDim);
      sqNorms.set(a, sq);
    }
    const scale = layer.diagonal ? 1 : m;
    for (let r = 0; r < total; r++) weightOfRow[r] = weightOfRow[r]! + scale * sq[r]!;
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
