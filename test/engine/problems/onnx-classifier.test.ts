// The ONNX-backed TrainingProblem: provider reporting, batch gathering, clean losses and accuracy, evaluation and
// its input checks, each against the float64 reference forward pass.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { resolveTrainConfig } from '../../../engine/config.ts';
import { ConfigError, ModelError } from '../../../engine/errors.ts';
import { buildMlp, buildMlpLr, type MlpOptions } from '../../../engine/models/mlp.ts';
import { OnnxLossOracle } from '../../../engine/onnx/oracle-onnx.ts';
import { createSession } from '../../../engine/onnx/session.ts';
import {
  createOnnxClassifierProblem,
  type OnnxClassifierProblem,
} from '../../../engine/problems/onnx-classifier.ts';
import { train } from '../../../engine/train.ts';
import { maxAbsDiff, mlpReference, randomData } from '../models/reference.ts';

const OPTS: MlpOptions = { inDim: 6, hidden: [9], numClasses: 3, seed: 2 };
const trainSet = randomData(50, 6, 3, 1);
const valSet = randomData(30, 6, 3, 2);

let problem: OnnxClassifierProblem;
beforeAll(async () => {
  problem = await createOnnxClassifierProblem({
    model: buildMlp(OPTS),
    lrModel: buildMlpLr(OPTS),
    train: { x: trainSet.x, y: Int32Array.from(trainSet.y, Number) },
    val: valSet,
    providers: ['cuda', 'cpu'],
    intraOpNumThreads: 1,
  });
});
afterAll(() => problem.release());

/** The initial tensors by name, as mlpReference takes them. */
const weights = () =>
  Object.fromEntries(problem.params.specs.map((s) => [s.name, problem.params.view(s.name)]));

function argmaxAccuracy(logits: Float64Array, y: BigInt64Array, classes: number): number {
  let correct = 0;
  for (let r = 0; r < y.length; r++) {
    let best = 0;
    for (let k = 1; k < classes; k++) if (logits[r * classes + k]! > logits[r * classes + best]!) best = k;
    if (BigInt(best) === y[r]) correct++;
  }
  return correct / y.length;
}

describe('ONNX classifier problem', () => {
  it('reports the provider that runs, after the ones that could not', () => {
    expect(['cuda', 'cpu']).toContain(problem.provider);
    expect(problem.tried.at(-1)).toEqual({ name: problem.provider });
    if (problem.provider === 'cpu') expect(problem.tried[0]!.error).toBeTruthy();
    expect(problem.lrLayers!.provider).toBe(problem.provider);
    expect(problem.trainSize).toBe(50);
  });

  it('gathers the batch rows; clean losses and accuracy match the reference forward pass', async () => {
    const ids = Int32Array.from([7, 0, 49, 7, 13]);
    await problem.loadBatch(ids);
    const theta = problem.params.data;
    const out = new Float64Array(5);
    const { accuracy } = await problem.cleanLosses(theta, out);
    const x = new Float32Array(5 * 6);
    ids.forEach((id, r) => x.set(trainSet.x.subarray(id * 6, id * 6 + 6), r * 6));
    const y = BigInt64Array.from(ids, (id) => trainSet.y[id]!);
    const ref = mlpReference(weights(), [6, 9, 3], x, y);
    expect(maxAbsDiff(out, ref.loss)).toBeLessThan(1e-5);
    expect(accuracy).toBe(argmaxAccuracy(ref.logits, y, 3));
    // The loss oracle sees the same batch (rows index into it, repeats allowed).
    const some = new Float32Array(3);
    await problem.oracle.losses(theta, Int32Array.from([4, 0, 0]), some);
    expect(maxAbsDiff(some, [ref.loss[4]!, ref.loss[0]!, ref.loss[0]!])).toBeLessThan(1e-5);
    expect(problem.lrLayers!.batchSize).toBe(5);
  });

  it('evaluates mean loss and accuracy on the validation split', async () => {
    const theta = problem.params.data;
    const ref = mlpReference(weights(), [6, 9, 3], valSet.x, valSet.y);
    const { loss, accuracy } = await problem.evaluate(theta);
    expect(loss).toBeCloseTo(ref.loss.reduce((a, b) => a + b, 0) / 30, 5);
    expect(accuracy).toBe(argmaxAccuracy(ref.logits, valSet.y, 3));
  });

  it('trains with SPSA and with LR through the loop', async () => {
    for (const estimator of ['spsa', 'lr'] as const) {
      const config = resolveTrainConfig({ estimator, batchSize: 10, budgetPerSample: 4, maxSteps: 5 });
      const result = await train(problem, config);
      expect(result.status).toBe('completed');
      expect(result.checkpoint.forwardRows).toBe(5 * (10 + (estimator === 'spsa' ? 80 : 40)));
    }
  });

  it('creates its sessions without spinning pool threads; that changes timing only, not results', async () => {
    const model = buildMlp(OPTS);
    const losses: Float32Array[] = [];
    for (const allowSpinning of [true, false]) {
      const { session } = await createSession(model.bytes, {
        providers: ['cpu'],
        intraOpNumThreads: 2,
        allowSpinning,
      });
      const oracle = new OnnxLossOracle(session, model, problem.params);
      oracle.setBatch(trainSet.x.subarray(0, 8 * 6), trainSet.y.subarray(0, 8));
      const out = new Float32Array(8);
      await oracle.losses(
        problem.params.data,
        Int32Array.from({ length: 8 }, (_, i) => i),
        out,
      );
      losses.push(out);
      await session.release();
    }
    expect(Array.from(losses[1]!)).toEqual(Array.from(losses[0]!));
  });

  it('refuses inconsistent inputs with typed errors', async () => {
    const model = buildMlp(OPTS);
    await expect(
      createOnnxClassifierProblem({ model, train: { x: new Float32Array(7), y: [0] }, val: valSet }),
    ).rejects.toThrow(ConfigError);
    await expect(
      createOnnxClassifierProblem({ model, train: { x: new Float32Array(6), y: [3] }, val: valSet }),
    ).rejects.toThrow(/train: label 3 of row 0 is outside \[0, 3\)/);
    await expect(
      createOnnxClassifierProblem({
        model,
        lrModel: buildMlpLr({ ...OPTS, hidden: [8] }),
        train: trainSet,
        val: valSet,
      }),
    ).rejects.toThrow(ModelError);
  });
});
