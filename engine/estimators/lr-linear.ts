// Likelihood-ratio (score-function) gradient for ONE linear layer h = W a + c whose outputs get Gaussian noise
// h̃ = h + σ ⊙ ε (spec §2.1), with per-sample averaging (§3.7):
//   ĝ_W = (1/B) Σ_i (1/n_i) Σ_j (ℓ_ij − b_i) (ε_ij/σ) a_ijᵀ,   ĝ_c likewise without a_ij,
//   ∂/∂log σ_k = (1/B) Σ_i (1/n_i) Σ_j (ℓ_ij − b_i)(ε_ijk² − 1).
// It only needs, per query, the noise, the resulting loss and the layer input, so whatever produced them (logits
// and CE in TypeScript for the head, or an ONNX graph with noise inputs at a block) can reuse it.
import { ConfigError } from '../errors.ts';
import { Rng } from '../rng.ts';
import { checkBaseline, checkCounts, checkPositive, nonFiniteLoss } from './validate.ts';

export interface LinearLrConfig {
  /** m, outputs of the layer (noise dimension per query). */
  outDim: number;
  /** p, inputs of the layer. */
  inDim: number;
  /** n_i, queries per sample; even when antithetic. */
  counts: Int32Array;
  /** Noise std, one shared value or one per output unit. */
  sigma: number | Float32Array;
  /** b_i, any value independent of the noise (the clean loss by default upstream). */
  baseline: Float64Array;
  /** Queries 2t and 2t+1 of a sample carry ε and −ε. */
  antithetic: boolean;
  step?: number;
}

/**
 * The queries in `queryLayout(counts)` order. `inputs` is B×p when every query of a sample sees the same layer
 * input (a frozen prefix, as at the head), or R×p when the input differs per query (noise further upstream).
 */
export interface LinearLrQueries {
  noise: Float32Array;
  losses: Float32Array | Float64Array;
  inputs: Float32Array;
  inputsPerQuery: boolean;
}

export interface LinearLrGradient {
  gradW: Float32Array;
  gradC: Float32Array;
  gradLogSigma: Float32Array;
  varianceEstimates: Float64Array;
  rows: number;
}

/** Query rows in order: sample 0's n_0 queries, then sample 1's, ... Returns the sample of each row. */
export function queryLayout(counts: Int32Array): Int32Array {
  let total = 0;
  for (const n of counts) total += n;
  const samples = new Int32Array(total);
  let r = 0;
  for (let i = 0; i < counts.length; i++) samples.fill(i, r, (r += counts[i]!));
  return samples;
}

/** Standard normal noise for every query (R×m), with row 2t+1 = −row 2t within each sample when antithetic. */
export function drawOutputNoise(
  counts: Int32Array,
  m: number,
  seed: number,
  antithetic: boolean,
): Float32Array {
  checkCounts(counts, counts.length, antithetic ? 2 : 1, antithetic);
  let total = 0;
  for (const n of counts) total += n;
  const noise = new Float32Array(total * m);
  const rng = new Rng(seed);
  if (!antithetic) {
    rng.fillGaussian(noise);
    return noise;
  }
  // Pairs never straddle samples because every count is even, so pairing consecutive rows pairs within a sample.
  const half = new Float32Array((total / 2) * m);
  rng.fillGaussian(half);
  for (let t = 0; t < total / 2; t++) {
    for (let k = 0; k < m; k++) {
      const e = half[t * m + k]!;
      noise[2 * t * m + k] = e;
      noise[(2 * t + 1) * m + k] = -e;
    }
  }
  return noise;
}

function sigmaVector(sigma: number | Float32Array, m: number): Float64Array {
  if (typeof sigma === 'number') {
    checkPositive('lrSigma', sigma);
    return new Float64Array(m).fill(sigma);
  }
  if (sigma.length !== m)
    throw new ConfigError('lrSigma', `has ${sigma.length} entries for ${m} output units`);
  for (const s of sigma) checkPositive('lrSigma', s);
  return Float64Array.from(sigma);
}

function expectLength(field: string, got: number, want: number): void {
  if (got !== want) throw new ConfigError(field, `has ${got} values, expected ${want}`);
}

export function linearLr(cfg: LinearLrConfig, q: LinearLrQueries): LinearLrGradient {
  const { outDim: m, inDim: p, counts, baseline, antithetic } = cfg;
  const step = cfg.step ?? 0;
  const b = counts.length;
  const sig = sigmaVector(cfg.sigma, m);
  checkCounts(counts, b, antithetic ? 2 : 1, antithetic);
  checkBaseline(baseline, b, step);
  let total = 0;
  for (const n of counts) total += n;
  expectLength('noise', q.noise.length, total * m);
  expectLength('losses', q.losses.length, total);
  expectLength('inputs', q.inputs.length, (q.inputsPerQuery ? total : b) * p);

  const invSig = sig.map((s) => 1 / s);
  let sigBar = 0;
  for (const s of sig) sigBar += s / m;
  const { noise, losses, inputs, inputsPerQuery } = q;

  const gradW = new Float64Array(m * p);
  const gradC = new Float64Array(m);
  const gradLs = new Float64Array(m);
  // Shared inputs: sum the noise coefficients per sample first, so the outer products cost B·m·p, not R·m·p.
  const u = new Float64Array(m);
  const varianceEstimates = new Float64Array(b);

  const normSq = (row: number): number => {
    let s = 0;
    for (let j = 0; j < p; j++) s += inputs[row * p + j]! ** 2;
    return s;
  };

  let r = 0;
  for (let i = 0; i < b; i++) {
    const n = counts[i]!;
    const w = 1 / (b * n);
    const bi = baseline[i]!;
    const sampleNormSq = inputsPerQuery ? 0 : normSq(i);
    if (!inputsPerQuery) u.fill(0);
    let vSum = 0;
    for (let j = 0; j < n; j++, r++) {
      const loss = losses[r]!;
      if (!Number.isFinite(loss)) throw nonFiniteLoss(step, `batch row ${i}, noisy query ${j}`, loss);
      const c = (loss - bi) * w;
      if (inputsPerQuery) u.fill(0);
      for (let k = 0; k < m; k++) {
        const e = noise[r * m + k]!;
        u[k] = u[k]! + c * e * invSig[k]!;
        gradLs[k] = gradLs[k]! + c * (e * e - 1);
      }
      if (inputsPerQuery) accumulateOuter(gradW, gradC, u, inputs, r, m, p);
      // §3.4(a): antithetic pairs use the SPSA-like form with δ = (ℓ⁺ − ℓ⁻)/2σ̄, one-sided queries (ℓ − b)²/σ̄².
      const aSq = inputsPerQuery ? normSq(r) : sampleNormSq;
      if (!antithetic) {
        vSum += aSq * (loss - bi) ** 2;
      } else if (j % 2 === 1) {
        const prevSq = inputsPerQuery ? normSq(r - 1) : sampleNormSq;
        const delta = (losses[r - 1]! - loss) / (2 * sigBar);
        vSum += 0.5 * (aSq + prevSq) * delta * delta;
      }
    }
    if (!inputsPerQuery) accumulateOuter(gradW, gradC, u, inputs, i, m, p);
    varianceEstimates[i] = antithetic ? (m * vSum) / (n / 2) : (m * vSum) / (sigBar * sigBar * n);
  }
  return {
    gradW: Float32Array.from(gradW),
    gradC: Float32Array.from(gradC),
    gradLogSigma: Float32Array.from(gradLs),
    varianceEstimates,
    rows: total,
  };
}

/** gradW += u a_rowᵀ, gradC += u. */
function accumulateOuter(
  gradW: Float64Array,
  gradC: Float64Array,
  u: Float64Array,
  inputs: Float32Array,
  row: number,
  m: number,
  p: number,
): void {
  const base = row * p;
  for (let k = 0; k < m; k++) {
    const uk = u[k]!;
    gradC[k] = gradC[k]! + uk;
    if (uk === 0) continue;
    const off = k * p;
    for (let j = 0; j < p; j++) gradW[off + j] = gradW[off + j]! + uk * inputs[base + j]!;
  }
}
