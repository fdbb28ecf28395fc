// LR through every layer of an MLP (ULR, spec §2.1) on the real ONNX path: the LR graph (noise inputs at each
// pre-activation, act outputs) and the contraction graph, checked against float64 backprop.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { resolveTrainConfig } from '../../../engine/config.ts';
import { ConfigError, DivergenceError } from '../../../engine/errors.ts';
import { estimateLayersLr, type LayerLrOracle } from '../../../engine/estimators/lr-layers.ts';
import { buildMlp, buildMlpLr, type MlpOptions } from '../../../engine/models/mlp.ts';
import {
  createOnnxClassifierProblem,
  type OnnxClassifierProblem,
} from '../../../engine/problems/onnx-classifier.ts';
import { deriveSeed } from '../../../engine/rng.ts';
import { train } from '../../../engine/train.ts';
import { estimateStep } from '../../../engine/train-helpers.ts';
import { mlpReference, randomData } from '../models/reference.ts';
import { mlpBackprop, weightsOf } from '../problems/mlp-backprop.ts';
import { cosine, distance, Moments, norm } from './fixtures.ts';

const OPTS: MlpOptions = { inDim: 8, hidden: [16, 12], numClasses: 4, seed: 3 };
const DIMS = [8, 16, 12, 4];
const B = 6;
const data = randomData(40, 8, 4, 21);
const ids = Int32Array.from({ length: B }, (_, i) => 3 * i + 1);

let problem: OnnxClassifierProblem;
let oracle: LayerLrOracle;
let batchX: Float32Array;
let batchY: BigInt64Array;
let theta: Float32Array;
let clean: Float64Array;

beforeAll(async () => {
  problem = await createOnnxClassifierProblem({
    model: buildMlp(OPTS),
    lrModel: buildMlpLr(OPTS),
    train: data,
    val: data,
    intraOpNumThreads: 1,
  });
  oracle = problem.lrLayers!;
  await problem.loadBatch(ids);
  batchX = Float32Array.from(
    Array.from(ids).flatMap((id) => Array.from(data.x.subarray(id * 8, id * 8 + 8))),
  );
  batchY = BigInt64Array.from(ids, (id) => data.y[id]!);
  // Non-zero biases, so the ReLU pattern is not symmetric around the origin.
  theta = problem.params.data.slice();
  for (const name of ['b0', 'b1', 'b2']) {
    const o = problem.params.offset(name);
    for (let k = 0; k < problem.params.view(name).length; k++) theta[o + k] = 0.1 * Math.sin(o + 3 * k);
  }
  clean = new Float64Array(B);
  await problem.cleanLosses(theta, clean);
});
afterAll(() => problem.release());

describe('the float64 backprop reference', () => {
  it('matches central finite differences of the reference forward pass', () => {
    const { grad } = mlpBackprop(theta, DIMS, batchX, batchY);
    const meanLoss = (t: Float64Array) => {
      const { loss } = mlpReference(weightsOf(t, DIMS), DIMS, batchX, batchY);
      return loss.reduce((a, b) => a + b, 0) / B;
    };
    const t = Float64Array.from(theta);
    for (const j of [0, 37, 130, 140, 200, 340, grad.length - 1]) {
      const h = 1e-6;
      const plus = t.slice();
      const minus = t.slice();
      plus[j]! += h;
      minus[j]! -= h;
      // weightsOf rounds to float32: perturb by a float32-representable step instead.
      const fd = (meanLoss(plus) - meanLoss(minus)) / (Math.fround(t[j]! + h) - Math.fround(t[j]! - h));
      expect(fd).toBeCloseTo(grad[j]!, 4);
    }
  });
});

describe('LR through every layer', () => {
  it('is unbiased: cosine > 0.99 to the exact gradient of every layer, 1.2·10^5 antithetic queries', async () => {
    const exact = mlpBackprop(theta, DIMS, batchX, batchY).grad;
    const counts = new Int32Array(B).fill(20_000);
    const est = await estimateLayersLr(oracle, theta, counts, 42, { sigma: 1e-3, baseline: clean });
    expect(est.rows).toBe(120_000);
    const c = cosine(est.grad, exact);
    const normErr = Math.abs(norm(est.grad) / norm(exact) - 1);
    // Per layer too, so a layer whose gradient were dropped or scaled wrongly could not hide behind the others.
    const perLayer = ['w0', 'w1', 'w2'].map((name) => {
      const o = problem.params.offset(name);
      const n = problem.params.view(name).length;
      return cosine(est.grad.subarray(o, o + n), exact.subarray(o, o + n));
    });
    console.log(
      `[lr-layers] cosine ${c.toFixed(4)} (per layer ${perLayer.map((v) => v.toFixed(3)).join(', ')}), norm error ${(normErr * 100).toFixed(2)}%`,
    );
    expect(c).toBeGreaterThan(0.99);
    expect(normErr).toBeLessThan(0.05);
    for (const v of perLayer) expect(v).toBeGreaterThan(0.97);
  });

  it('averages per sample: unbiased for the batch-mean gradient under a very uneven allocation', async () => {
    const exact = mlpBackprop(theta, DIMS, batchX, batchY).grad;
    const counts = Int32Array.from([1000, 2000, 4000, 40_000, 12_000, 1000]);
    // What row replication would estimate instead: Σ_i (n_i/N) ∇ℓ_i.
    const replicated = new Float64Array(exact.length);
    for (let i = 0; i < B; i++) {
      const gi = mlpBackprop(theta, DIMS, batchX.subarray(i * 8, i * 8 + 8), batchY.subarray(i, i + 1)).grad;
      for (let j = 0; j < gi.length; j++) replicated[j]! += (counts[i]! / 60_000) * gi[j]!;
    }
    expect(distance(replicated, exact) / norm(exact)).toBeGreaterThan(1);
    const moments = new Moments(exact);
    for (let r = 0; r < 4; r++) {
      const est = await estimateLayersLr(oracle, theta, counts, deriveSeed(9, r), {
        sigma: 1e-3,
        baseline: clean,
      });
      moments.add(est.grad);
    }
    const mean = moments.mean();
    console.log(
      `[lr-layers] uneven allocation: replication would be off by ${(distance(replicated, exact) / norm(exact)).toFixed(3)}; relative error of the mean ${(distance(mean, exact) / norm(exact)).toFixed(4)}, cosine ${cosine(mean, exact).toFixed(4)}`,
    );
    // Measured 0.11 (the statistical error of 2.4·10^5 rows, dominated by the two samples with 1000 queries),
    // against 1.85 for the row-replication estimate: the per-sample average hits the batch-mean gradient.
    expect(cosine(mean, exact)).toBeGreaterThan(0.98);
    expect(distance(mean, exact) / norm(exact)).toBeLessThan(0.2);
  });

  it('pairs ε with −ε within each sample, draws each layer its own noise, and is deterministic', async () => {
    const seen: Float32Array[][] = [];
    const spy: LayerLrOracle = {
      get batchSize() {
        return oracle.batchSize;
      },
      layers: oracle.layers,
      layout: oracle.layout,
      queries: (t, rows, noise, losses, acts) => {
        seen.push(noise.map((n) => n.slice()));
        return oracle.queries(t, rows, noise, losses, acts);
      },
      contract: (...args) => oracle.contract(...args),
    };
    const counts = Int32Array.from([2, 4, 2, 6, 2, 4]);
    const a = await estimateLayersLr(spy, theta, counts, 5, { sigma: 0.1, baseline: clean });
    const b = await estimateLayersLr(spy, theta, counts, 5, { sigma: 0.1, baseline: clean });
    expect(Buffer.from(a.grad.buffer).equals(Buffer.from(b.grad.buffer))).toBe(true);
    expect(a.rows).toBe(20);
    const noise = seen[0]!;
    expect(noise.map((n) => n.length)).toEqual([20 * 16, 20 * 12, 20 * 4]);
    for (const [l, n] of noise.entries()) {
      const m = [16, 12, 4][l]!;
      for (let t = 0; t < 10; t++) {
        for (let k = 0; k < m; k++) expect(n[(2 * t + 1) * m + k]).toBe(-n[2 * t * m + k]!);
      }
      // σ-scaled standard normals.
      const rms = Math.sqrt(n.reduce((s, v) => s + v * v, 0) / n.length);
      expect(rms).toBeGreaterThan(0.07);
      expect(rms).toBeLessThan(0.13);
    }
    expect(noise[1]!.subarray(0, 4)).not.toEqual(noise[2]!.subarray(0, 4));
    const c = await estimateLayersLr(spy, theta, counts, 6, { sigma: 0.1, baseline: clean });
    expect(Buffer.from(c.grad.buffer).equals(Buffer.from(a.grad.buffer))).toBe(false);
  });

  it('reports v̂_i = Σ_l m_l‖a_l‖² · mean δ², which tends to Σ_l m_l‖a_l‖² · Σ_l ‖∂ℓ_i/∂h_l‖² as σ → 0', async () => {
    const ref = mlpBackprop(theta, DIMS, batchX, batchY);
    const counts = new Int32Array(B).fill(4000);
    const est = await estimateLayersLr(oracle, theta, counts, 77, { sigma: 1e-3, baseline: clean });
    for (let i = 0; i < B; i++) {
      let aTerm = 0;
      let gSq = 0;
      for (let l = 0; l < 3; l++) {
        const [p, m] = [DIMS[l]!, DIMS[l + 1]!];
        aTerm += m * norm(ref.acts[l]!.subarray(i * p, (i + 1) * p)) ** 2;
        gSq += norm(ref.deltas[l]!.subarray(i * m, (i + 1) * m)) ** 2;
      }
      expect(Math.abs(est.varianceEstimates[i]! / (aTerm * gSq) - 1)).toBeLessThan(0.08);
    }
  });

  it('works one-sided too (baseline = clean loss)', async () => {
    const exact = mlpBackprop(theta, DIMS, batchX, batchY).grad;
    const counts = new Int32Array(B).fill(30_000);
    const est = await estimateLayersLr(oracle, theta, counts, 8, {
      sigma: 1e-2,
      baseline: clean,
      antithetic: false,
    });
    expect(est.rows).toBe(180_000);
    expect(cosine(est.grad, exact)).toBeGreaterThan(0.97);
  });

  it('refuses bad input with typed errors and stops on a non-finite loss', async () => {
    const counts = new Int32Array(B).fill(2);
    const opts = { sigma: 0.01, baseline: clean };
    await expect(estimateLayersLr(oracle, theta, counts, 1, { ...opts, sigma: 0 })).rejects.toThrow(
      ConfigError,
    );
    await expect(
      estimateLayersLr(oracle, theta, Int32Array.from([2, 2, 3, 2, 2, 2]), 1, opts),
    ).rejects.toThrow(/antithetic pairs need an even count/);
    await expect(estimateLayersLr(oracle, theta, new Int32Array(B).fill(1), 1, opts)).rejects.toThrow(
      /below nMin = 2/,
    );
    await expect(estimateLayersLr(oracle, theta.subarray(1), counts, 1, opts)).rejects.toThrow(
      /theta: has \d+ values/,
    );
    const nanBaseline = clean.slice();
    nanBaseline[2] = Number.NaN;
    await expect(
      estimateLayersLr(oracle, theta, counts, 1, { ...opts, baseline: nanBaseline }),
    ).rejects.toThrow(DivergenceError);
    const poisoned: LayerLrOracle = {
      get batchSize() {
        return oracle.batchSize;
      },
      layers: oracle.layers,
      layout: oracle.layout,
      async queries(t, rows, noise, losses, acts) {
        await oracle.queries(t, rows, noise, losses, acts);
        losses[5] = Number.POSITIVE_INFINITY;
      },
      contract: (...args) => oracle.contract(...args),
    };
    await expect(estimateLayersLr(poisoned, theta, counts, 1, opts)).rejects.toThrow(
      /non-finite loss \(Infinity\) for batch row 2, noisy query 1/,
    );
  });
});

describe('estimateStep dispatch', () => {
  it("uses LR through every layer when the problem has lrLayers and the estimator is 'lr'", async () => {
    const config = resolveTrainConfig({ estimator: 'lr', batchSize: B, budgetPerSample: 4, lrSigma: 1e-3 });
    const counts = new Int32Array(B).fill(4);
    const est = await estimateStep(problem, config, theta, counts, clean, 99, 0);
    expect(est.rows).toBe(24);
    // Every layer gets a gradient, not just the head.
    for (const name of ['w0', 'b0', 'w1', 'w2']) {
      const o = problem.params.offset(name);
      expect(norm(est.grad.subarray(o, o + problem.params.view(name).length))).toBeGreaterThan(0);
    }
    const direct = await estimateLayersLr(oracle, theta, counts, 99, {
      sigma: 1e-3,
      baseline: clean,
      nMin: 2,
    });
    expect(Buffer.from(est.grad.buffer).equals(Buffer.from(direct.grad.buffer))).toBe(true);
  });

  it('trains every layer in the loop, N rows per step', async () => {
    const config = resolveTrainConfig({
      estimator: 'lr',
      batchSize: 8,
      budgetPerSample: 4,
      maxSteps: 3,
      lrSigma: 0.01,
    });
    const steps: number[] = [];
    const result = await train(problem, config, {
      onEvent: (e) => void (e.type === 'step' && steps.push(e.queries)),
    });
    expect(steps).toEqual([32, 64, 96]);
    for (const name of ['w0', 'w1', 'w2']) {
      const o = problem.params.offset(name);
      const n = problem.params.view(name).length;
      expect(
        distance(result.theta.subarray(o, o + n), problem.params.data.subarray(o, o + n)),
      ).toBeGreaterThan(0);
    }
  });
});
