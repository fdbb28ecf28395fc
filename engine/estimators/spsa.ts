// Two-point SPSA with per-sample averaging and shared, masked directions (spec §3.7):
//   K = max n_i directions z_k, sample i takes part in the first n_i of them,
//   ĝ = Σ_k z_k s_k,   s_k = (1/B) Σ_{i: n_i > k} δ_ik / n_i,   δ_ik = (ℓ_i(θ+εz_k) − ℓ_i(θ−εz_k)) / 2ε.
// The allocation only changes the variance: E[ĝ] = ∇L_B for any counts fixed before the directions are drawn.
// Each z_k comes from deriveSeed(stepSeed, k) and is used while s_k is formed, then dropped: memory is O(d)
// whatever K is, and the K scalars plus the seed rebuild ĝ exactly (replaySpsaUpdate).
import type { LossOracle } from '../oracle.ts';
import { deriveSeed, Rng } from '../rng.ts';
import { addScaled, checkDirectionKind, drawDirection } from './directions.ts';
import type { DirectionKind, EstimateResult, SpsaOptions } from './types.ts';
import { checkCounts, checkPositive, nonFiniteLoss } from './validate.ts';

/** Direction k of a step (k counts from 0). */
export function spsaDirection(stepSeed: number, k: number, out: Float32Array, kind: DirectionKind): void {
  drawDirection(new Rng(deriveSeed(stepSeed, k)), out, kind);
}

/** Batch rows by decreasing count (ties by index), so the participants of every direction are a prefix. */
function rowsByCount(counts: Int32Array): Int32Array {
  return Int32Array.from(counts.keys()).sort((a, b) => counts[b]! - counts[a]! || a - b);
}

export async function estimateSpsa(
  oracle: LossOracle,
  theta: Float32Array,
  counts: Int32Array,
  stepSeed: number,
  opts: SpsaOptions,
): Promise<EstimateResult> {
  const step = opts.step ?? 0;
  const eps = opts.eps;
  const kind = opts.directions ?? 'gaussian';
  checkPositive('spsaEps', eps);
  checkDirectionKind(kind);
  const b = oracle.batchSize;
  checkCounts(counts, b, opts.nMin ?? 1, false);

  const d = theta.length;
  const order = rowsByCount(counts);
  const kMax = counts[order[0]!]!;
  const z = new Float32Array(d);
  const plus = new Float32Array(d);
  const minus = new Float32Array(d);
  const lossPlus = new Float32Array(b);
  const lossMinus = new Float32Array(b);
  const acc = new Float64Array(d);
  const sumSq = new Float64Array(b);
  const scalars = new Float32Array(kMax);

  let active = b;
  for (let k = 0; k < kMax; k++) {
    while (counts[order[active - 1]!]! <= k) active--;
    const rows = order.subarray(0, active);
    spsaDirection(stepSeed, k, z, kind);
    for (let j = 0; j < d; j++) {
      plus[j] = theta[j]! + eps * z[j]!;
      minus[j] = theta[j]! - eps * z[j]!;
    }
    // Sequential on purpose: an oracle may reuse its input and output buffers between calls.
    await oracle.losses(plus, rows, lossPlus.subarray(0, active));
    await oracle.losses(minus, rows, lossMinus.subarray(0, active));
    let s = 0;
    for (let r = 0; r < active; r++) {
      const i = rows[r]!;
      const lp = lossPlus[r]!;
      const lm = lossMinus[r]!;
      if (!Number.isFinite(lp)) throw nonFiniteLoss(step, `batch row ${i} at θ+εz_${k}`, lp);
      if (!Number.isFinite(lm)) throw nonFiniteLoss(step, `batch row ${i} at θ−εz_${k}`, lm);
      const delta = (lp - lm) / (2 * eps);
      s += delta / counts[i]!;
      sumSq[i] = sumSq[i]! + delta * delta;
    }
    scalars[k] = s / b;
    // Accumulate with the stored float32 scalar, exactly as the replay will.
    addScaled(acc, z, scalars[k]!);
  }

  // §3.4(a): v̂_i = d · mean_k δ_ik².
  const varianceEstimates = Float64Array.from(sumSq, (q, i) => (d * q) / counts[i]!);
  let total = 0;
  for (const n of counts) total += n;
  return { grad: Float32Array.from(acc), rows: 2 * total, varianceEstimates, scalars };
}

/** Rebuilds ĝ = Σ_k s_k z_k from the stored scalars and the step seed alone; bit-identical to estimateSpsa's. */
export function replaySpsaUpdate(
  scalars: Float32Array,
  stepSeed: number,
  d: number,
  directions: DirectionKind = 'gaussian',
): Float32Array {
  checkDirectionKind(directions);
  const z = new Float32Array(d);
  const acc = new Float64Array(d);
  for (let k = 0; k < scalars.length; k++) {
    spsaDirection(stepSeed, k, z, directions);
    addScaled(acc, z, scalars[k]!);
  }
  return Float32Array.from(acc);
}
