// The loop end to end on a small real-valued problem (softmax regression over Gaussian class clusters): it learns,
// counts queries exactly, is a pure function of its seed, resumes bit-identically and stops cleanly on divergence.
import { describe, expect, it } from 'vitest';

import { resolveTrainConfig, type TrainConfigInput } from '../../engine/config.ts';
import { replaySpsaUpdate } from '../../engine/estimators/spsa.ts';
import { globalNorm } from '../../engine/optim.ts';
import { createHeadProblem, evaluateHead, type LabelledFeatures } from '../../engine/problems/head.ts';
import { Rng } from '../../engine/rng.ts';
import { train, type Checkpoint, type StepEvent, type TrainEvent } from '../../engine/train.ts';
import type { TrainingProblem } from '../../engine/train-helpers.ts';

const P = 12;
const CLASSES = 4;

/** Class clusters with unequal spread, so per-sample losses (and gradient variances) differ. */
function clusters(n: number, seed: number): LabelledFeatures {
  const rng = new Rng(seed);
  const centres = new Rng(99);
  const mu = new Float32Array(CLASSES * P);
  centres.fillGaussian(mu);
  const x = new Float32Array(n * P);
  const y = new Int32Array(n);
  const noise = new Float32Array(P);
  for (let i = 0; i < n; i++) {
    const c = i % CLASSES;
    y[i] = c;
    rng.fillGaussian(noise);
    const spread = 0.6 + 1.4 * rng.nextFloat();
    for (let j = 0; j < P; j++) x[i * P + j] = mu[c * P + j]! + spread * noise[j]!;
  }
  return { x, y };
}

const train1 = clusters(512, 1);
const val1 = clusters(256, 2);
const problem = (): TrainingProblem =>
  createHeadProblem({ train: train1, val: val1, classes: CLASSES, initSeed: 5 });

async function run(input: TrainConfigInput, extra: Parameters<typeof train>[2] = {}) {
  const events: TrainEvent[] = [];
  const result = await train(problem(), resolveTrainConfig(input), {
    ...extra,
    onEvent: (e) => {
      events.push(e);
      return extra.onEvent?.(e);
    },
  });
  return { result, steps: events.filter((e): e is StepEvent => e.type === 'step') };
}

const base: TrainConfigInput = { batchSize: 32, budgetPerSample: 4, epochs: 3, seed: 11 };

describe('train', () => {
  it.each([
    ['spsa', 'uniform'],
    ['spsa', 'flops'],
    ['lr', 'flops'],
    ['lr', 'neyman'],
    ['es', 'bernoulli'],
  ] as const)('%s with %s allocation learns the task', async (estimator, kind) => {
    const before = evaluateHead(problem().params.data, val1, P, CLASSES);
    const { result } = await run({
      ...base,
      estimator,
      allocator: { kind },
      optimizer: { kind: 'adam', lr: 0.05 },
      lrSigma: 0.5,
      spsaEps: 1e-2,
    });
    expect(result.status).toBe('completed');
    expect(result.lastEval!.accuracy).toBeGreaterThan(0.85);
    expect(result.lastEval!.accuracy).toBeGreaterThan(before.accuracy + 0.2);
  });

  it('counts queries and forward rows exactly (SPSA: 2N per step; LR: N per step; clean rows B)', async () => {
    const spsa = await run({
      ...base,
      estimator: 'spsa',
      allocator: { kind: 'flops', warmupSteps: 2 },
      maxSteps: 6,
    });
    const lr = await run({
      ...base,
      estimator: 'lr',
      allocator: { kind: 'flops', warmupSteps: 2 },
      maxSteps: 6,
    });
    const N = 32 * 4;
    spsa.steps.forEach((e, i) => {
      expect(e.counts.reduce((a, b) => a + b, 0)).toBe(N);
      expect(e.queries).toBe(2 * N * (i + 1));
      expect(e.forwardRows).toBe((2 * N + 32) * (i + 1));
    });
    lr.steps.forEach((e, i) => {
      expect(e.queries).toBe(N * (i + 1));
      expect(e.forwardRows).toBe((N + 32) * (i + 1));
    });
  });

  it('is a pure function of the seed: identical bytes twice, different with another seed', async () => {
    const cfg = {
      ...base,
      estimator: 'spsa',
      allocator: { kind: 'flops', warmupSteps: 3 },
      maxSteps: 20,
    } as const;
    const a = await run(cfg);
    const b = await run(cfg);
    const c = await run({ ...cfg, seed: 12 });
    expect(Buffer.from(a.result.theta.buffer).equals(Buffer.from(b.result.theta.buffer))).toBe(true);
    expect(Buffer.from(a.result.theta.buffer).equals(Buffer.from(c.result.theta.buffer))).toBe(false);
  });

  it('pauses after a step and resumes bit-identically to an uninterrupted run', async () => {
    // 'table' SPSA takes the loop's other branch (ĝ proven finite, ‖ĝ‖ read in Adam's pass, ĝ buffer reused).
    for (const [estimator, directions] of [
      ['spsa', 'gaussian'],
      ['spsa', 'table'],
      ['lr', 'gaussian'],
    ] as const) {
      const cfg = {
        ...base,
        estimator,
        directions,
        allocator: { kind: 'flops', warmupSteps: 4 },
        epochs: 2,
      } as const;
      const whole = await run(cfg);
      const controller = new AbortController();
      const first = await run(cfg, {
        signal: controller.signal,
        onEvent: (e) => {
          if (e.type === 'step' && e.step === 23) controller.abort('pause'); // mid-epoch 2 (16 steps per epoch)
        },
      });
      expect(first.result.status).toBe('paused');
      const saved: Checkpoint = structuredClone(first.result.checkpoint);
      expect(saved.step).toBe(23);
      const rest = await run(cfg, { resumeFrom: saved });
      expect(rest.result.status).toBe('completed');
      expect(rest.steps[0]!.step).toBe(24);
      // The run's clock continues from the checkpoint rather than restarting at zero.
      expect(rest.steps[0]!.wallMs).toBeGreaterThan(saved.wallMs);
      expect(rest.steps.at(-1)!.queries).toBe(whole.steps.at(-1)!.queries);
      expect(Buffer.from(rest.result.theta.buffer).equals(Buffer.from(whole.result.theta.buffer))).toBe(true);
    }
  });

  it("reports ‖ĝ‖ bit for bit whichever pass reads it, clipping or not ('table' directions)", async () => {
    const cfg = { ...base, estimator: 'spsa', directions: 'table', maxSteps: 8 } as const;
    const d = problem().params.size;
    for (const clipNorm of [undefined, 0.05]) {
      const { result, steps } = await run({ ...cfg, ...(clipNorm && { clipNorm }) });
      expect(result.status).toBe('completed');
      for (const e of steps) {
        expect(e.gradNorm).toBe(globalNorm(replaySpsaUpdate(e.scalars, e.seed, d, 'table')));
      }
      // The clip binds on some steps, so both branches of the loop ran.
      if (clipNorm) expect(steps.some((e) => e.gradNorm > clipNorm)).toBe(true);
    }
  });

  it('stops with status diverged when finite losses give a non-finite ĝ, before θ changes', async () => {
    // Losses of ±3e38 are finite, but δ = 6e38/(2ε) overflows the float32 scalar: ĝ is infinite or NaN.
    const inner = problem();
    let queries = 0;
    let step = 0;
    const poisoned: TrainingProblem = {
      ...inner,
      params: inner.params,
      features: inner.features,
      loadBatch: (ids) => {
        step += 1;
        return inner.loadBatch(ids);
      },
      evaluate: (t) => inner.evaluate(t),
      cleanLosses: (t, out) => inner.cleanLosses(t, out),
      oracle: {
        get batchSize() {
          return inner.oracle.batchSize;
        },
        async losses(theta, rows, out) {
          await inner.oracle.losses(theta, rows, out);
          if (step === 4) out.fill(queries++ % 2 === 0 ? 3e38 : -3e38, 0, rows.length);
        },
      },
    };
    const cfg = resolveTrainConfig({ ...base, estimator: 'spsa', directions: 'table' });
    const result = await train(poisoned, cfg);
    expect(result.status).toBe('diverged');
    expect(result.error?.message).toMatch(/step 4: the gradient estimate is not finite/);
    const three = await run({ ...base, estimator: 'spsa', directions: 'table', maxSteps: 3 });
    expect(Buffer.from(result.theta.buffer).equals(Buffer.from(three.result.theta.buffer))).toBe(true);
  });

  it('stops with status diverged on a NaN loss and keeps the last good parameters', async () => {
    const inner = problem();
    let calls = 0;
    const poisoned: TrainingProblem = {
      ...inner,
      params: inner.params,
      oracle: inner.oracle,
      features: inner.features,
      loadBatch: (ids) => inner.loadBatch(ids),
      evaluate: (t) => inner.evaluate(t),
      async cleanLosses(theta, out) {
        const r = await inner.cleanLosses(theta, out);
        if (++calls === 6) out[3] = Number.NaN;
        return r;
      },
    };
    const events: StepEvent[] = [];
    const result = await train(poisoned, resolveTrainConfig({ ...base, estimator: 'spsa' }), {
      onEvent: (e) => void (e.type === 'step' && events.push(e)),
    });
    expect(result.status).toBe('diverged');
    expect(result.error?.message).toMatch(/step 6: .*not finite/);
    expect(result.checkpoint.step).toBe(5);
    // The returned θ is the one after step 5: replaying 5 steps from scratch gives the same bytes.
    const five = await run({ ...base, estimator: 'spsa', maxSteps: 5 });
    expect(Buffer.from(result.theta.buffer).equals(Buffer.from(five.result.theta.buffer))).toBe(true);
  });
});
