// Frozen-prefix reuse on imported ONNX classifiers beyond the head (buildOnnxProblem with and without the cut),
// on the bundled Fashion-MNIST subset through real ORT sessions: the same seed gives the same parameters with and
// without the cut, the queries are counted in suffix rows exactly as many as full-graph rows, the prefix time is
// reported, on a small MLP and on the bundled ViT exported to ONNX with its last block's MLP trainable.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { getDatasetVersion } from '../../../app/db/datasets.ts';
import { buildOnnxProblem } from '../../../app/runs/problem-onnx.ts';
import type { ProblemRequest } from '../../../app/runs/problem.ts';
import type { RunMode } from '../../../app/runs/spec.ts';
import { resolveTrainConfig } from '../../../engine/config.ts';
import { train, type StepEvent } from '../../../engine/train.ts';
import type { TestWorkspace } from './helpers.ts';
import { LAST_MLP, mlpClassifier, onnxWorkspace, writeBundledViTOnnx } from './onnx-helpers.ts';

let ws: TestWorkspace;
let files: string;
let dispose: () => Promise<void>;
let cachePath: string;

beforeAll(async () => {
  ({ ws, files, dispose } = await onnxWorkspace('flops-onnx-cut-'));
  cachePath = getDatasetVersion(ws.ctx.workspace.db, ws.datasetVersionId)!.cachePath!;
  // No preprocessor config beside the ViT: both arms normalise as the dataset's cache says.
  await writeBundledViTOnnx(files, { preprocessorConfig: false });
  writeFileSync(join(files, 'mlp.onnx'), mlpClassifier(5));
});
afterAll(() => dispose());

const request = (file: string, mode: RunMode): ProblemRequest => ({
  modelDir: file,
  datasetCachePath: cachePath,
  mode,
  seed: 1,
  evalSplit: 'test',
  kShot: 40,
  providers: ['cpu'],
  threads: 1,
});

async function trainBoth(file: string, mode: RunMode, steps: number) {
  const config = resolveTrainConfig({
    estimator: 'spsa',
    spsaEps: 1e-2,
    optimizer: { kind: 'adam', lr: 1e-2 },
    allocator: { kind: 'flops', warmupSteps: 2 },
    budgetPerSample: 4,
    batchSize: 16,
    epochs: 1,
    maxSteps: steps,
    seed: 1,
  });
  const out = [];
  for (const prefixReuse of [false, true]) {
    const built = await buildOnnxProblem(request(file, mode), { prefixReuse });
    const events: StepEvent[] = [];
    const result = await train(built.problem, config, {
      onEvent: (e) => {
        if (e.type === 'step') events.push(e);
      },
    });
    const initial = await built.problem.evaluate(built.problem.params.data);
    await (built.problem as { release?: () => Promise<void> }).release?.();
    expect(result.status).toBe('completed');
    out.push({ built, result, events, initial });
  }
  return out as [(typeof out)[0], (typeof out)[0]];
}

describe('frozen-prefix reuse on imported ONNX models', () => {
  it('MLP with fc1.bias and fc2 training: the cut gives the same parameters and counts the same rows', async () => {
    const [full, cut] = await trainBoth(
      join(files, 'mlp.onnx'),
      { kind: 'onnx', trainable: ['fc1.bias', 'fc2.weight', 'fc2.bias'] },
      8,
    );
    expect(full.built.prefixMs).toBe(0);
    expect(cut.built.prefixMs).toBeGreaterThan(0);
    // Each query row is one suffix row instead of one full-graph row: the counts are the same.
    expect(cut.events.map((e) => [e.queries, e.forwardRows])).toEqual(
      full.events.map((e) => [e.queries, e.forwardRows]),
    );
    // Per step: the clean pass (16 rows) and 16 · 4 two-point queries (2 rows each).
    expect(cut.events.at(-1)!.forwardRows).toBe(8 * (16 + 2 * 16 * 4));
    const maxDiff = full.result.theta.reduce((m, v, i) => Math.max(m, Math.abs(v - cut.result.theta[i]!)), 0);
    console.log(`[onnx cut mlp] max |Δθ| after 8 steps: ${maxDiff}`);
    expect(Buffer.from(cut.result.theta.buffer).equals(Buffer.from(full.result.theta.buffer))).toBe(true);
    expect(cut.initial).toEqual(full.initial);
  }, 60_000);

  it('ViT exported to ONNX, last block MLP training: the same parameter bytes, counting the same rows', async () => {
    const steps = 6;
    const [full, cut] = await trainBoth(
      join(files, 'vit', 'model.onnx'),
      { kind: 'onnx', trainable: LAST_MLP },
      steps,
    );
    expect(cut.built.prefixMs).toBeGreaterThan(0);
    expect(cut.events.map((e) => e.forwardRows)).toEqual(full.events.map((e) => e.forwardRows));
    let maxDiff = 0;
    let maxAbs = 0;
    full.result.theta.forEach((v, i) => {
      maxDiff = Math.max(maxDiff, Math.abs(v - cut.result.theta[i]!));
      maxAbs = Math.max(maxAbs, Math.abs(v));
    });
    const same = Buffer.from(cut.result.theta.buffer).equals(Buffer.from(full.result.theta.buffer));
    console.log(
      `[onnx cut vit last-block mlp] identical θ: ${same}, max |Δθ| ${maxDiff.toExponential(2)} (max |θ| ${maxAbs.toFixed(3)}); ` +
        `cut ${cut.built.prefixMs.toFixed(0)} ms for ${cut.built.trainSize + cut.built.evalSize} images`,
    );
    // The suffix runs the same ops on the same values and shapes as the full graph's tail, so ORT computes the same
    // losses bit for bit and SPSA takes the same steps (measured: identical bytes). Were a fusion to differ between
    // the two graphs, the losses would differ in their last bits; maxDiff is logged to show by how much.
    expect(same).toBe(true);
    expect(Math.abs(cut.initial.accuracy - full.initial.accuracy)).toBeLessThanOrEqual(0.002);
    // The speed this buys is a bench figure, not a test: `npm run bench -- --only onnx` (onnx.prefix_reuse_speedup).
  }, 120_000);
});
