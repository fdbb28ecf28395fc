// The learned Gaussian allocator (§3.4): T6 (score-function gradient vs finite differences), T5 (learning on a
// task where v ∝ ℓ²), warm-up, checkpoint state, and its failure modes.
import { describe, expect, it } from 'vitest';

import {
  allocationVariance,
  createAllocator,
  FLOPS_DEFAULTS,
  FlopsAllocator,
  type FlopsConfig,
  gaussianLogDensity,
  neymanOptimum,
  scoreGradient,
  standardise,
  uniformCounts,
} from '../../../engine/allocators/index.ts';
import { cholesky, lowerMatVec } from '../../../engine/allocators/linalg.ts';
import { ConfigError, DivergenceError } from '../../../engine/errors.ts';
import { deriveSeed, Rng } from '../../../engine/rng.ts';
import { gaussian, request, sum } from './helpers.ts';

const flops = (over: Partial<FlopsConfig> = {}): FlopsAllocator =>
  new FlopsAllocator({ kind: 'flops', ...FLOPS_DEFAULTS, ...over });

/** s = μ + chol(K)ξ built independently of the allocator: a draw from the model, so (s − μ)ᵀK⁻¹(s − μ) ≈ B. */
function sampleModel(rng: Rng, u: Float64Array, phi: Float64Array, jitter: number): Float64Array {
  const b = u.length;
  const c = Math.exp(phi[2]!);
  const h = Math.exp(phi[3]!);
  const k = new Float64Array(b * b);
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < b; j++) {
      k[i * b + j] = c * Math.exp(-((u[i]! - u[j]!) ** 2) / (2 * h * h)) + (i === j ? jitter * c + 1e-6 : 0);
    }
  }
  const lxi = lowerMatVec(
    cholesky(k, b)!,
    b,
    Float64Array.from({ length: b }, () => gaussian(rng)),
  );
  return Float64Array.from(u, (ui, i) => phi[0]! * ui + phi[1]! + lxi[i]!);
}

describe('T6: ∇_Φ log p(s) against central finite differences (float64, B = 8)', () => {
  it('agrees to 1e-5 for 50 random Φ, loss vectors and samples', () => {
    const rng = new Rng(66);
    const b = 8;
    const jitter = FLOPS_DEFAULTS.jitter;
    let worst = 0;
    for (let t = 0; t < 50; t++) {
      const u = standardise(Float64Array.from({ length: b }, () => Math.exp(gaussian(rng))));
      const phi = Float64Array.of(
        4 * rng.nextFloat() - 2, // α
        6 * rng.nextFloat() - 2, // β
        2 * rng.nextFloat() - 1, // log c
        2 * rng.nextFloat() - 1, // log h
      );
      const s = sampleModel(rng, u, phi, jitter);
      const grad = scoreGradient(s, u, phi, jitter);
      const h = 1e-5;
      for (let k = 0; k < 4; k++) {
        const up = phi.slice();
        const down = phi.slice();
        up[k] = up[k]! + h;
        down[k] = down[k]! - h;
        const fd = (gaussianLogDensity(s, u, up, jitter) - gaussianLogDensity(s, u, down, jitter)) / (2 * h);
        const err = Math.abs(grad[k]! - fd) / Math.max(1, Math.abs(fd));
        worst = Math.max(worst, err);
        expect(err).toBeLessThan(1e-5);
      }
    }
    expect(worst).toBeLessThan(1e-5);
  });

  it('matches the closed form of a 1-D Gaussian', () => {
    // B = 1: u = 0, K = c(1 + jitter) + 1e-6, log p = −(s − β)²/(2K) − ½ log(2πK).
    const c = 2;
    const k = c * 1.001 + 1e-6;
    const s = Float64Array.of(4.5);
    const u = Float64Array.of(0);
    const phi = [0.7, 3, Math.log(c), 0];
    expect(gaussianLogDensity(s, u, phi, 1e-3)).toBeCloseTo(
      -(1.5 ** 2) / (2 * k) - 0.5 * Math.log(2 * Math.PI * k),
      12,
    );
    const g = scoreGradient(s, u, phi, 1e-3);
    expect(g[0]).toBe(0); // ∂/∂α = r·u = 0
    expect(g[1]).toBeCloseTo(1.5 / k, 12);
    expect(g[2]).toBeCloseTo(0.5 * (1.5 ** 2 / k ** 2 - 1 / k) * c * 1.001, 12);
    expect(g[3]).toBe(0); // D = 0
  });
});

/**
 * A synthetic task where the per-query variance is v_i = 3ℓ_i² (LR without a baseline, §2.6), losses CE-like
 * log-normal. v̂_i is what a step would measure: v_i times a χ²_{n_i}/n_i factor.
 */
function syntheticTask(seed: number, b: number) {
  const rng = new Rng(seed);
  return {
    batch() {
      const losses = Float64Array.from({ length: b }, () => 0.7 * Math.exp(0.8 * gaussian(rng)));
      return { losses, v: losses.map((l) => 3 * l * l) };
    },
    measure(v: Float64Array, n: Int32Array): Float64Array {
      return v.map((vi, i) => {
        let s = 0;
        for (let j = 0; j < n[i]!; j++) s += gaussian(rng) ** 2;
        return (vi * s) / n[i]!;
      });
    },
  };
}

/** Trains Φ for `steps` steps, then compares mean reward −V(n) with the true v over 300 fresh batches. */
function trainAndEvaluate(config: Partial<FlopsConfig>, seed: number, steps: number) {
  const b = 16;
  const budget = 10 * b;
  const task = syntheticTask(seed, b);
  const a = flops(config);
  const untrained = flops({ ...config, warmupSteps: 0 });
  const sampleIds = Int32Array.from({ length: b }, (_, i) => i);
  const req = (losses: Float64Array, step: number) => ({
    ...request(losses, { budget, nMax: 40 }),
    sampleIds,
    step,
    seed: deriveSeed(seed, step),
  });
  for (let step = 0; step < steps; step++) {
    const { losses, v } = task.batch();
    const counts = a.allocate(req(losses, step));
    a.update({ counts, varianceEstimates: task.measure(v, counts), sampleIds });
  }
  const mean = { trained: 0, untrained: 0, uniform: 0, neyman: 0 };
  const evals = 300;
  for (let e = 0; e < evals; e++) {
    const { losses, v } = task.batch();
    const r = req(losses, 1_000_000 + e);
    mean.trained -= allocationVariance(a.allocate(r), v) / evals;
    mean.untrained -= allocationVariance(untrained.allocate(r), v) / evals;
    mean.uniform -= allocationVariance(uniformCounts(b, r), v) / evals;
    mean.neyman -= neymanOptimum(v, budget, { nMin: 1, nMax: 40 }).variance / evals;
  }
  return { alpha: a.phi[0]!, snapshot: a.snapshot(), mean };
}

describe('T5: learning Φ where v ∝ ℓ²', () => {
  it('from a loss-blind start (α = 0), 600 steps learn α > 0 and beat uniform, for 3 task seeds', () => {
    for (const seed of [1, 2, 3]) {
      const { alpha, mean } = trainAndEvaluate({ alpha0: 0 }, seed, 600);
      expect(alpha).toBeGreaterThan(0.3);
      expect(mean.trained).toBeGreaterThan(mean.uniform * 0.93); // rewards are negative: ≥ 7% less variance
      expect(mean.trained).toBeGreaterThan(mean.untrained);
      expect(mean.trained).toBeLessThan(mean.neyman); // the oracle bound
    }
  });

  it('with the default initialisation, 300 steps keep α > 0 and beat uniform by a wide margin', () => {
    const { alpha, mean, snapshot } = trainAndEvaluate({}, 4, 300);
    expect(alpha).toBeGreaterThan(0);
    expect(mean.trained).toBeGreaterThan(mean.uniform * 0.8);
    expect(Object.keys(snapshot).sort()).toEqual(
      [
        'advantage',
        'alpha',
        'beta',
        'logC',
        'logH',
        'reward',
        'rewardBaseline',
        'rewardUniform',
        'warm',
      ].sort(),
    );
  });

  it("the 'relative' reward learns faster: α > 0.6 from α = 0 in 300 steps", () => {
    const { alpha, mean } = trainAndEvaluate({ alpha0: 0, reward: 'relative' }, 5, 300);
    expect(alpha).toBeGreaterThan(0.6);
    expect(mean.trained).toBeGreaterThan(mean.uniform * 0.9);
  });
});

describe('warm-up, determinism and state', () => {
  const losses = Float64Array.from({ length: 12 }, (_, i) => 0.1 * (i + 1));
  const ids = Int32Array.from({ length: 12 }, (_, i) => i);
  const base = request(losses, { budget: 120, nMax: 40 });
  const vhat = losses.map((l) => l * l);

  it('allocates uniformly and leaves Φ alone during warm-up while the baseline settles', () => {
    const a = flops({ warmupSteps: 5 });
    const phi0 = Array.from(a.phi);
    for (let step = 0; step < 5; step++) {
      const n = a.allocate({ ...base, step, seed: step });
      expect(Array.from(n)).toEqual(new Array(12).fill(10));
      a.update({ counts: n, varianceEstimates: vhat, sampleIds: ids });
      expect(a.snapshot().warm).toBe(1);
      expect(a.snapshot().reward).toBe(a.snapshot().rewardUniform); // what the step actually got
    }
    expect(Array.from(a.phi)).toEqual(phi0);
    expect(a.snapshot().rewardBaseline).toBeLessThan(0);
    const n = a.allocate({ ...base, step: 5, seed: 5 });
    expect(a.snapshot().warm).toBe(0);
    expect(Array.from(n)).not.toEqual(new Array(12).fill(10));
    a.update({ counts: n, varianceEstimates: vhat, sampleIds: ids });
    expect(Array.from(a.phi)).not.toEqual(phi0);
  });

  it('continues identically after a JSON round trip of getState()', () => {
    const a = flops({ warmupSteps: 2 });
    const run = (x: FlopsAllocator, from: number, to: number): string[] => {
      const out: string[] = [];
      for (let step = from; step < to; step++) {
        const n = x.allocate({ ...base, step, seed: deriveSeed(9, step) });
        x.update({
          counts: n,
          varianceEstimates: vhat.map((v, i) => v * (1 + ((step + i) % 3))),
          sampleIds: ids,
        });
        out.push(Array.from(n).join(','), JSON.stringify(x.snapshot()));
      }
      return out;
    };
    run(a, 0, 10);
    const saved = JSON.stringify(a.getState());
    const b = flops({ warmupSteps: 2 });
    b.setState(JSON.parse(saved));
    expect(b.getState()).toEqual(a.getState());
    expect(run(b, 10, 30)).toEqual(run(a, 10, 30));
    expect(() => b.setState({ kind: 'neyman', version: 1 })).toThrow(ConfigError);
    expect(() => b.setState({ ...JSON.parse(saved), phi: [1, 2, 3] })).toThrow(/allocator\.state\.phi/);
    expect(() => b.setState({ ...JSON.parse(saved), version: 2 })).toThrow(/version 2 is not supported/);
  });

  it('gives even counts in pairs for antithetic LR', () => {
    const a = flops({ warmupSteps: 0 });
    for (let seed = 0; seed < 50; seed++) {
      const n = a.allocate({ ...base, nMin: 2, granularity: 2, seed });
      expect(sum(n)).toBe(120);
      expect(Array.from(n).every((x) => x % 2 === 0 && x >= 2 && x <= 40)).toBe(true);
    }
  });
});

describe('failure modes', () => {
  it('tied losses (all equal) give a valid allocation thanks to the jitter, even with jitter = 0', () => {
    for (const jitter of [FLOPS_DEFAULTS.jitter, 0]) {
      const a = flops({ warmupSteps: 0, jitter });
      const n = a.allocate(request(new Float64Array(64).fill(2.3), { budget: 640, nMax: 40, seed: 3 }));
      expect(sum(n)).toBe(640);
      a.update({
        counts: n,
        varianceEstimates: new Float64Array(64).fill(1),
        sampleIds: Int32Array.from({ length: 64 }, (_, i) => i),
      });
    }
  });

  it('a NaN or infinite loss is a DivergenceError naming the row, the sample and the step', () => {
    const a = createAllocator({ kind: 'flops' });
    const losses = Float64Array.of(0.1, 0.2, Number.NaN, 0.4);
    const call = () =>
      a.allocate({ ...request(losses, { budget: 40 }), sampleIds: Int32Array.of(5, 6, 7, 8), step: 42 });
    expect(call).toThrow(DivergenceError);
    expect(call).toThrow(
      /^step 42: flops allocator: clean loss of batch row 2 \(sample 7\) is NaN; the model has diverged/,
    );
    try {
      call();
    } catch (e) {
      expect((e as DivergenceError).code).toBe('DIVERGED');
    }
    expect(() => a.allocate(request(Float64Array.of(1, Infinity), { budget: 4 }))).toThrow(/is Infinity/);
  });

  it('refuses feedback without an allocation, for other samples, or with a NaN v̂', () => {
    const a = flops();
    const ids = Int32Array.of(0, 1);
    const fb = { counts: Int32Array.of(2, 2), varianceEstimates: Float64Array.of(1, 1), sampleIds: ids };
    expect(() => a.update(fb)).toThrow(/without a preceding allocate/);
    a.allocate(request(Float64Array.of(1, 2), { budget: 4 }));
    expect(() => a.update({ ...fb, sampleIds: Int32Array.of(0, 3) })).toThrow(/sample ids differ/);
    expect(() => a.update({ ...fb, varianceEstimates: Float64Array.of(1, NaN) })).toThrow(DivergenceError);
  });

  it('validates its config with the field named', () => {
    expect(() => createAllocator({ kind: 'flops', lr: -1 })).toThrow(/allocator\.lr: must be > 0/);
    expect(() => createAllocator({ kind: 'flops', c0: 0 })).toThrow(/allocator\.c0/);
    expect(() => createAllocator({ kind: 'flops', warmupSteps: 1.5 })).toThrow(/allocator\.warmupSteps/);
    expect(() => createAllocator({ kind: 'flops', rewardBaselineDecay: 1 })).toThrow(
      /allocator\.rewardBaselineDecay/,
    );
    expect(() => createAllocator({ kind: 'flops', reward: 'x' as never })).toThrow(/allocator\.reward/);
  });
});
