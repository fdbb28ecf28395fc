// T7 (spec §8) end to end on real data: Fashion-MNIST (Debian's dataset-fashion-mnist, installed by CI), a
// 784-32-10 ReLU MLP trained through ONNX Runtime by SPSA and by LR through every layer, Adam, batch 64, n̄ = 10,
// with the FLOPS allocator; then, at the trained θ and with the allocator's learned Φ, the FLOPS allocation's
// gradient-estimate error against the exact (backprop) gradient compared with the uniform allocation's at the
// same budget. Setup shared with `npm run bench` (engine/bench.ts: VARIANCE_MLP, T7_STEPS, flopsRunConfig).
//
// Measured on a 2 vCPU Xeon VM (Node 20, with other jobs running), seeds 1 / 2 / 3, first 20 000
// training images, accuracy on the first 2 000 test images (untrained: 5.3 / 20.0 / 8.0 %):
//   SPSA, 700 steps, Adam 5e-3: 72.1 / 69.9 / 71.5 %   FLOPS/uniform MSE ratio 0.80 / 0.84 / 0.87   10–61 s
//   LR,   600 steps, Adam 1e-3: 78.9 / 79.8 / 79.3 %   FLOPS/uniform MSE ratio 0.77 / 0.75 / 0.72    4–31 s
// (training time: the fast end at a quiet moment, the slow end at load average 11–14). Spec §4.5's band (78–87 %
// with SPSA on MNIST over 8 epochs) is for the easier MNIST and ~10× the steps; LR reaches its lower end here, SPSA
// ~7 points below it. Thresholds sit a few points below the worst seed. SPSA uses Adam 5e-3 rather than §4.5's
// 1e-3: with 1e-3 a 784-64-10 MLP reached 60.2 % after 600 steps (67.8 % with 3e-3).
import { existsSync } from 'node:fs';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  compareAllocatorVariance,
  flopsRunConfig,
  T7_STEPS,
  T7_TRAIN_ROWS,
  t7VarianceBatches,
  VARIANCE_MLP,
} from '../../../engine/bench.ts';
import { loadIdxDataset, type IdxDataset } from '../../../engine/data/idx.ts';
import { buildMlp, buildMlpLr } from '../../../engine/models/mlp.ts';
import {
  createOnnxClassifierProblem,
  type OnnxClassifierProblem,
} from '../../../engine/problems/onnx-classifier.ts';
import { train, type TrainResult } from '../../../engine/train.ts';
import { mlpBackprop } from '../problems/mlp-backprop.ts';

const DIR = '/usr/share/datasets/fashion-mnist';
const FILES = [
  'train-images-idx3-ubyte.gz',
  'train-labels-idx1-ubyte.gz',
  't10k-images-idx3-ubyte.gz',
  't10k-labels-idx1-ubyte.gz',
];
const available = FILES.every((f) => existsSync(`${DIR}/${f}`));
if (!available) {
  console.warn(
    `[e2e] SKIPPED T7: Fashion-MNIST not found in ${DIR} (apt-get install dataset-fashion-mnist); the real-data tests did not run`,
  );
}

const SEED = 1;
const DIMS = [784, ...VARIANCE_MLP.hidden!, 10];

describe.skipIf(!available)('T7 on Fashion-MNIST: MLP 784-32-10, Adam, batch 64, n̄ = 10, FLOPS', () => {
  let trainSet: IdxDataset;
  let testSet: IdxDataset;
  beforeAll(async () => {
    [trainSet, testSet] = await Promise.all([
      loadIdxDataset(`${DIR}/${FILES[0]}`, `${DIR}/${FILES[1]}`, { limit: T7_TRAIN_ROWS }),
      loadIdxDataset(`${DIR}/${FILES[2]}`, `${DIR}/${FILES[3]}`, { limit: 2000 }),
    ]);
  });

  /** Trains one estimator and keeps the problem for the variance comparison that follows. */
  const runs = new Map<string, { problem: OnnxClassifierProblem; result: TrainResult; untrained: number }>();
  afterAll(async () => {
    for (const { problem } of runs.values()) await problem.release();
  });

  async function trainWith(estimator: 'spsa' | 'lr') {
    const mlp = { ...VARIANCE_MLP, seed: SEED };
    const problem = await createOnnxClassifierProblem({
      model: buildMlp(mlp),
      ...(estimator === 'lr' && { lrModel: buildMlpLr(mlp) }),
      train: trainSet,
      val: testSet,
    });
    const untrained = (await problem.evaluate(problem.params.data)).accuracy;
    const t0 = performance.now();
    const result = await train(problem, flopsRunConfig(estimator, T7_STEPS[estimator], SEED));
    const seconds = (performance.now() - t0) / 1000;
    console.log(
      `[e2e] ${estimator}: test accuracy ${(100 * result.lastEval!.accuracy).toFixed(1)} % after ${T7_STEPS[estimator]} steps (untrained ${(100 * untrained).toFixed(1)} %), ${seconds.toFixed(1)} s on ${problem.provider}`,
    );
    runs.set(estimator, { problem, result, untrained });
    return { result, untrained };
  }

  /** Mean ‖ĝ − ∇L_B‖², FLOPS over uniform, on 6 fresh batches × 8 estimates each at the trained θ. */
  async function varianceRatio(estimator: 'spsa' | 'lr') {
    const { problem, result } = runs.get(estimator)!;
    const cmp = await compareAllocatorVariance({
      problem,
      config: flopsRunConfig(estimator, T7_STEPS[estimator], SEED),
      theta: result.theta,
      allocatorState: result.checkpoint.allocator,
      exactGradient: (ids) => {
        const x = new Float32Array(ids.length * 784);
        ids.forEach((id, r) => x.set(trainSet.x.subarray(id * 784, (id + 1) * 784), r * 784));
        return mlpBackprop(
          result.theta,
          DIMS,
          x,
          Array.from(ids, (id) => trainSet.y[id]!),
        ).grad;
      },
      batches: t7VarianceBatches(6),
      repeats: 8,
      seed: 11,
    });
    console.log(
      `[e2e] ${estimator}: gradient MSE FLOPS ${cmp.flops.toPrecision(4)} vs uniform ${cmp.uniform.toPrecision(4)}, ratio ${cmp.ratio.toFixed(3)}`,
    );
    return cmp.ratio;
  }

  it('SPSA learns: well above chance and the untrained model', async () => {
    const { result, untrained } = await trainWith('spsa');
    expect(result.status).toBe('completed');
    expect(result.lastEval!.accuracy).toBeGreaterThan(0.66);
    expect(result.lastEval!.accuracy).toBeGreaterThan(untrained + 0.4);
  }, 180_000);

  it('SPSA: the learned FLOPS allocation has lower gradient error than uniform at the same budget', async () => {
    // Measured 0.80–0.87 over three seeds (0.80 for this one). Early in training (a 784-64-10 MLP after 300 steps)
    // it was 1.09: while per-sample gradients still point alike, SPSA's shared directions gain nothing from an
    // uneven allocation, and FLOPS then learns a smaller α.
    expect(await varianceRatio('spsa')).toBeLessThan(0.95);
  }, 60_000);

  it('LR through every layer learns to the lower end of the §4.5 band', async () => {
    const { result, untrained } = await trainWith('lr');
    expect(result.status).toBe('completed');
    expect(result.lastEval!.accuracy).toBeGreaterThan(0.75);
    expect(result.lastEval!.accuracy).toBeGreaterThan(untrained + 0.5);
  }, 180_000);

  it('LR: the learned FLOPS allocation has clearly lower gradient error than uniform', async () => {
    // Measured 0.72–0.77 over three seeds (0.77 for this one).
    expect(await varianceRatio('lr')).toBeLessThan(0.85);
  }, 60_000);
});
