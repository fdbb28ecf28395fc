// Training imported ONNX classifiers end to end: real .onnx files built here (the bundled ViT exported to ONNX, and a
// small MLP written with the GraphBuilder), registered with model/import, trained by stored runs on the bundled
// Fashion-MNIST subset through real ORT sessions and a real SQLite file. Checks: the head case (the output layer;
// LR on the logits or SPSA) and SPSA on other initializers both beat the untrained model; bad choices are refused
// field by field, naming the initializer.
import { unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { latestCheckpoint } from '../../../app/db/checkpoints.ts';
import { executeRun } from '../../../app/runs/execute.ts';
import { importModel } from '../../../app/use-cases/models.ts';
import { toBridgeError } from '../../../app/use-cases/index.ts';
import { createRun, listRuns, validateRun } from '../../../app/use-cases/runs.ts';
import { GraphBuilder } from '../../../engine/onnx/graph.ts';
import type { TestWorkspace } from './helpers.ts';
import { mlpClassifier, onnxWorkspace, writeBundledViTOnnx } from './onnx-helpers.ts';

let ws: TestWorkspace;
let files: string;
let dispose: () => Promise<void>;
let vitOnnx: number;
let mlpOnnx: number;

beforeAll(async () => {
  ({ ws, files, dispose } = await onnxWorkspace('flops-onnx-'));
  // The bundled ViT with a new 5-class head (seed 0) as a standalone ONNX file, its preprocessor config beside it.
  const vit = await writeBundledViTOnnx(files, { preprocessorConfig: true });
  vitOnnx = (await importModel(ws.ctx, { path: vit, name: 'vit-onnx' })).id;
  writeFileSync(join(files, 'mlp.onnx'), mlpClassifier(5));
  mlpOnnx = (await importModel(ws.ctx, { path: join(files, 'mlp.onnx') })).id;
});
afterAll(() => dispose());

async function train(spec: Parameters<TestWorkspace['spec']>[1], trainCfg: Record<string, unknown>) {
  const run = await createRun(ws.ctx, { spec: ws.spec(trainCfg, spec), start: false });
  const outcome = await executeRun(ws.ctx.workspace.db, run.id, { threads: 1 });
  expect(outcome.error).toBeUndefined();
  expect(outcome.status).toBe('completed');
  return outcome;
}

/** SPSA for the MLP, whichever of its initializers train: 3 epochs of the 1000 training images. */
const MLP_SPSA = {
  estimator: 'spsa',
  batchSize: 32,
  budgetPerSample: 10,
  epochs: 3,
  seed: 1,
  spsaEps: 1e-2,
  optimizer: { kind: 'adam', lr: 3e-2 },
};

const pct = (x: number | null) => `${(100 * x!).toFixed(1)}%`;

describe('training imported ONNX classifiers', () => {
  it('head case on the exported ViT: LR on the logits trains its output layer', async () => {
    const outcome = await train(
      { modelId: vitOnnx, mode: { kind: 'onnx' }, kShot: undefined },
      { estimator: 'lr', batchSize: 32, budgetPerSample: 10, epochs: 3, seed: 0 },
    );
    // 1000 training images, batch 32: 31 steps per epoch.
    expect(outcome.steps).toBe(93);
    console.log(`[onnx vit head lr] ${pct(outcome.initialAccuracy)} → ${pct(outcome.evalAccuracy)}`);
    // The exported head is the seed-0 new head of 5 classes: near chance before training.
    expect(outcome.initialAccuracy!).toBeLessThan(0.3);
    expect(outcome.evalAccuracy! - outcome.initialAccuracy!).toBeGreaterThan(0.35);
  });

  it('head case on the MLP (Gemm, transB = 1): SPSA on fc2 by default', async () => {
    const outcome = await train({ modelId: mlpOnnx, mode: { kind: 'head' }, kShot: undefined }, MLP_SPSA);
    console.log(`[onnx mlp head spsa] ${pct(outcome.initialAccuracy)} → ${pct(outcome.evalAccuracy)}`);
    expect(outcome.evalAccuracy! - outcome.initialAccuracy!).toBeGreaterThan(0.2);
  });

  it('SPSA on initializers beyond the head: ORT runs the graph after the cached frozen prefix', async () => {
    const outcome = await train(
      {
        modelId: mlpOnnx,
        mode: { kind: 'onnx', trainable: ['fc1.bias', 'fc2.weight', 'fc2.bias'] },
        kShot: undefined,
      },
      MLP_SPSA,
    );
    console.log(
      `[onnx mlp fc1.bias+fc2 spsa] ${pct(outcome.initialAccuracy)} → ${pct(outcome.evalAccuracy)}`,
    );
    expect(outcome.evalAccuracy! - outcome.initialAccuracy!).toBeGreaterThan(0.2);
    // θ = [fc1.bias (32), fc2.weight (5 × 32), fc2.bias (5)]; fc1.bias starts at zero and moved.
    const theta = latestCheckpoint(ws.ctx.workspace.db, outcome.runId)!.params;
    expect(theta.length).toBe(32 + 160 + 5);
    expect(theta.subarray(0, 32).some((v) => v !== 0)).toBe(true);
  });

  it('head case on a flat-input linear classifier: the rows are the features (MatMul + Add, a new 5-class head)', async () => {
    const g = new GraphBuilder('linear', 17);
    const x = g.input('x', 'float32', ['batch', 784]);
    const w = g.initializer('w', new Float32Array(784 * 3).fill(0.01), [784, 3]);
    g.node('Add', [g.op('MatMul', [x, w]), g.initializer('b', new Float32Array(3), [3])], ['logits']);
    g.output('logits', 'float32', ['batch', 3]);
    writeFileSync(join(files, 'linear3.onnx'), g.toBytes());
    const modelId = (await importModel(ws.ctx, { path: join(files, 'linear3.onnx') })).id;
    // 3 outputs for 5 classes: the output layer is replaced by a new head; anything else would be refused.
    const outcome = await train(
      { modelId, mode: { kind: 'head' }, kShot: undefined },
      { epochs: 2, batchSize: 32 },
    );
    console.log(`[onnx linear new head lr] ${pct(outcome.initialAccuracy)} → ${pct(outcome.evalAccuracy)}`);
    expect(outcome.evalAccuracy! - outcome.initialAccuracy!).toBeGreaterThan(0.3);
    const refused = await validateRun(ws.ctx, {
      spec: ws.spec({ estimator: 'spsa' }, { modelId, mode: { kind: 'onnx', trainable: ['b'] } }),
    });
    expect(refused.ok ? [] : refused.issues.map((i) => i.field)).toEqual(['datasetVersionId']);
  });

  it('refuses bad choices field by field, naming the initializer', async () => {
    const issues = async (mode: unknown, trainCfg: Record<string, unknown> = {}, modelId = mlpOnnx) => {
      const r = await validateRun(ws.ctx, { spec: ws.spec(trainCfg, { modelId, mode: mode as never }) });
      return r.ok ? [] : r.issues;
    };
    expect(
      await issues({ kind: 'onnx', trainable: ['fc2.weight', 'nope', 'fc2.weight'] }, { estimator: 'spsa' }),
    ).toEqual([
      {
        field: 'mode.trainable.1',
        message: expect.stringMatching(
          /^no initializer 'nope' in .*mlp\.onnx \(it has 4: fc1\.weight, fc1\.bias, fc2\.weight, fc2\.bias\)$/,
        ) as unknown as string,
      },
      { field: 'mode.trainable.2', message: "initializer 'fc2.weight' is named twice" },
    ]);
    // LR adds its noise to the logits: only the output layer can train with it.
    expect(
      (await issues({ kind: 'onnx', trainable: ['fc1.bias'] }, { estimator: 'lr' })).map((i) => i.field),
    ).toEqual(['train.estimator']);
    expect((await issues({ kind: 'lora', rank: 2 })).map((i) => i.field)).toEqual(['mode.kind']);
    expect((await issues({ kind: 'onnx' }, {}, ws.modelId)).map((i) => i.field)).toEqual(['mode.kind']);
    // The defaults validate: the output layer, with LR.
    expect(await issues({ kind: 'onnx' })).toEqual([]);
  });
});

describe('bad input', () => {
  /** The MLP flattened by a Reshape whose shape is an INT64 initializer ('flat.shape'). */
  function reshapeMlp(): Uint8Array {
    const g = new GraphBuilder('mlp-reshape', 17);
    const x = g.input('image', 'float32', ['batch', 1, 28, 28]);
    const flat = g.op('Reshape', [x, g.initializer('flat.shape', new BigInt64Array([-1n, 784n]), [2])]);
    const w = g.initializer('fc.weight', new Float32Array(5 * 784).fill(0.01), [5, 784]);
    const b = g.initializer('fc.bias', new Float32Array(5), [5]);
    g.node('Gemm', [flat, w, b], ['logits'], { transB: 1 });
    g.output('logits', 'float32', ['batch', 5]);
    return g.toBytes();
  }
  const SPSA = { estimator: 'spsa', spsaEps: 1e-2 };
  /** run/create refused: CONFIG_INVALID with its issues, and no run row added. */
  async function refused(mode: unknown, modelId: number, trainCfg: Record<string, unknown> = SPSA) {
    const before = (await listRuns(ws.ctx, {})).length;
    const error = await createRun(ws.ctx, {
      spec: ws.spec(trainCfg, { modelId, mode: mode as never }),
      start: false,
    }).catch((e: unknown) => e);
    expect((await listRuns(ws.ctx, {})).length).toBe(before);
    const data = toBridgeError(error);
    expect(data.code).toBe('CONFIG_INVALID');
    return data.issues ?? [];
  }

  it('trainable naming an INT64 initializer, an empty list, an empty name or duplicates: each entry named', async () => {
    writeFileSync(join(files, 'reshape.onnx'), reshapeMlp());
    const id = (await importModel(ws.ctx, { path: join(files, 'reshape.onnx') })).id;
    expect(await refused({ kind: 'onnx', trainable: ['fc.weight', 'flat.shape'] }, id)).toEqual([
      {
        field: 'mode.trainable.1',
        message: "initializer 'flat.shape' is INT64; only FLOAT initializers train",
      },
    ]);
    expect(await refused({ kind: 'onnx', trainable: [] }, id)).toEqual([
      { field: 'mode.trainable', message: expect.stringMatching(/>=1 items/) as unknown as string },
    ]);
    expect((await refused({ kind: 'onnx', trainable: ['fc.bias', ''] }, id)).map((i) => i.field)).toEqual([
      'mode.trainable.1',
    ]);
    expect(await refused({ kind: 'onnx', trainable: ['fc.bias', 'fc.weight', 'fc.bias'] }, id)).toEqual([
      { field: 'mode.trainable.2', message: "initializer 'fc.bias' is named twice" },
    ]);
    expect((await refused({ kind: 'onnx', trainable: 'fc.bias' }, id)).map((i) => i.field)).toEqual([
      'mode.trainable',
    ]);
  });

  it('an input or logits output the model does not have is named on mode.input / mode.logits', async () => {
    const input = await refused({ kind: 'onnx', input: 'pixels' }, mlpOnnx);
    expect(input.map((i) => i.field)).toEqual(['mode.input']);
    expect(input[0]!.message).toMatch(/pixels/);
    const logits = await refused({ kind: 'onnx', logits: 'probabilities' }, mlpOnnx);
    expect(logits.map((i) => i.field)).toEqual(['mode.logits']);
    expect(logits[0]!.message).toMatch(/probabilities/);
  });

  it('a model file replaced by garbage or deleted after import is named on modelId', async () => {
    const file = join(files, 'doomed.onnx');
    writeFileSync(file, mlpClassifier(9));
    const id = (await importModel(ws.ctx, { path: file })).id;
    writeFileSync(file, Buffer.alloc(4096, 0xab));
    const garbage = await refused({ kind: 'onnx', trainable: ['fc2.bias'] }, id);
    expect(garbage).toEqual([
      {
        field: 'modelId',
        message: expect.stringMatching(new RegExp(`^${file}: not an ONNX model`)) as unknown as string,
      },
    ]);
    unlinkSync(file);
    expect(await refused({ kind: 'onnx' }, id, {})).toEqual([
      { field: 'modelId', message: `model ${id} files are missing: ${file}` },
    ]);
  });
});
