import { describe, expect, it } from 'vitest';

import { ConfigError } from '../../engine/errors.ts';
import { deriveSeed, Rng } from '../../engine/rng.ts';

// An independent reimplementation in BigInt arithmetic (no Math.imul, no int32 tricks), written from the
// published definitions, so that a shared mistake in the bit twiddling cannot make both sides agree.
const MASK = 0xffffffffn;
const mul32 = (a: bigint, b: bigint): bigint => (a * b) & MASK;
const rotl = (x: bigint, k: bigint): bigint => ((x << k) | (x >> (32n - k))) & MASK;
function fmix(x: bigint): bigint {
  x = mul32(x ^ (x >> 16n), 0x85ebca6bn);
  x = mul32(x ^ (x >> 13n), 0xc2b2ae35n);
  return x ^ (x >> 16n);
}
function refSeedState(seed: number): bigint[] {
  let x = BigInt(seed) ^ fmix(0n); // the seed's high word is 0 for seeds below 2^32
  return [0, 1, 2, 3].map(() => {
    x = (x + 0x9e3779b9n) & MASK;
    return fmix(x);
  });
}
function refXoshiro(state: bigint[], count: number): number[] {
  const s = [...state];
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    out.push(Number(mul32(rotl(mul32(s[1]!, 5n), 7n), 9n)));
    const t = (s[1]! << 9n) & MASK;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11n);
  }
  return out;
}

/** Standard normal CDF to ~1e-14: Taylor series of erf near 0, Lentz continued fraction for erfc in the tails. */
function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  let erfc: number;
  if (z < 2.5) {
    let term = z;
    let sum = z;
    for (let n = 1; n < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
      term *= (-z * z) / n;
      sum += term / (2 * n + 1);
    }
    erfc = 1 - (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    // erfc(z) = exp(-z^2)/sqrt(pi) * 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + ...)))), evaluated bottom-up.
    let f = z;
    for (let k = 80; k >= 1; k--) f = z + k / 2 / f;
    erfc = Math.exp(-z * z) / Math.sqrt(Math.PI) / f;
  }
  return x >= 0 ? 1 - erfc / 2 : erfc / 2;
}

function gaussians(seed: number, n: number): Float32Array {
  const out = new Float32Array(n);
  new Rng(seed).fillGaussian(out);
  return out;
}

describe('xoshiro128** and seeding', () => {
  it('matches the reference outputs for state {1,2,3,4} and an independent BigInt implementation', () => {
    const rng = Rng.fromState([1, 2, 3, 4]);
    const got = Array.from({ length: 1000 }, () => rng.nextU32());
    // The first outputs of the reference C code (Blackman & Vigna) for this state.
    expect(got.slice(0, 4)).toEqual([11520, 0, 5927040, 70819200]);
    expect(got).toEqual(refXoshiro([1n, 2n, 3n, 4n], 1000));
  });

  it('seeds through splitmix32 and gives the same golden bits on every run', () => {
    const rng = new Rng(42);
    const state = rng.getState();
    expect(state).toEqual(refSeedState(42).map(Number));
    expect(state).toEqual([939911724, 3948730756, 321366731, 3317318717]);
    const first = Array.from({ length: 6 }, () => rng.nextU32());
    expect(first).toEqual([2837322924, 544945897, 479756282, 3500138142, 339756180, 113173290]);
    expect(first).toEqual(refXoshiro(refSeedState(42), 6));
    const again = new Rng(42);
    expect(Array.from({ length: 6 }, () => again.nextU32())).toEqual(first);
  });

  it('gives golden Gaussian and Rademacher values for a fixed seed', () => {
    expect(Array.from(gaussians(42, 8))).toEqual([
      -0.8345016241073608, -0.2805421054363251, -0.31534847617149353, -0.8653889894485474,
      -0.07087193429470062, 0.03255961090326309, -0.020451698452234268, 0.2828506529331207,
    ]);
    const r = new Float32Array(8);
    new Rng(7).fillRademacher(r);
    expect(Array.from(r)).toEqual([1, 1, 1, 1, 1, -1, 1, 1]);
  });

  it('derives u32 seeds that depend on every path element, its position and the path length', () => {
    expect(deriveSeed(42)).toBe(2695453446);
    expect(deriveSeed(42, 0)).toBe(2935812956);
    expect(deriveSeed(42, 1, 2)).toBe(3932874853);
    expect(deriveSeed(42, 2, 1)).toBe(3006756844);
    const seen = new Set<number>();
    for (let step = 0; step < 300; step++) {
      for (let k = 0; k < 30; k++) {
        const s = deriveSeed(7, step, k);
        expect(Number.isInteger(s) && s >= 0 && s < 2 ** 32).toBe(true);
        seen.add(s);
      }
    }
    expect(seen.size).toBe(9000);
    expect(deriveSeed(2 ** 40 + 5, 1)).not.toBe(deriveSeed(5, 1));
    expect(() => deriveSeed(1.5)).toThrow(ConfigError);
    expect(() => deriveSeed(1, Number.NaN)).toThrow(/seed path\[0\]/);
  });

  it('round-trips its state and resumes the stream exactly', () => {
    const rng = new Rng(123);
    const warm = new Float32Array(1001);
    rng.fillGaussian(warm);
    rng.nextFloat();
    const state = rng.getState();
    const a = new Float32Array(5000);
    rng.fillGaussian(a);
    const b = new Float32Array(5000);
    const resumed = Rng.fromState(state);
    resumed.fillGaussian(b);
    expect(b).toEqual(a);
    expect(resumed.nextU32()).toBe(rng.nextU32());
    expect(() => Rng.fromState([0, 0, 0, 0])).toThrow(ConfigError);
    expect(() => Rng.fromState([1, 2, 3])).toThrow(/four u32 words/);
    expect(() => Rng.fromState([1, 2, 3, -1])).toThrow(ConfigError);
  });

  it('does not depend on how a Gaussian fill is split into calls', () => {
    const whole = gaussians(9, 4000);
    const rng = new Rng(9);
    const parts = [1, 299, 1700, 2000].map((n) => {
      const p = new Float32Array(n);
      rng.fillGaussian(p);
      return Array.from(p);
    });
    expect(Float32Array.from(parts.flat())).toEqual(whole);
  });
});

describe('distributions', () => {
  it('has standard normal moments on 10^6 draws', () => {
    const n = 1_000_000;
    const x = gaussians(2024, n);
    let m1 = 0;
    for (let i = 0; i < n; i++) m1 += x[i]!;
    m1 /= n;
    let m2 = 0;
    let m3 = 0;
    let m4 = 0;
    for (let i = 0; i < n; i++) {
      const d = x[i]! - m1;
      const d2 = d * d;
      m2 += d2;
      m3 += d2 * d;
      m4 += d2 * d2;
    }
    m2 /= n;
    m3 /= n;
    m4 /= n;
    // Standard errors at n = 10^6: mean 0.001, variance 0.0014, skewness 0.0025, kurtosis 0.0049.
    expect(Math.abs(m1)).toBeLessThan(0.005);
    expect(Math.abs(m2 - 1)).toBeLessThan(0.007);
    expect(Math.abs(m3 / m2 ** 1.5)).toBeLessThan(0.0125);
    expect(Math.abs(m4 / (m2 * m2) - 3)).toBeLessThan(0.025);
  });

  it('passes a Kolmogorov-Smirnov test against the normal CDF on 10^6 draws', () => {
    const n = 1_000_000;
    const x = gaussians(77, n).sort();
    let dMax = 0;
    for (let i = 0; i < n; i++) {
      const f = normalCdf(x[i]!);
      dMax = Math.max(dMax, Math.abs(f - i / n), Math.abs((i + 1) / n - f));
    }
    // Critical value at alpha = 0.001 is 1.95/sqrt(n).
    expect(dMax).toBeLessThan(1.95 / Math.sqrt(n));
  });

  it('has the right tail mass and tail shape beyond the ziggurat edge (10^7 draws)', () => {
    const n = 10_000_000;
    const x = gaussians(5, n);
    const R = 3.442619855899;
    const tail: number[] = [];
    const over = [0, 0, 0];
    const cuts = [3, 4, 4.5];
    for (let i = 0; i < n; i++) {
      const a = Math.abs(x[i]!);
      if (a > 3) {
        for (let c = 0; c < 3; c++) if (a > cuts[c]!) over[c]!++;
        if (a > R) tail.push(a);
      }
    }
    for (let c = 0; c < 3; c++) {
      const p = 2 * (1 - normalCdf(cuts[c]!));
      const sd = Math.sqrt(n * p * (1 - p));
      expect(Math.abs(over[c]! - n * p)).toBeLessThan(4.5 * sd);
    }
    // Conditional law of |x| given |x| > R, against the exact truncated normal.
    tail.sort((a, b) => a - b);
    const m = tail.length;
    const q = 1 - normalCdf(R);
    let dMax = 0;
    for (let i = 0; i < m; i++) {
      const f = (normalCdf(tail[i]!) - normalCdf(R)) / q;
      dMax = Math.max(dMax, Math.abs(f - i / m), Math.abs((i + 1) / m - f));
    }
    expect(m).toBeGreaterThan(5000);
    expect(dMax).toBeLessThan(1.95 / Math.sqrt(m));
  });

  it('draws balanced, independent Rademacher signs', () => {
    const n = 1_000_003;
    const r = new Float32Array(n);
    new Rng(11).fillRademacher(r);
    let sum = 0;
    let lag = 0;
    let bad = 0;
    for (let i = 0; i < n; i++) {
      if (r[i] !== 1 && r[i] !== -1) bad++;
      sum += r[i]!;
      if (i > 0) lag += r[i]! * r[i - 1]!;
    }
    expect(bad).toBe(0);
    expect(Math.abs(sum)).toBeLessThan(5 * Math.sqrt(n));
    expect(Math.abs(lag)).toBeLessThan(5 * Math.sqrt(n));
    // 33 signs use exactly two u32 words of the stream.
    const a = new Rng(3);
    a.fillRademacher(new Float32Array(33));
    const b = new Rng(3);
    b.nextU32();
    b.nextU32();
    expect(a.nextU32()).toBe(b.nextU32());
  });

  it('draws uniform floats in [0, 1)', () => {
    const rng = new Rng(8);
    const n = 200_000;
    let sum = 0;
    let sumSq = 0;
    let outside = 0;
    for (let i = 0; i < n; i++) {
      const u = rng.nextFloat();
      if (!(u >= 0 && u < 1)) outside++;
      sum += u;
      sumSq += u * u;
    }
    expect(outside).toBe(0);
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / n));
    expect(Math.abs(sumSq / n - 1 / 3)).toBeLessThan(0.003);
  });
});
