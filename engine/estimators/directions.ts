// Perturbation directions z drawn from a seed. SPSA, its replay and ES all go through here, so a direction
// regenerated from its seed is bit-identical to the one the estimate was made with.
//
// 'table' directions (OpenAI ES's shared noise table, Salimans et al. 2017): one table of T iid N(0, 1) float32
// values, generated once from a fixed seed, and z = table[o : o + d] for an offset o drawn from the direction's
// seed. Why: in a JS SPSA step, drawing d fresh Gaussians per direction and forming θ ± εz cost far more than the
// 2·64 forward rows ORT runs for it (the 784-128-64-10 MLP spent ~80% of a step there). A window costs one u32.
// Statistical caveat: windows of one table are not independent draws. Each entry is N(0, 1), so E[z] = 0 and
// E[z_j²] = 1 exactly over the offset; but E[zzᵀ]_{jl} = (1/(T−d+1)) Σ_o t_{o+j} t_{o+l} is an empirical
// autocorrelation of the table at lag |j − l|, i.e. I up to O(1/√T) fluctuations (fixed once the table is). ĝ
// is then unbiased for (E[zzᵀ])∇L ≈ ∇L; with T ≥ 2^22 the error per entry is ~5e-4, far below SPSA's own noise.
// This is OpenAI ES's practice; choose 'gaussian' when exact E[zzᵀ] = I matters more than speed.
import { ConfigError } from '../errors.ts';
import { Rng } from '../rng.ts';
import type { DirectionKind } from './types.ts';

export function checkDirectionKind(kind: string): asserts kind is DirectionKind {
  if (kind !== 'gaussian' && kind !== 'rademacher' && kind !== 'table') {
    throw new ConfigError('directions', `must be 'gaussian', 'rademacher' or 'table', got '${kind}'`);
  }
}

/** Seed of the noise table: fixed, so every process (and a replay years later) builds the same table. */
export const NOISE_TABLE_SEED = 0x5eed7ab1;
const MIN_TABLE = 1 << 22;
/** 2^28 float32 = 1 GiB: beyond this a table is no longer a cheap shared cache. */
const MAX_TABLE = 1 << 28;

/** T for d parameters: the smallest power of two ≥ max(4d, 2^22). A function of d alone, so replay agrees. */
export function noiseTableSize(d: number): number {
  let t = MIN_TABLE;
  while (t < 4 * d) t *= 2;
  if (t > MAX_TABLE) {
    throw new ConfigError(
      'directions',
      `'table' needs ${t} noise values for ${d} parameters (limit ${MAX_TABLE})`,
    );
  }
  return t;
}

const tables = new Map<number, Float32Array>();

/** The noise table of size t (cached; built on first use: ~4M Gaussians for the default size). */
export function noiseTable(t: number): Float32Array {
  let table = tables.get(t);
  if (!table) {
    table = new Float32Array(t);
    new Rng(NOISE_TABLE_SEED).fillGaussian(table);
    tables.set(t, table);
  }
  return table;
}

/** Offset of a window of length d in a table of size t, uniform on [0, t − d], from the first draws of rng. */
export function tableOffset(rng: Rng, d: number, t: number): number {
  const span = t - d + 1;
  // span ≤ 2^28: one 53-bit uniform makes the modulo bias negligible (< 2^-25).
  return Math.floor(rng.nextFloat() * span);
}

/** The window z = table[o : o + d] (a view, not a copy) for a direction whose stream is rng. */
export function tableWindow(rng: Rng, d: number): Float32Array {
  const t = noiseTableSize(d);
  const o = tableOffset(rng, d, t);
  return noiseTable(t).subarray(o, o + d);
}

/**
 * ĝ = Σ_k s_k·table[o_k : o_k + d], rounded once to float32. Per entry j the float64 additions run in k order
 * from 0, exactly as an accumulator updated direction by direction would, so estimate and replay agree bit for
 * bit (and with every earlier version of this function).
 *
 * Up to four directions per pass over j, the running sum in a register: the earlier k-outer pass over a float64
 * block (one read-modify-write per direction and entry) ran at ~0.3 G multiply-adds/s on the bench VM and took
 * 40% as long as the forward runs of an SPSA step on the 109k-parameter bench MLP.
 */
export function combineTableWindows(
  table: Float32Array,
  offsets: ArrayLike<number>,
  scalars: ArrayLike<number>,
  d: number,
): Float32Array {
  const kCount = scalars.length;
  // Monomorphic copies: a generic ArrayLike read in the hot loop made this pass 3× slower.
  const o = Int32Array.from({ length: kCount }, (_, k) => offsets[k]!);
  const s = Float64Array.from({ length: kCount }, (_, k) => scalars[k]!);
  // A reused float64 accumulator: a fresh 8·d-byte array per step costs page faults comparable to a pass.
  if (combineScratch.length < d) combineScratch = new Float64Array(d);
  const acc = combineScratch.subarray(0, d);
  acc.fill(0);
  let k = 0;
  for (; k + 4 <= kCount; k += 4) {
    add4(acc, table, d, o[k]!, s[k]!, o[k + 1]!, s[k + 1]!, o[k + 2]!, s[k + 2]!, o[k + 3]!, s[k + 3]!);
  }
  const rest = kCount - k;
  if (rest === 3) add3(acc, table, d, o[k]!, s[k]!, o[k + 1]!, s[k + 1]!, o[k + 2]!, s[k + 2]!);
  else if (rest === 2) add2(acc, table, d, o[k]!, s[k]!, o[k + 1]!, s[k + 1]!);
  else if (rest === 1) add1(acc, table, d, o[k]!, s[k]!);
  return new Float32Array(acc);
}

/** Synchronous use only (no await between fill and copy-out), so one module-level buffer is safe. */
let combineScratch = new Float64Array(0);

// The loops live in their own small functions, each without branches in its body, so that V8 optimises each on
// its own: one generic loop with `if (n > 1)` tests per entry ran 4× slower than these.

/** acc[j] += s0·t[o0+j]; += s1·t[o1+j]; … in that order (acc starts at +0, so the first add is exact). */
function add4(
  acc: Float64Array,
  t: Float32Array,
  d: number,
  o0: number,
  s0: number,
  o1: number,
  s1: number,
  o2: number,
  s2: number,
  o3: number,
  s3: number,
): void {
  for (let j = 0; j < d; j++) {
    let v = acc[j]!;
    v += s0 * t[o0 + j]!;
    v += s1 * t[o1 + j]!;
    v += s2 * t[o2 + j]!;
    v += s3 * t[o3 + j]!;
    acc[j] = v;
  }
}

function add3(
  acc: Float64Array,
  t: Float32Array,
  d: number,
  o0: number,
  s0: number,
  o1: number,
  s1: number,
  o2: number,
  s2: number,
): void {
  for (let j = 0; j < d; j++) {
    let v = acc[j]!;
    v += s0 * t[o0 + j]!;
    v += s1 * t[o1 + j]!;
    v += s2 * t[o2 + j]!;
    acc[j] = v;
  }
}

function add2(
  acc: Float64Array,
  t: Float32Array,
  d: number,
  o0: number,
  s0: number,
  o1: number,
  s1: number,
): void {
  for (let j = 0; j < d; j++) {
    let v = acc[j]!;
    v += s0 * t[o0 + j]!;
    v += s1 * t[o1 + j]!;
    acc[j] = v;
  }
}

function add1(acc: Float64Array, t: Float32Array, d: number, o0: number, s0: number): void {
  for (let j = 0; j < d; j++) acc[j] = acc[j]! + s0 * t[o0 + j]!;
}

/** Fills `out` with a fresh direction from `rng`: N(0, 1), ±1 entries or a noise-table window (E[zzᵀ] ≈ I). */
export function drawDirection(rng: Rng, out: Float32Array, kind: DirectionKind): void {
  if (kind === 'gaussian') rng.fillGaussian(out);
  else if (kind === 'rademacher') rng.fillRademacher(out);
  else out.set(tableWindow(rng, out.length));
}

/** acc += s·z, in float64 so that summing many directions loses nothing before the final rounding. */
export function addScaled(acc: Float64Array, z: Float32Array, s: number): void {
  for (let j = 0; j < acc.length; j++) acc[j] = acc[j]! + s * z[j]!;
}
