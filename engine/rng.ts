// Seedable random numbers for every draw the engine makes (SPSA directions, LR noise, allocator samples).
// xoshiro128** is used because it is pure 32-bit integer arithmetic (Math.imul, shifts), so the same seed gives the
// same bits on every platform and in every JS engine, with no BigInt on the hot path. Gaussians come from a
// 128-layer ziggurat: one u32 per draw in ~98.8% of cases and no transcendental functions on the fast path, which
// is what makes regenerating SPSA directions from their seed cheaper than storing them.
import { ConfigError } from './errors.ts';

const GOLDEN = 0x9e3779b9;
const TWO32 = 4294967296;

/** murmur3's 32-bit finaliser: a bijection on u32 with full avalanche. */
function fmix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Folds a safe integer (seeds may be entered by users beyond 2^32) into two u32 words. */
function wordsOf(value: number, field: string): [number, number] {
  if (!Number.isSafeInteger(value)) throw new ConfigError(field, `must be a safe integer, got ${value}`);
  return [value >>> 0, Math.floor(value / TWO32) >>> 0];
}

/**
 * A u32 hash of (seed, path). Used to give every step, direction and sample its own independent stream
 * (`deriveSeed(runSeed, step, k)`), so any one of them can be regenerated without replaying the others.
 * Different paths (including different lengths and orders) give unrelated seeds.
 */
export function deriveSeed(seed: number, ...path: number[]): number {
  const [lo, hi] = wordsOf(seed, 'seed');
  let h = fmix32(lo ^ fmix32(hi + GOLDEN));
  for (let i = 0; i < path.length; i++) {
    const [plo, phi] = wordsOf(path[i]!, `seed path[${i}]`);
    // The position enters the hash so that (a, b) and (b, a) differ and a trailing 0 is not a no-op.
    const word = fmix32((plo + Math.imul(i + 1, GOLDEN)) ^ fmix32(phi ^ 0x6a09e667));
    h = fmix32((h ^ word) + Math.imul(h, 5));
  }
  return h;
}

// --- Ziggurat tables (Marsaglia & Tsang 2000, 128 layers), built once in float64. --------------------------
// Layout of the u32 behind one draw: bits 0-6 pick the layer, bit 7 the sign, bits 8-31 a 24-bit uniform
// magnitude. Keeping index, sign and magnitude on disjoint bits avoids the known correlation of the original
// RNOR, which reused the low bits of the magnitude as the layer index; 24 bits is all a float32 can hold anyway.
const LAYERS = 128;
const ZIG_R = 3.442619855899; // right edge of the bottom rectangle
const ZIG_V = 9.91256303526217e-3; // common area of every layer
const M24 = 16777216;

/** kn[i]: the magnitude below which layer i lies entirely under the density (accept without a test). */
const KN = new Float64Array(LAYERS);
/** wn2[i | signBit]: ± width of layer i per unit of the 24-bit magnitude. */
const WN2 = new Float64Array(2 * LAYERS);
/** fn[i]: exp(-x_i^2/2) at the layer's right edge, for the wedge test. */
const FN = new Float64Array(LAYERS);
{
  const wn = new Float64Array(LAYERS);
  let dn = ZIG_R;
  let tn = dn;
  const q = ZIG_V / Math.exp(-0.5 * dn * dn);
  KN[0] = (dn / q) * M24;
  KN[1] = 0;
  wn[0] = q / M24;
  wn[LAYERS - 1] = dn / M24;
  FN[0] = 1;
  FN[LAYERS - 1] = Math.exp(-0.5 * dn * dn);
  for (let i = LAYERS - 2; i >= 1; i--) {
    dn = Math.sqrt(-2 * Math.log(ZIG_V / dn + Math.exp(-0.5 * dn * dn)));
    KN[i + 1] = (dn / tn) * M24;
    tn = dn;
    FN[i] = Math.exp(-0.5 * dn * dn);
    wn[i] = dn / M24;
  }
  for (let i = 0; i < LAYERS; i++) {
    WN2[i] = wn[i]!;
    WN2[i + LAYERS] = -wn[i]!;
  }
}

/** KN rounded up: for an integer u, u < ceil(k) exactly when u < k, and an int compare is cheaper. */
const KN_INT = Int32Array.from(KN, Math.ceil);

function checkState(state: readonly number[]): void {
  if (state.length !== 4 || !state.every((w) => Number.isInteger(w) && w >= 0 && w < TWO32)) {
    throw new ConfigError('rng.state', 'must be four u32 words');
  }
  if (state.every((w) => w === 0)) throw new ConfigError('rng.state', 'the all-zero state is not allowed');
}

export class Rng {
  // Int32 words: Math.imul and the shifts produce int32, and an Int32Array stores them without boxing.
  readonly #s = new Int32Array(4);

  constructor(seed: number) {
    // splitmix32: a Weyl sequence through fmix32. Four consecutive Weyl values are distinct and fmix32 is a
    // bijection, so at most one word is zero and the forbidden all-zero state cannot occur.
    const [lo, hi] = wordsOf(seed, 'seed');
    let x = (lo ^ fmix32(hi)) >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + GOLDEN) >>> 0;
      this.#s[i] = fmix32(x);
    }
  }

  static fromState(state: readonly number[]): Rng {
    checkState(state);
    const rng = new Rng(0);
    for (let i = 0; i < 4; i++) rng.#s[i] = state[i]!;
    return rng;
  }

  /** The four u32 state words; `Rng.fromState(getState())` continues the stream exactly. */
  getState(): number[] {
    return Array.from(this.#s, (w) => w >>> 0);
  }

  /** The next output as an int32 (same bits as nextU32). */
  #next(): number {
    const s = this.#s;
    const s0 = s[0]!;
    const s1 = s[1]!;
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9);
    const t = s1 << 9;
    const s2 = s[2]! ^ s0;
    const s3 = s[3]! ^ s1;
    s[1] = s1 ^ s2;
    s[0] = s0 ^ s3;
    s[2] = s2 ^ t;
    s[3] = (s3 << 11) | (s3 >>> 21);
    return result;
  }

  nextU32(): number {
    return this.#next() >>> 0;
  }

  /** Uniform on [0, 1) with 53 random bits. */
  nextFloat(): number {
    const hi = this.#next() >>> 5;
    const lo = this.#next() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform on the open interval (0, 1) from one u32: safe under log(). */
  #openUnit(): number {
    return ((this.#next() >>> 0) + 0.5) / TWO32;
  }

  /** Standard normal draws. Each call consumes whole u32s of the stream; no spare value is carried over. */
  fillGaussian(out: Float32Array): void {
    const st = this.#s;
    let s0 = st[0]!;
    let s1 = st[1]!;
    let s2 = st[2]!;
    let s3 = st[3]!;
    const kn = KN_INT;
    const wn = WN2;
    const n = out.length;
    for (let i = 0; i < n; i++) {
      // xoshiro128** inlined: the state stays in registers for the whole fast path.
      const m = Math.imul(s1, 5);
      const r = Math.imul((m << 7) | (m >>> 25), 9);
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      const u = r >>> 8;
      if (u < kn[r & 127]!) {
        out[i] = u * wn[r & 255]!;
      } else {
        st[0] = s0;
        st[1] = s1;
        st[2] = s2;
        st[3] = s3;
        out[i] = this.#gaussianSlow(r);
        s0 = st[0]!;
        s1 = st[1]!;
        s2 = st[2]!;
        s3 = st[3]!;
      }
    }
    st[0] = s0;
    st[1] = s1;
    st[2] = s2;
    st[3] = s3;
  }

  /** Tail and wedge cases of the ziggurat (about 1.2% of draws), for a first u32 `r` that missed the fast path. */
  #gaussianSlow(r: number): number {
    for (;;) {
      const layer = r & 127;
      const sign = r & 128 ? -1 : 1;
      const x = (r >>> 8) * WN2[layer]!;
      if (layer === 0) {
        // Marsaglia's tail method: exact for x > R.
        let tx: number;
        let ty: number;
        do {
          tx = -Math.log(this.#openUnit()) / ZIG_R;
          ty = -Math.log(this.#openUnit());
        } while (ty + ty < tx * tx);
        return sign * (ZIG_R + tx);
      }
      const f0 = FN[layer]!;
      if (f0 + this.#openUnit() * (FN[layer - 1]! - f0) < Math.exp(-0.5 * x * x)) return sign * x;
      r = this.#next();
      if (r >>> 8 < KN[r & 127]!) return (r >>> 8) * WN2[r & 255]!;
    }
  }

  /** ±1 with equal probability, 32 signs per u32 (low bit first); a partial word's unused bits are dropped. */
  fillRademacher(out: Float32Array): void {
    const n = out.length;
    for (let i = 0; i < n; i += 32) {
      const bits = this.#next();
      const end = Math.min(32, n - i);
      for (let b = 0; b < end; b++) out[i + b] = 1 - 2 * ((bits >>> b) & 1);
    }
  }
}
