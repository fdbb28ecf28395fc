// Two-point SPSA with per-sample averaging and shared, masked directions (spec §3.7):
//   K = max n_i directions z_k, sample i takes part in the first n_i of them,
//   ĝ = Σ_k z_k s_k,   s_k = (1/B) Σ_{i: n_i > k} δ_ik / n_i,   δ_ik = (ℓ_i(θ+εz_k) − ℓ_i(θ−εz_k)) / 2ε.
// The allocation only changes the variance: E[ĝ] = ∇L_B for any counts fixed before the directions are drawn.
// Each z_k comes from deriveSeed(stepSeed, k) and is used while s_k is formed, then dropped: memory is O(d)
// whatever K is, and the K scalars plus the seed rebuild ĝ exactly (replaySpsaUpdate).
// 'table' directions are windows of a shared noise table (directions.ts: why, and the statistical caveat); with
// an oracle offering lossesAlongDirections the perturbations run in its graph, several directions per call, and
// with gradientAlongDirections the combine ĝ += s_k·z_k too. 'table' ĝ is accumulated in float32 (each product
// and sum rounded once, accumulateTableWindows), so graph, JS fallback and replay agree bit for bit; the other
// kinds accumulate in float64.
import type { LossOracle } from '../oracle.ts';
import { deriveSeed, Rng } from '../rng.ts';
import {
  addScaled,
  checkDirectionKind,
  drawDirection,
  accumulateTableWindows,
  combineTableWindows,
  noiseTable,
  noiseTableMaxAbs,
  noiseTableSize,
  tableOffset,
  tableSumIsFinite,
} from './directions.ts';
import type { DirectionKind, EstimateResult, SpsaOptions } from './types.ts';
import { checkCounts, checkPositive, nonFiniteLoss } from './validate.ts';

/** Direction k of a step (k counts from 0). */
export function spsaDirection(stepSeed: number, k: number, out: Float32Array, kind: DirectionKind): void {
  drawDirection(new Rng(deriveSeed(stepSeed, k)), out, kind);
}

/** Offset of z_k's window in a table of size t for 'table' directions: the estimate and its replay share it. */
function spsaTableOffset(stepSeed: number, k: number, d: number, t: number): number {
  return tableOffset(new Rng(deriveSeed(stepSeed, k)), d, t);
}

/** Batch rows by decreasing count (ties by index), so the participants of every direction are a prefix. */
function rowsByCount(counts: Int32Array): Int32Array {
  return Int32Array.from(counts.keys()).sort((a, b) => counts[b]! - counts[a]! || a - b);
}

/**
 * Entries per pass of the fused loop below: small enough that a chunk of z, θ, θ±εz and the accumulator stays in
 * L1/L2 between the generator writing z and the loop reading it, and a multiple of 32 so that chunked Rademacher
 * fills consume whole u32 words exactly as one fill of the whole vector does (chunked fills are bit-identical).
 */
const CHUNK = 4096;

/** Most directions per grouped 'table' call (2 perturbations each): bounds one run's rows and memory. */
const MAX_GROUP = 16;

/** Scratch vectors of one estimate, reused across steps (allocating ~5·d values per step shows up in profiles). */
interface Scratch {
  z: Float32Array;
  plus: Float32Array;
  minus: Float32Array;
  acc: Float64Array;
  busy: boolean;
}
let cached: Scratch | undefined;

function takeScratch(d: number, needAcc: boolean): Scratch {
  // Two estimates may interleave at their awaits (e.g. concurrent tests); only a free cache entry is reused.
  if (cached && !cached.busy && cached.z.length === d) {
    cached.busy = true;
    // 'table' ĝ has its own float32 accumulator: zeroing 8·d unused bytes per step showed in its profile.
    if (needAcc) cached.acc.fill(0);
    return cached;
  }
  const s: Scratch = {
    z: new Float32Array(d),
    plus: new Float32Array(d),
    minus: new Float32Array(d),
    acc: new Float64Array(d),
    busy: true,
  };
  if (!cached?.busy) cached = s;
  return s;
}

/**
 * One pass over θ for direction k, chunk by chunk: first acc += s_{k−1}·z_{k−1} (the previous direction, still in
 * z), then z ← z_k from the generator, then θ ± εz_k. Fusing the three keeps z hot in cache and reads it once
 * per use instead of three full-vector passes. For every j the accumulator sees the same additions in the same
 * order as replaySpsaUpdate's addScaled loop, so the result is bit-identical to the replay.
 *
 * The loops live in plain functions rather than in estimateSpsa itself: V8 cannot optimise a hot loop on the
 * stack of a suspended async function (no on-stack replacement there), which made the inline loop ~4× slower.
 */
function nextDirection(
  rng: Rng,
  kind: DirectionKind,
  eps: number,
  theta: Float32Array,
  sc: Scratch,
  prevScalar: number,
): void {
  const { z, plus, minus, acc } = sc;
  const d = theta.length;
  for (let start = 0; start < d; start += CHUNK) {
    const end = Math.min(d, start + CHUNK);
    if (prevScalar !== 0) accumulate(acc, z, prevScalar, start, end);
    drawDirection(rng, z.subarray(start, end), kind);
    perturb(theta, z, eps, plus, minus, start, end);
  }
}

function accumulate(acc: Float64Array, z: Float32Array, s: number, start: number, end: number): void {
  for (let j = start; j < end; j++) acc[j] = acc[j]! + s * z[j]!;
}

function perturb(
  theta: Float32Array,
  z: Float32Array,
  eps: number,
  plus: Float32Array,
  minus: Float32Array,
  start: number,
  end: number,
): void {
  for (let j = start; j < end; j++) {
    const t = theta[j]!;
    const e = eps * z[j]!;
    plus[j] = t + e;
    minus[j] = t - e;
  }
}

/** Per-row δ_ik of one direction into s_k (returned) and the per-sample Σδ², with the non-finite checks. */
function scalarOf(
  rows: Int32Array,
  counts: Int32Array,
  lossPlus: Float32Array,
  lossMinus: Float32Array,
  sumSq: Float64Array,
  eps: number,
  step: number,
  k: number,
): number {
  let s = 0;
  for (let r = 0; r < rows.length; r++) {
    const i = rows[r]!;
    const lp = lossPlus[r]!;
    const lm = lossMinus[r]!;
    if (!Number.isFinite(lp)) throw nonFiniteLoss(step, `batch row ${i} at θ+εz_${k}`, lp);
    if (!Number.isFinite(lm)) throw nonFiniteLoss(step, `batch row ${i} at θ−εz_${k}`, lm);
    const delta = (lp - lm) / (2 * eps);
    s += delta / counts[i]!;
    sumSq[i] = sumSq[i]! + delta * delta;
  }
  return s;
}

export interface SpsaRunOptions extends SpsaOptions {
  /**
   * Where ĝ is written for 'table' directions (length d, overwritten; returned as `grad`). The training loop
   * passes the same buffer every step: a fresh 4·d-byte vector per step was most of the step's GC time.
   */
  gradOut?: Float32Array;
}

export interface SpsaEstimate extends EstimateResult {
  /**
   * true when every entry of grad is proven finite without reading it ('table' directions: from the scalars,
   * tableSumIsFinite, which holds for any oracle keeping gradientAlongDirections' contract, ĝ = the float32
   * chain of those scalars), so the caller may skip its own pass over d values; false = not proven, check grad.
   */
  gradFinite: boolean;
}

export async function estimateSpsa(
  oracle: LossOracle,
  theta: Float32Array,
  counts: Int32Array,
  stepSeed: number,
  opts: SpsaRunOptions,
): Promise<SpsaEstimate> {
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
  const sc = takeScratch(d, kind !== 'table');
  const { z, plus, minus, acc } = sc;
  const lossPlus = new Float32Array(b);
  const lossMinus = new Float32Array(b);
  const sumSq = new Float64Array(b);
  const scalars = new Float32Array(kMax);

  try {
    let active = b;
    // 'table': z_k is a window of the shared noise table at an offset drawn from deriveSeed(stepSeed, k); ĝ is
    // formed once at the end from the windows. An oracle that perturbs in its graph gets every run of directions
    // with the same participants (all K of them under uniform counts) as ONE call of 2·(directions) groups.
    const table = kind === 'table' ? noiseTable(noiseTableSize(d)) : undefined;
    const offsets = new Float64Array(table ? kMax : 0);
    if (table) {
      for (let k = 0; k < kMax; k++) offsets[k] = spsaTableOffset(stepSeed, k, d, table.length);
    }
    const along = table ? oracle.lossesAlongDirections?.bind(oracle) : undefined;
    const fused = table ? oracle.gradientAlongDirections?.bind(oracle) : undefined;
    // 'table' ĝ: accumulated in float32 in k order (accumulateTableWindows), by the oracle's graph for the
    // groups it serves and in JS for the others — the same bits either way for the same scalars.
    let tableGrad: Float32Array = new Float32Array(0);
    if (table && opts.gradOut?.length === d) tableGrad = opts.gradOut.fill(0);
    else if (table) tableGrad = new Float32Array(d);
    if (table && along) {
      const groupEps = new Float32Array(2 * MAX_GROUP);
      const groupOffsets = new Float64Array(2 * MAX_GROUP);
      let groupOut = new Float32Array(0);
      for (let k0 = 0; k0 < kMax;) {
        while (counts[order[active - 1]!]! <= k0) active--;
        let k1 = k0 + 1;
        while (k1 < kMax && k1 - k0 < MAX_GROUP && counts[order[active - 1]!]! > k1) k1++;
        const rows = order.subarray(0, active);
        const g = 2 * (k1 - k0);
        if (groupOut.length < g * active) groupOut = new Float32Array(g * active);
        const served =
          fused !== undefined &&
          (await fused({
            theta,
            eps,
            offsets: offsets.subarray(k0, k1),
            rows,
            counts,
            grad: tableGrad,
            losses: groupOut,
            scalars: scalars.subarray(k0, k1),
          }));
        if (!served) {
          for (let k = k0; k < k1; k++) {
            const j = 2 * (k - k0);
            groupEps[j] = eps;
            groupEps[j + 1] = -eps;
            groupOffsets[j] = groupOffsets[j + 1] = offsets[k]!;
          }
          await along(theta, groupEps.subarray(0, g), groupOffsets.subarray(0, g), rows, groupOut);
        }
        for (let k = k0; k < k1; k++) {
          const j = 2 * (k - k0);
          const lp = groupOut.subarray(j * active, (j + 1) * active);
          const lm = groupOut.subarray((j + 1) * active, (j + 2) * active);
          // Checks every loss and sums δ² for the allocator either way; the graph's own s_k (same formula in
          // float64, row sum in its order) is what its ĝ used, so that is the one stored for the replay.
          const s = scalarOf(rows, counts, lp, lm, sumSq, eps, step, k) / b;
          if (!served) scalars[k] = s;
        }
        if (!served) {
          accumulateTableWindows(tableGrad, table, offsets.subarray(k0, k1), scalars.subarray(k0, k1));
        }
        k0 = k1;
      }
    } else {
      for (let k = 0; k < kMax; k++) {
        while (counts[order[active - 1]!]! <= k) active--;
        const rows = order.subarray(0, active);
        const lp = lossPlus.subarray(0, active);
        const lm = lossMinus.subarray(0, active);
        if (table) {
          const o = offsets[k]!;
          perturb(theta, table.subarray(o, o + d), eps, plus, minus, 0, d);
        } else {
          // Same stream as spsaDirection(stepSeed, k): the replay regenerates z_k from this seed.
          nextDirection(new Rng(deriveSeed(stepSeed, k)), kind, eps, theta, sc, k > 0 ? scalars[k - 1]! : 0);
        }
        // Sequential on purpose: an oracle may reuse its input and output buffers between calls.
        await oracle.losses(plus, rows, lp);
        await oracle.losses(minus, rows, lm);
        // Accumulated with the stored float32 scalar, exactly as the replay will (in the next pass, or below).
        scalars[k] = scalarOf(rows, counts, lossPlus, lossMinus, sumSq, eps, step, k) / b;
      }
    }
    let grad: Float32Array;
    if (table) {
      if (!along) accumulateTableWindows(tableGrad, table, offsets, scalars);
      grad = tableGrad;
    } else {
      addScaled(acc, z, scalars[kMax - 1]!);
      grad = Float32Array.from(acc);
    }

    // §3.4(a): v̂_i = d · mean_k δ_ik².
    const varianceEstimates = Float64Array.from(sumSq, (q, i) => (d * q) / counts[i]!);
    let total = 0;
    for (const n of counts) total += n;
    const gradFinite = table !== undefined && tableSumIsFinite(scalars, noiseTableMaxAbs(table.length));
    return { grad, rows: 2 * total, varianceEstimates, scalars, gradFinite };
  } finally {
    sc.busy = false;
  }
}

/** Rebuilds ĝ = Σ_k s_k z_k from the stored scalars and the step seed alone; bit-identical to estimateSpsa's. */
export function replaySpsaUpdate(
  scalars: Float32Array,
  stepSeed: number,
  d: number,
  directions: DirectionKind = 'gaussian',
): Float32Array {
  checkDirectionKind(directions);
  if (directions === 'table') {
    const table = noiseTable(noiseTableSize(d));
    const offsets = Array.from(scalars, (_, k) => spsaTableOffset(stepSeed, k, d, table.length));
    return combineTableWindows(table, offsets, scalars, d);
  }
  const z = new Float32Array(d);
  const acc = new Float64Array(d);
  for (let k = 0; k < scalars.length; k++) {
    spsaDirection(stepSeed, k, z, directions);
    addScaled(acc, z, scalars[k]!);
  }
  return Float32Array.from(acc);
}
