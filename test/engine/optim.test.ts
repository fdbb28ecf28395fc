import { describe, expect, it } from 'vitest';

import { ConfigError, FormatError } from '../../engine/errors.ts';
import { Adam, clipGlobalNorm, createOptimizer, globalNorm, lrAt, Sgd } from '../../engine/optim.ts';
import { Rng } from '../../engine/rng.ts';

const adamCfg = { kind: 'adam', beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 } as const;

/** Textbook Adam (Kingma & Ba, Algorithm 1) in float64 with m̂ and v̂ written out, as an independent reference. */
function referenceAdam(
  theta0: number[],
  grads: number[][],
  lr: number,
  b1: number,
  b2: number,
  eps: number,
  wd = 0,
) {
  const theta = [...theta0];
  const m = theta.map(() => 0);
  const v = theta.map(() => 0);
  grads.forEach((g, s) => {
    const t = s + 1;
    for (let j = 0; j < theta.length; j++) {
      const gj = g[j]! + wd * theta[j]!;
      m[j] = b1 * m[j]! + (1 - b1) * gj;
      v[j] = b2 * v[j]! + (1 - b2) * gj * gj;
      const mHat = m[j]! / (1 - b1 ** t);
      const vHat = v[j]! / (1 - b2 ** t);
      theta[j] = theta[j]! - (lr * mHat) / (Math.sqrt(vHat) + eps);
    }
  });
  return theta;
}

function randomVectors(seed: number, count: number, d: number, scale = 1): number[][] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, () => {
    const v = new Float32Array(d);
    rng.fillGaussian(v);
    return Array.from(v, (x) => x * scale);
  });
}

describe('Adam', () => {
  it('takes a first step of exactly lr·sign(g) (bias correction), hand-computed', () => {
    const opt = new Adam(3, adamCfg);
    const theta = Float32Array.from([1, -2, 0.5]);
    opt.step(theta, Float32Array.from([0.3, -4, 1e-3]), 0.01);
    // t = 1: m̂ = g, v̂ = g², so the step is lr·g/(|g| + ε) ≈ lr·sign(g).
    expect(theta[0]).toBeCloseTo(1 - 0.01, 6);
    expect(theta[1]).toBeCloseTo(-2 + 0.01, 6);
    expect(theta[2]).toBeCloseTo(0.5 - (0.01 * 1e-3) / (1e-3 + 1e-8), 6);
  });

  it('matches a float64 reference over 50 steps, with and without weight decay', () => {
    const d = 16;
    const theta0 = randomVectors(1, 1, d)[0]!;
    const grads = randomVectors(2, 50, d, 0.1);
    for (const wd of [0, 0.01]) {
      const opt = new Adam(d, { ...adamCfg, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: wd });
      const theta = Float32Array.from(theta0);
      for (const g of grads) opt.step(theta, Float32Array.from(g), 3e-3);
      const ref = referenceAdam(theta0, grads, 3e-3, 0.8, 0.99, 1e-6, wd);
      // float32 storage of θ, m and v is the only difference.
      for (let j = 0; j < d; j++) expect(Math.abs(theta[j]! - ref[j]!)).toBeLessThan(2e-6);
    }
  });

  it('gives bit for bit the results of the loop it had before adamPass (θ, m and v)', () => {
    // The earlier step body, verbatim: the speed-up must not change a single bit of a run or a checkpoint.
    function before(
      p: Float32Array,
      grad: Float32Array,
      m: Float32Array,
      v: Float32Array,
      t: number,
      lr: number,
      wd: number,
    ) {
      const { beta1, beta2, eps } = adamCfg;
      const stepSize = lr / (1 - beta1 ** t);
      const sqrtBc2 = Math.sqrt(1 - beta2 ** t);
      for (let j = 0; j < p.length; j++) {
        const g = grad[j]! + wd * p[j]!;
        const mj = beta1 * m[j]! + (1 - beta1) * g;
        const vj = beta2 * v[j]! + (1 - beta2) * g * g;
        m[j] = mj;
        v[j] = vj;
        p[j] = p[j]! - (stepSize * mj) / (Math.sqrt(vj) / sqrtBc2 + eps);
      }
    }
    const d = 4096;
    const grads = randomVectors(8, 30, d, 1e-2).map((g) => Float32Array.from(g));
    // Zeros, signed zeros and tiny values in θ and ĝ, where a reordered formula would round differently.
    grads[3]!.fill(0, 0, 64).fill(-0, 64, 128).fill(1e-40, 128, 192);
    for (const wd of [0, 0.01]) {
      const opt = new Adam(d, { ...adamCfg, weightDecay: wd });
      const theta = Float32Array.from(randomVectors(9, 1, d)[0]!);
      theta.fill(-0, 0, 32);
      const ref = theta.slice();
      const m = new Float32Array(d);
      const v = new Float32Array(d);
      grads.forEach((g, s) => {
        opt.step(theta, g, 1e-3);
        before(ref, g, m, v, s + 1, 1e-3, wd);
      });
      const state = opt.getState() as { m: Float32Array; v: Float32Array };
      expect(Buffer.from(theta.buffer).equals(Buffer.from(ref.buffer))).toBe(true);
      expect(Buffer.from(state.m.buffer).equals(Buffer.from(m.buffer))).toBe(true);
      expect(Buffer.from(state.v.buffer).equals(Buffer.from(v.buffer))).toBe(true);
    }
  });

  it('resumes from its state bit-identically', () => {
    const grads = randomVectors(3, 20, 8);
    const a = new Adam(8, adamCfg);
    const ta = new Float32Array(8);
    grads.slice(0, 10).forEach((g) => a.step(ta, Float32Array.from(g), 1e-2));
    const saved = a.getState();
    const tb = ta.slice();
    grads.slice(10).forEach((g) => a.step(ta, Float32Array.from(g), 1e-2));
    const b = new Adam(8, adamCfg);
    b.setState(structuredClone(saved));
    grads.slice(10).forEach((g) => b.step(tb, Float32Array.from(g), 1e-2));
    expect(tb).toEqual(ta);
    // getState is a copy, not a live view.
    expect(saved.kind === 'adam' && saved.t).toBe(10);
    expect(() => b.setState({ kind: 'sgd', t: 0, momentum: new Float32Array(8) })).toThrow(FormatError);
    expect(() => b.setState({ kind: 'adam', t: 1, m: new Float32Array(7), v: new Float32Array(8) })).toThrow(
      /'m' is not a Float32Array of 8/,
    );
  });

  it('rejects bad hyperparameters and mismatched vectors', () => {
    expect(() => new Adam(2, { ...adamCfg, beta1: 1 })).toThrow(ConfigError);
    expect(() => new Adam(2, { ...adamCfg, eps: 0 })).toThrow(/optimizer.eps/);
    const opt = new Adam(2, adamCfg);
    expect(() => opt.step(new Float32Array(3), new Float32Array(3), 0.1)).toThrow(/built for 2 parameters/);
    expect(() => opt.step(new Float32Array(2), new Float32Array(2), Number.NaN)).toThrow(/optimizer.lr/);
  });
});

describe('SGD with momentum', () => {
  it('matches hand-computed heavy-ball steps', () => {
    const opt = new Sgd(1, { kind: 'sgd', momentum: 0.9, weightDecay: 0 });
    const theta = Float32Array.from([1]);
    opt.step(theta, Float32Array.from([2]), 0.1); // buf = 2, θ = 1 − 0.2 = 0.8
    expect(theta[0]).toBeCloseTo(0.8, 6);
    opt.step(theta, Float32Array.from([1]), 0.1); // buf = 1.8 + 1 = 2.8, θ = 0.8 − 0.28 = 0.52
    expect(theta[0]).toBeCloseTo(0.52, 6);
    const nest = new Sgd(1, { kind: 'sgd', momentum: 0.5, weightDecay: 0.1, nesterov: true });
    const t2 = Float32Array.from([2]);
    nest.step(t2, Float32Array.from([1]), 0.1); // g = 1.2, buf = 1.2, update g + 0.5·buf = 1.8
    expect(t2[0]).toBeCloseTo(2 - 0.18, 6);
  });

  it('round-trips its state and is built by createOptimizer from the config shape', () => {
    const opt = createOptimizer({ kind: 'sgd', momentum: 0.9, weightDecay: 0 }, 4);
    expect(opt.kind).toBe('sgd');
    const theta = new Float32Array(4);
    opt.step(theta, Float32Array.from([1, 2, 3, 4]), 0.1);
    const again = createOptimizer({ kind: 'sgd', momentum: 0.9, weightDecay: 0 }, 4);
    again.setState(opt.getState());
    const t1 = theta.slice();
    opt.step(theta, Float32Array.from([1, 1, 1, 1]), 0.1);
    again.step(t1, Float32Array.from([1, 1, 1, 1]), 0.1);
    expect(t1).toEqual(theta);
    expect(createOptimizer(adamCfg, 4).kind).toBe('adam');
  });
});

describe('the sum of squares an optimizer step returns', () => {
  it('is globalNorm(ĝ)² bit for bit (of ĝ as passed, before weight decay), for Adam and SGD', () => {
    const d = 5000;
    const grads = randomVectors(21, 4, d, 3).map((g) => Float32Array.from(g));
    grads[1]!.fill(1e-30, 0, 100).fill(-0, 100, 200); // tiny squares and signed zeros in the sum
    for (const opt of [
      new Adam(d, { ...adamCfg, weightDecay: 0.01 }),
      new Sgd(d, { kind: 'sgd', momentum: 0.9, weightDecay: 0.01, nesterov: true }),
    ]) {
      const theta = Float32Array.from(randomVectors(22, 1, d)[0]!);
      for (const g of grads) {
        const expected = globalNorm(g);
        const sumSq = opt.step(theta, g, 1e-3);
        expect(Math.sqrt(sumSq)).toBe(expected);
      }
    }
  });

  it('is NaN or infinite when an entry is (the caller checks finiteness first when it cannot prove it)', () => {
    const g = Float32Array.from([1, Number.POSITIVE_INFINITY, 2]);
    expect(new Adam(3, adamCfg).step(new Float32Array(3), g, 1e-3)).toBe(Number.POSITIVE_INFINITY);
    g[1] = Number.NaN;
    expect(
      new Sgd(3, { kind: 'sgd', momentum: 0, weightDecay: 0 }).step(new Float32Array(3), g, 1),
    ).toBeNaN();
  });
});

describe('global-norm clipping', () => {
  it('scales down only when the norm exceeds the limit and returns the pre-clip norm', () => {
    const g = Float32Array.from([3, 4]);
    expect(globalNorm(g)).toBe(5);
    expect(clipGlobalNorm(g, 1)).toBe(5);
    expect(g[0]).toBeCloseTo(0.6, 6);
    expect(g[1]).toBeCloseTo(0.8, 6);
    const small = Float32Array.from([0.3, 0.4]);
    clipGlobalNorm(small, 1);
    expect(Array.from(small)).toEqual([Math.fround(0.3), Math.fround(0.4)]);
    const bad = Float32Array.from([1, Number.NaN]);
    expect(clipGlobalNorm(bad, 1)).toBeNaN();
    expect(bad[0]).toBe(1);
    expect(() => clipGlobalNorm(g, 0)).toThrow(ConfigError);
  });
});

describe('learning-rate schedules', () => {
  it('constant', () => {
    expect(lrAt(0, 0.1, { kind: 'constant' })).toBe(0.1);
    expect(lrAt(10_000, 0.1, { kind: 'constant' })).toBe(0.1);
  });

  it('step: γ every k steps, or every k epochs', () => {
    const s = { kind: 'step', gamma: 0.5, everySteps: 3 } as const;
    expect([0, 2, 3, 5, 6, 9].map((t) => lrAt(t, 1, s))).toEqual([1, 1, 0.5, 0.5, 0.25, 0.125]);
    // StepLR(step_size=2 epochs, γ=0.95) with 10 steps per epoch (the reference code's schedule).
    const e = { kind: 'step', gamma: 0.95, everyEpochs: 2, stepsPerEpoch: 10 } as const;
    expect(lrAt(19, 1e-3, e)).toBe(1e-3);
    expect(lrAt(20, 1e-3, e)).toBeCloseTo(0.95e-3, 15);
    expect(lrAt(45, 1e-3, e)).toBeCloseTo(0.95 ** 2 * 1e-3, 15);
    expect(() => lrAt(0, 1, { kind: 'step', gamma: 0.5 })).toThrow(/exactly one of/);
    expect(() => lrAt(0, 1, { kind: 'step', gamma: 0.5, everySteps: 0 })).toThrow(ConfigError);
    expect(() => lrAt(0, 1, { kind: 'step', gamma: 1.5, everySteps: 1 })).toThrow(/schedule.gamma/);
  });

  it('cosine with warm-up', () => {
    const c = { kind: 'cosine', warmupSteps: 4, minLr: 0.1 } as const;
    expect([0, 1, 2, 3].map((t) => lrAt(t, 1, c, 14))).toEqual([0.25, 0.5, 0.75, 1]);
    expect(lrAt(4, 1, c, 14)).toBe(1);
    // Half-way through the decay: minLr + (lr − minLr)/2.
    expect(lrAt(9, 1, c, 14)).toBeCloseTo(0.55, 12);
    expect(lrAt(14, 1, c, 14)).toBeCloseTo(0.1, 12);
    expect(lrAt(100, 1, c, 14)).toBeCloseTo(0.1, 12);
    expect(lrAt(0, 2, { kind: 'cosine' }, 10)).toBe(2);
    expect(() => lrAt(0, 1, { kind: 'cosine' })).toThrow(/finite number of steps/);
    expect(() => lrAt(-1, 1, { kind: 'constant' })).toThrow(ConfigError);
  });
});
