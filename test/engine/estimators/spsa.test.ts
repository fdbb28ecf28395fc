import { describe, expect, it } from 'vitest';

import { InvalidConfigError, resolveTrainConfig } from '../../../engine/config.ts';
import { ConfigError, DivergenceError } from '../../../engine/errors.ts';
import {
  accumulateTableWindows,
  combineTableWindows,
  noiseTable,
  noiseTableMaxAbs,
  noiseTableSize,
  tableOffset,
  tableSumIsFinite,
} from '../../../engine/estimators/directions.ts';
import { estimateSpsa, replaySpsaUpdate, spsaDirection } from '../../../engine/estimators/spsa.ts';
import type { DirectionGradientRequest } from '../../../engine/oracle.ts';
import type { QuadraticOracle } from '../../../engine/oracles/quadratic.ts';
import { deriveSeed, Rng } from '../../../engine/rng.ts';
import {
  allRows,
  distance,
  gaussianVector,
  identity,
  Moments,
  norm,
  PoisonedOracle,
  quadratic,
  randomSpd,
  SpyOracle,
} from './fixtures.ts';

/** (1/B) Σ_i g_i: the gradient of the batch-mean loss, which per-sample averaging must hit for any counts. */
function batchGradient(oracle: QuadraticOracle, theta: Float32Array): Float64Array {
  return oracle.exactGradient(theta, allRows(oracle.batchSize));
}

/** Σ_i (n_i/N) g_i: what row replication would estimate instead (§3.7), to show the test can tell them apart. */
function replicatedGradient(oracle: QuadraticOracle, theta: Float32Array, counts: Int32Array): Float64Array {
  const total = counts.reduce((a, b) => a + b, 0);
  const g = new Float64Array(theta.length);
  counts.forEach((n, i) => {
    const gi = oracle.sampleGradient(theta, i);
    for (let j = 0; j < g.length; j++) g[j] = g[j]! + (n / total) * gi[j]!;
  });
  return g;
}

async function manyEstimates(
  oracle: QuadraticOracle,
  theta: Float32Array,
  counts: Int32Array,
  reps: number,
  centre: ArrayLike<number>,
  directions: 'gaussian' | 'rademacher' = 'gaussian',
) {
  const moments = new Moments(centre);
  const vHat = new Float64Array(counts.length);
  for (let r = 0; r < reps; r++) {
    const est = await estimateSpsa(oracle, theta, counts, deriveSeed(99, r), { eps: 1e-2, directions });
    moments.add(est.grad);
    est.varianceEstimates.forEach((v, i) => (vHat[i] = vHat[i]! + v / reps));
  }
  return { moments, vHat };
}

describe('SPSA with per-sample averaging (§3.7)', () => {
  it('T2: is unbiased on ½θᵀAθ, d = 50, over 10^5 directions', async () => {
    const d = 50;
    const rng = new Rng(2);
    const oracle = quadratic(randomSpd(rng, d), [Array.from({ length: d }, () => 0)]);
    const theta = gaussianVector(rng, d);
    const truth = batchGradient(oracle, theta); // Aθ
    // One sample with n = 10^5: ĝ is exactly the mean of 10^5 single-direction estimates.
    const est = await estimateSpsa(oracle, theta, Int32Array.from([100_000]), 7, { eps: 1e-3 });
    const rel = distance(est.grad, truth) / norm(truth);
    expect(rel).toBeLessThan(0.05);
    expect(est.rows).toBe(200_000);
    expect(est.scalars.length).toBe(100_000);
  });

  it('T2 with Rademacher directions', async () => {
    const d = 50;
    const rng = new Rng(3);
    const oracle = quadratic(randomSpd(rng, d), [Array.from({ length: d }, () => 0)]);
    const theta = gaussianVector(rng, d);
    const truth = batchGradient(oracle, theta);
    const est = await estimateSpsa(oracle, theta, Int32Array.from([50_000]), 8, {
      eps: 1e-3,
      directions: 'rademacher',
    });
    expect(distance(est.grad, truth) / norm(truth)).toBeLessThan(0.05);
  });

  it('shares K = max n_i directions, sample i in the first n_i, exactly 2·Σn_i rows', async () => {
    const d = 5;
    const rng = new Rng(4);
    const centers = Array.from({ length: 4 }, () => Array.from(gaussianVector(rng, d)));
    const inner = quadratic(randomSpd(rng, d), centers);
    const spy = new SpyOracle(inner);
    const counts = Int32Array.from([3, 1, 4, 1]);
    const theta = gaussianVector(rng, d);
    const est = await estimateSpsa(spy, theta, counts, 5, { eps: 1e-2 });
    // Per direction one call at θ+εz_k and one at θ−εz_k over the same rows: {i : n_i > k}.
    const expected = [[2, 0, 1, 3], [2, 0], [2, 0], [2]];
    expect(spy.calls).toEqual(expected.flatMap((rows) => [rows, rows]));
    expect(est.rows).toBe(2 * 9);
    expect(spy.calls.flat().length).toBe(est.rows);
    expect(est.scalars.length).toBe(4);

    // s_k = (1/B) Σ_{i: n_i > k} δ_ik / n_i with z_k from deriveSeed(stepSeed, k); central differences of a
    // quadratic are exact, so δ_ik = z_kᵀ g_i up to float32 rounding of θ ± εz and of the losses.
    const z = new Float32Array(d);
    for (let k = 0; k < 4; k++) {
      spsaDirection(5, k, z, 'gaussian');
      const direct = new Float32Array(d);
      new Rng(deriveSeed(5, k)).fillGaussian(direct);
      expect(z).toEqual(direct);
      let s = 0;
      for (let i = 0; i < 4; i++) {
        if (counts[i]! > k) {
          const gi = inner.sampleGradient(theta, i);
          let delta = 0;
          for (let j = 0; j < d; j++) delta += z[j]! * gi[j]!;
          s += delta / counts[i]!;
        }
      }
      expect(est.scalars[k]).toBeCloseTo(s / 4, 2);
    }
  });

  it('rebuilds ĝ bit for bit from the stored scalars and the step seed alone', async () => {
    const d = 300;
    const rng = new Rng(5);
    const centers = Array.from({ length: 3 }, () => Array.from(gaussianVector(rng, d)));
    const oracle = quadratic(identity(d), centers);
    const theta = gaussianVector(rng, d);
    for (const directions of ['gaussian', 'rademacher'] as const) {
      const est = await estimateSpsa(oracle, theta, Int32Array.from([2, 7, 3]), 1234, {
        eps: 1e-3,
        directions,
      });
      const replay = replaySpsaUpdate(est.scalars, 1234, d, directions);
      expect(new Uint32Array(replay.buffer)).toEqual(new Uint32Array(est.grad.buffer));
      const again = await estimateSpsa(oracle, theta, Int32Array.from([2, 7, 3]), 1234, {
        eps: 1e-3,
        directions,
      });
      expect(again.grad).toEqual(est.grad);
    }
  });

  it('is unbiased for the batch-mean gradient under a non-uniform allocation', async () => {
    const d = 6;
    const rng = new Rng(6);
    // Samples with very different gradients, so the per-sample and the replicated targets are far apart.
    const centers = [0.2, 1, 3, 6].map((s) => Array.from(gaussianVector(rng, d, s)));
    const oracle = quadratic(randomSpd(rng, d), centers);
    const theta = new Float32Array(d);
    const counts = Int32Array.from([8, 4, 2, 1]);
    const truth = batchGradient(oracle, theta);
    const { moments } = await manyEstimates(oracle, theta, counts, 20_000, truth);
    const mean = moments.mean();
    // Standard error of the mean is sqrt(tr Cov / reps) ≈ 0.03·‖truth‖ here; the replicated target is ~0.6 away.
    expect(distance(mean, truth) / norm(truth)).toBeLessThan(0.05);
    const replicated = replicatedGradient(oracle, theta, counts);
    expect(distance(mean, replicated) / norm(truth)).toBeGreaterThan(0.3);
  });

  it('has variance V(n) = (1/B²) Σ (d+1)‖g_i‖²/n_i when the g_i are orthogonal, and E[v̂_i] = d‖g_i‖²', async () => {
    const d = 12;
    const b = 4;
    const scales = [1, 2, 0.5, 3];
    // A = I and θ = 0, so g_i = −c_i; each c_i lives on its own block of 3 coordinates.
    const centers = scales.map((s, i) =>
      Array.from({ length: d }, (_, j) => (Math.floor(j / 3) === i ? s : 0)),
    );
    const oracle = quadratic(identity(d), centers);
    const theta = new Float32Array(d);
    const counts = Int32Array.from([1, 2, 3, 6]);
    const gNormSq = scales.map((s) => 3 * s * s);
    const predicted = gNormSq.reduce((acc, g, i) => acc + ((d + 1) * g) / counts[i]!, 0) / (b * b);
    const { moments, vHat } = await manyEstimates(
      oracle,
      theta,
      counts,
      20_000,
      batchGradient(oracle, theta),
    );
    expect(Math.abs(moments.traceCov() / predicted - 1)).toBeLessThan(0.1);
    gNormSq.forEach((g, i) => expect(Math.abs(vHat[i]! / (d * g) - 1)).toBeLessThan(0.1));
  });

  it('adds the shared-direction covariance (d+1)·g_i·g_j·min(n_i,n_j)/(n_i·n_j) when the g_i are aligned', async () => {
    // Why the orthogonal case above is needed: shared directions correlate samples. With parallel g_i the
    // variance is the V(n) of independent queries plus this cross term.
    const d = 8;
    const b = 3;
    const scales = [1, 2, 3];
    const centers = scales.map((s) => Array.from({ length: d }, () => -s / Math.sqrt(d)));
    const oracle = quadratic(identity(d), centers);
    const theta = new Float32Array(d);
    const counts = Int32Array.from([1, 2, 4]);
    let predicted = 0;
    for (let i = 0; i < b; i++) {
      for (let j = 0; j < b; j++) {
        const gigj = scales[i]! * scales[j]!; // ‖g_i‖ = s_i and all g_i parallel
        const shared =
          i === j ? 1 / counts[i]! : Math.min(counts[i]!, counts[j]!) / (counts[i]! * counts[j]!);
        predicted += ((d + 1) * gigj * shared) / (b * b);
      }
    }
    const { moments } = await manyEstimates(oracle, theta, counts, 20_000, batchGradient(oracle, theta));
    expect(Math.abs(moments.traceCov() / predicted - 1)).toBeLessThan(0.1);
  });

  it('reports bad options as ConfigError and non-finite losses as DivergenceError', async () => {
    const oracle = quadratic(identity(2), [
      [0, 0],
      [1, 1],
    ]);
    const theta = new Float32Array(2);
    const two = Int32Array.from([1, 2]);
    await expect(estimateSpsa(oracle, theta, two, 1, { eps: 0 })).rejects.toThrow(ConfigError);
    await expect(estimateSpsa(oracle, theta, two, 1, { eps: -1e-3 })).rejects.toThrow(/spsaEps: must be/);
    await expect(estimateSpsa(oracle, theta, two, 1, { eps: Number.NaN })).rejects.toThrow(/spsaEps/);
    await expect(estimateSpsa(oracle, theta, Int32Array.from([0, 2]), 1, { eps: 1e-3 })).rejects.toThrow(
      /sample 0 has 0 queries, below nMin = 1/,
    );
    await expect(estimateSpsa(oracle, theta, two, 1, { eps: 1e-3, nMin: 2 })).rejects.toThrow(
      /below nMin = 2/,
    );
    await expect(estimateSpsa(oracle, theta, Int32Array.from([1]), 1, { eps: 1e-3 })).rejects.toThrow(
      /counts: has 1 entries for a batch of 2/,
    );
    await expect(
      estimateSpsa(oracle, theta, two, 1, { eps: 1e-3, directions: 'uniform' as 'gaussian' }),
    ).rejects.toThrow(/directions/);
    const poisoned = new PoisonedOracle(oracle, 1);
    const err = await estimateSpsa(poisoned, theta, two, 1, { eps: 1e-3, step: 17 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DivergenceError);
    expect((err as DivergenceError).step).toBe(17);
    expect((err as Error).message).toMatch(/step 17: .*non-finite loss \(NaN\) for batch row 1 at θ\+εz_0/);
  });
});

/** An oracle with the grouped 'table' fast path, formed in JS: what an ONNX graph variant computes natively. */
class TableFastOracle {
  readonly calls: number[] = [];
  constructor(readonly inner: QuadraticOracle) {}
  get batchSize(): number {
    return this.inner.batchSize;
  }
  losses(theta: Float32Array, rows: Int32Array, out: Float32Array): Promise<void> {
    return this.inner.losses(theta, rows, out);
  }
  async lossesAlongDirections(
    theta: Float32Array,
    eps: Float32Array,
    offsets: ArrayLike<number>,
    rows: Int32Array,
    out: Float32Array,
  ): Promise<void> {
    const d = theta.length;
    const table = noiseTable(noiseTableSize(d));
    const w = new Float32Array(d);
    this.calls.push(eps.length);
    for (let g = 0; g < eps.length; g++) {
      const o = offsets[g]!;
      for (let j = 0; j < d; j++) w[j] = theta[j]! + eps[g]! * table[o + j]!;
      await this.inner.losses(w, rows, out.subarray(g * rows.length, (g + 1) * rows.length));
    }
  }
}

/**
 * The fused 'table' path (losses, scalars and the ĝ update in one call) formed in JS by its contract, declining
 * groups with more than `maxRows` rows, as the ONNX oracle declines work that needs several runs.
 */
class TableGradientOracle extends TableFastOracle {
  readonly served: number[] = [];
  constructor(
    inner: QuadraticOracle,
    readonly maxRows: number,
  ) {
    super(inner);
  }
  async gradientAlongDirections(q: DirectionGradientRequest): Promise<boolean> {
    const k = q.offsets.length;
    const n = q.rows.length;
    if (n > this.maxRows) return false;
    this.served.push(k);
    const eps = Float32Array.from(Array.from({ length: k }, () => [q.eps, -q.eps]).flat());
    const offsets = Array.from(q.offsets).flatMap((o) => [o, o]);
    await this.lossesAlongDirections(q.theta, eps, offsets, q.rows, q.losses);
    for (let j = 0; j < k; j++) {
      let s = 0;
      for (let r = 0; r < n; r++) {
        const delta = (q.losses[2 * j * n + r]! - q.losses[(2 * j + 1) * n + r]!) / (2 * q.eps);
        s += delta / q.counts[q.rows[r]!]!;
      }
      q.scalars[j] = s / this.batchSize;
    }
    accumulateTableWindows(q.grad, noiseTable(noiseTableSize(q.theta.length)), q.offsets, q.scalars);
    return true;
  }
}

describe("SPSA with 'table' directions (shared noise table)", () => {
  it('T2: is unbiased on ½θᵀAθ, d = 50, over 10^5 directions', async () => {
    const d = 50;
    const rng = new Rng(2);
    const oracle = quadratic(randomSpd(rng, d), [Array.from({ length: d }, () => 0)]);
    const theta = gaussianVector(rng, d);
    const truth = batchGradient(oracle, theta);
    const est = await estimateSpsa(oracle, theta, Int32Array.from([100_000]), 7, {
      eps: 1e-3,
      directions: 'table',
    });
    expect(distance(est.grad, truth) / norm(truth)).toBeLessThan(0.05);
    expect(est.rows).toBe(200_000);
  });

  it('draws z_k = table[o_k : o_k + d] with o_k from deriveSeed(stepSeed, k), replayable bit for bit', async () => {
    const d = 300;
    const rng = new Rng(5);
    const centers = Array.from({ length: 3 }, () => Array.from(gaussianVector(rng, d)));
    const oracle = quadratic(identity(d), centers);
    const theta = gaussianVector(rng, d);
    const table = noiseTable(noiseTableSize(d));
    expect(table.length).toBe(1 << 22);
    expect(noiseTableSize(2_000_000)).toBe(1 << 23);
    const z = new Float32Array(d);
    spsaDirection(1234, 3, z, 'table');
    const o = tableOffset(new Rng(deriveSeed(1234, 3)), d, table.length);
    expect(z).toEqual(table.subarray(o, o + d));

    const counts = Int32Array.from([2, 7, 3]);
    const est = await estimateSpsa(oracle, theta, counts, 1234, { eps: 1e-3, directions: 'table' });
    const replay = replaySpsaUpdate(est.scalars, 1234, d, 'table');
    expect(new Uint32Array(replay.buffer)).toEqual(new Uint32Array(est.grad.buffer));
    const again = await estimateSpsa(oracle, theta, counts, 1234, { eps: 1e-3, directions: 'table' });
    expect(new Uint32Array(again.grad.buffer)).toEqual(new Uint32Array(est.grad.buffer));
    expect(again.scalars).toEqual(est.scalars);
  });

  it('gives the same estimate through an oracle fast path, grouping directions with the same rows', async () => {
    const d = 40;
    const rng = new Rng(9);
    const centers = Array.from({ length: 4 }, () => Array.from(gaussianVector(rng, d)));
    const inner = quadratic(randomSpd(rng, d), centers);
    const fast = new TableFastOracle(inner);
    const theta = gaussianVector(rng, d);
    const counts = Int32Array.from([3, 1, 20, 3]);
    const slow = await estimateSpsa(inner, theta, counts, 77, { eps: 1e-3, directions: 'table' });
    const est = await estimateSpsa(fast, theta, counts, 77, { eps: 1e-3, directions: 'table' });
    // Directions 0 (4 rows), 1-2 (3 rows), 3-18 and 19 (1 row, at most 16 directions per call).
    expect(fast.calls).toEqual([2, 4, 32, 2]);
    expect(est.rows).toBe(slow.rows);
    // Same points up to the rounding of θ ± εz (float32 there, float64 in the JS fallback).
    expect(distance(est.grad, slow.grad) / norm(slow.grad)).toBeLessThan(1e-3);
    // And ĝ is still Σ s_k z_k of its own scalars.
    const replay = replaySpsaUpdate(est.scalars, 77, d, 'table');
    expect(new Uint32Array(replay.buffer)).toEqual(new Uint32Array(est.grad.buffer));
  });

  it('uses gradientAlongDirections where the oracle serves a group, the JS combine elsewhere: same bits', async () => {
    const d = 40;
    const rng = new Rng(9);
    const centers = Array.from({ length: 4 }, () => Array.from(gaussianVector(rng, d)));
    const inner = quadratic(randomSpd(rng, d), centers);
    const theta = gaussianVector(rng, d);
    const counts = Int32Array.from([3, 1, 20, 3]);
    const opts = { eps: 1e-3, directions: 'table' as const };
    const reference = await estimateSpsa(new TableFastOracle(inner), theta, counts, 77, opts);
    // Groups: directions 0 (4 rows), 1-2 (3 rows), 3-18 and 19 (1 row). maxRows 1 serves only the last two.
    for (const [maxRows, served] of [
      [1, [16, 1]],
      [4, [1, 2, 16, 1]],
    ] as const) {
      const oracle = new TableGradientOracle(inner, maxRows);
      const est = await estimateSpsa(oracle, theta, counts, 77, opts);
      expect(oracle.served).toEqual(served);
      expect(est.scalars).toEqual(reference.scalars);
      expect(est.varianceEstimates).toEqual(reference.varianceEstimates);
      expect(Buffer.from(est.grad.buffer).equals(Buffer.from(reference.grad.buffer))).toBe(true);
      const replay = replaySpsaUpdate(est.scalars, 77, d, 'table');
      expect(Buffer.from(replay.buffer).equals(Buffer.from(est.grad.buffer))).toBe(true);
    }
  });

  it('accumulates ĝ in float32 within (K+1)·2^-24·Σ_k|s_k z_kj| of the float64 sum, ~1e-7 in norm', () => {
    const d = 5000;
    const table = noiseTable(noiseTableSize(d));
    const rng = new Rng(12);
    for (const kCount of [10, 100]) {
      const offsets = Array.from({ length: kCount }, () => tableOffset(rng, d, table.length));
      // Scalars of mixed sign and magnitude, as SPSA's projected gradients are.
      const scalars = Float32Array.from(
        { length: kCount },
        () => (rng.nextFloat() - 0.5) * 10 ** (4 * rng.nextFloat() - 2),
      );
      const g32 = combineTableWindows(table, offsets, scalars, d);
      const g64 = new Float64Array(d);
      const abs = new Float64Array(d);
      for (let k = 0; k < kCount; k++) {
        for (let j = 0; j < d; j++) {
          const term = scalars[k]! * table[offsets[k]! + j]!;
          g64[j] = g64[j]! + term;
          abs[j] = abs[j]! + Math.abs(term);
        }
      }
      let err = 0;
      let ref = 0;
      for (let j = 0; j < d; j++) {
        const e = Math.abs(g32[j]! - g64[j]!);
        expect(e).toBeLessThanOrEqual((kCount + 1) * 2 ** -24 * abs[j]!);
        err += e * e;
        ref += g64[j]! ** 2;
      }
      // Measured: 5.5e-8 (K = 10) and 1.8e-7 (K = 100); one rounding of the float64 sum (the old combine): 2.6e-8.
      expect(Math.sqrt(err / ref)).toBeLessThan(1e-6);
    }
  });

  it('proves ĝ finite from the scalars only when it is, and writes into the buffer it is given', async () => {
    const d = 2000;
    const table = noiseTable(noiseTableSize(d));
    const maxAbs = noiseTableMaxAbs(table.length);
    expect(maxAbs).toBeGreaterThan(4); // ~5.4 for 2^22 Gaussians
    expect(table.some((v) => Math.abs(v) === maxAbs)).toBe(true);
    const rng = new Rng(4);
    const offsets = Array.from({ length: 4 }, () => tableOffset(rng, d, table.length));
    const finite = (g: Float32Array) => g.every((v) => Number.isFinite(v));
    // Sound: when it says finite, every entry is; 1e36·4 windows is far from float32's 3.4e38.
    for (const scale of [1e-3, 1, 1e30, 1e36]) {
      const scalars = Float32Array.from([1, -0.5, 2, -1], (v) => v * scale);
      expect(tableSumIsFinite(scalars, maxAbs)).toBe(true);
      expect(finite(combineTableWindows(table, offsets, scalars, d))).toBe(true);
    }
    // An overflowing product (1e38·z beyond 3.4e38 for |z| > 3.4) and non-finite scalars are not proven.
    const huge = Float32Array.of(1e38, 0, 0, 0);
    expect(finite(combineTableWindows(table, offsets, huge, d))).toBe(false);
    expect(tableSumIsFinite(huge, maxAbs)).toBe(false);
    expect(tableSumIsFinite(Float32Array.of(1, Number.POSITIVE_INFINITY), maxAbs)).toBe(false);
    expect(tableSumIsFinite([1, Number.NaN], maxAbs)).toBe(false);

    const oracle = quadratic(identity(d), [Array.from(gaussianVector(rng, d))]);
    const theta = gaussianVector(rng, d);
    const counts = Int32Array.from([6]);
    const opts = { eps: 1e-3, directions: 'table' as const };
    const plain = await estimateSpsa(oracle, theta, counts, 8, opts);
    expect(plain.gradFinite).toBe(true);
    const gradOut = new Float32Array(d).fill(7); // stale contents are overwritten, not added to
    const into = await estimateSpsa(oracle, theta, counts, 8, { ...opts, gradOut });
    expect(into.grad).toBe(gradOut);
    expect(Buffer.from(gradOut.buffer).equals(Buffer.from(plain.grad.buffer))).toBe(true);
    // Other direction kinds do not claim it (their ĝ is not bounded by a table).
    expect((await estimateSpsa(oracle, theta, counts, 8, { eps: 1e-3 })).gradFinite).toBe(false);
  });

  it("accepts 'table' in checks and the training config", async () => {
    const oracle = quadratic(identity(2), [[0, 0]]);
    const est = await estimateSpsa(oracle, new Float32Array(2), Int32Array.from([1]), 1, {
      eps: 1e-3,
      directions: 'table',
    });
    expect(est.grad).toHaveLength(2);
    expect(Array.from(est.grad).every(Number.isFinite)).toBe(true);
    expect(est.gradFinite).toBe(true);
    // The training config takes it too, and still rejects an unknown kind.
    expect(resolveTrainConfig({ directions: 'table' }).directions).toBe('table');
    expect(() => resolveTrainConfig({ directions: 'tables' })).toThrow(InvalidConfigError);
  });
});
