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

const maxAbs = new Map<number, number>();

/** max_j |table[j]| of noiseTable(t) (cached): bounds every window's entries, for SPSA's finiteness proof. */
export function noiseTableMaxAbs(t: number): number {
  let m = maxAbs.get(t);
  if (m === undefined) {
    const table = noiseTable(t);
    m = 0;
    for (let j = 0; j < table.length; j++) m = Math.max(m, Math.abs(table[j]!));
    maxAbs.set(t, m);
  }
  return m;
}

/**
 * Whether accumulateTableWindows from zero with these scalars is finite in every entry, decided from the
 * scalars alone: each product and partial sum is at most (Σ_k |s_k|)·maxAbs·(1 + 2⁻²³)^(2K) in magnitude (one
 * rounding per product and per sum, each ≤ 2⁻²⁴ relative), so below 2^127 < FLT_MAX nothing overflows, and sums
 * of finite float32 values without overflow cannot be NaN. Conservative: false only means "not proven" (a
 * caller then checks the vector itself), never that an entry is non-finite.
 */
export function tableSumIsFinite(scalars: ArrayLike<number>, maxAbs: number): boolean {
  let sum = 0;
  for (let k = 0; k < scalars.length; k++) sum += Math.abs(Math.fround(scalars[k]!));
  return sum * maxAbs * (1 + 2 ** -23) ** (2 * scalars.length) < 2 ** 127;
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
 * ĝ = Σ_k s_k·table[o_k : o_k + d] in float32 (accumulateTableWindows from zero): what estimateSpsa returns for
 * 'table' directions and what replaySpsaUpdate rebuilds from the stored scalars.
 */
export function combineTableWindows(
  table: Float32Array,
  offsets: ArrayLike<number>,
  scalars: ArrayLike<number>,
  d: number,
): Float32Array {
  const acc = new Float32Array(d);
  accumulateTableWindows(acc, table, offsets, scalars);
  return acc;
}

/**
 * acc[j] ← fround(acc[j] + fround(s_k·table[o_k + j])) for k = 0, 1, … in order, with s_k = fround(scalars[k]).
 *
 * Why float32 with each product and sum rounded once: that is exactly what an ONNX graph computes with a float32
 * Mul then Add (IEEE, no fused multiply-add), so the SPSA combine can run inside the table graph while each
 * window is in cache (engine/onnx/table-graph.ts, the gradient option) and still be rebuilt bit for bit here,
 * from the stored scalars, by the JS fallback and by the replay. (In JS, fround of a float64 product or sum of two
 * float32 values is the correctly rounded float32 result: 53 ≥ 2·24 + 2 bits make the double rounding exact.)
 * Against the float64 accumulation this replaced, the relative error is ~K·2^-24 per entry (bounded in
 * test/engine/estimators/spsa.test.ts); SPSA's own noise is orders of magnitude larger.
 *
 * Up to four directions per pass over j, the running sum in a register: a k-outer pass (one read-modify-write
 * per direction and entry) was 2× slower on the bench VM.
 */
export function accumulateTableWindows(
  acc: Float32Array,
  table: Float32Array,
  offsets: ArrayLike<number>,
  scalars: ArrayLike<number>,
): void {
  const d = acc.length;
  const kCount = scalars.length;
  // Monomorphic copies: a generic ArrayLike read in the hot loop made this pass 3× slower.
  const o = Int32Array.from({ length: kCount }, (_, k) => offsets[k]!);
  const s = Float64Array.from({ length: kCount }, (_, k) => Math.fround(scalars[k]!));
  let k = 0;
  for (; k + 4 <= kCount; k += 4) {
    add4(acc, table, d, o[k]!, s[k]!, o[k + 1]!, s[k + 1]!, o[k + 2]!, s[k + 2]!, o[k + 3]!, s[k + 3]!);
  }
  const rest = kCount - k;
  if (rest === 3) add3(acc, table, d, o[k]!, s[k]!, o[k + 1]!, s[k + 1]!, o[k + 2]!, s[k + 2]!);
  else if (rest === 2) add2(acc, table, d, o[k]!, s[k]!, o[k + 1]!, s[k + 1]!);
  else if (rest === 1) add1(acc, table, d, o[k]!, s[k]!);
}

// The loops live in their own small functions, each without branches in its body, so that V8 optimises each on
// its own: one generic loop with `if (n > 1)` tests per entry ran 4× slower than these.
const f = Math.fround;

/** acc[j] = f(f(f(acc[j] + f(s0·t[o0+j])) + f(s1·t[o1+j])) …): the float32 Mul-then-Add of the graph, per k. */
function add4(
  acc: Float32Array,
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
    v = f(v + f(s0 * t[o0 + j]!));
    v = f(v + f(s1 * t[o1 + j]!));
    v = f(v + f(s2 * t[o2 + j]!));
    acc[j] = v + f(s3 * t[o3 + j]!);
  }
}

function add3(
  acc: Float32Array,
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
    v = f(v + f(s0 * t[o0 + j]!));
    v = f(v + f(s1 * t[o1 + j]!));
    acc[j] = v + f(s2 * t[o2 + j]!);
  }
}

function add2(
  acc: Float32Array,
  t: Float32Array,
  d: number,
  o0: number,
  s0: number,
  o1: number,
  s1: number,
): void {
  for (let j = 0; j < d; j++) {
    const v = f(acc[j]! + f(s0 * t[o0 + j]!));
    acc[j] = v + f(s1 * t[o1 + j]!);
  }
}

/** The last sum of each loop is rounded by the Float32Array store itself. */
function add1(acc: Float32Array, t: Float32Array, d: number, o0: number, s0: number): void {
  for (let j = 0; j < d; j++) acc[j] = acc[j]! + f(s0 * t[o0 + j]!);
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
