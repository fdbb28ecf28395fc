// model/modes on an imported ONNX classifier: every initializer with its shape and parameter count, which can
// train (FLOAT only), the default trainable set (the logits layer), and that set's parameter count, including the
// new head a run makes when the dataset has another number of classes. The model is written here with the
// GraphBuilder, imported with model/import into a real workspace, and the default set is checked against what
// run/validate accepts (LR only for exactly that set).
import { mkdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { toBridgeError } from '../../../app/use-cases/index.ts';
import { importModel, listModels, modelModes } from '../../../app/use-cases/models.ts';
import { validateRun } from '../../../app/use-cases/runs.ts';
import { GraphBuilder } from '../../../engine/onnx/graph.ts';
import type { TestWorkspace } from '../runs/helpers.ts';
import { onnxWorkspace } from '../runs/onnx-helpers.ts';

let ws: TestWorkspace;
let files: string;
let dispose: () => Promise<void>;
let mlp: number;

/** 784 → 32 (ReLU) → 5 with PyTorch Gemm layers; the image is reshaped by an INT64 shape initializer. */
function mlpClassifier(): Uint8Array {
  const g = new GraphBuilder('mlp', 17);
  const x = g.input('image', 'float32', ['batch', 1, 28, 28]);
  const shape = g.initializer('flat.shape', new BigInt64Array([-1n, 784n]), [2]);
  const flat = g.op('Reshape', [x, shape]);
  const w1 = g.initializer('fc1.weight', new Float32Array(32 * 784).fill(0.01), [32, 784]);
  const b1 = g.initializer('fc1.bias', new Float32Array(32), [32]);
  const h = g.op('Relu', [g.op('Gemm', [flat, w1, b1], { transB: 1 })]);
  const w2 = g.initializer('fc2.weight', new Float32Array(5 * 32).fill(0.02), [5, 32]);
  const b2 = g.initializer('fc2.bias', new Float32Array(5), [5]);
  g.node('Gemm', [h, w2, b2], ['logits'], { transB: 1 });
  g.output('logits', 'float32', ['batch', 5]);
  return g.toBytes();
}

beforeAll(async () => {
  ({ ws, files, dispose } = await onnxWorkspace('flops-modes-'));
  writeFileSync(join(files, 'mlp.onnx'), mlpClassifier());
  mlp = (await importModel(ws.ctx, { path: join(files, 'mlp.onnx') })).id;
});
afterAll(() => dispose());

describe('model/modes on an ONNX model', () => {
  it('lists every initializer with its shape and size, and the logits layer as the default set', async () => {
    const r = await modelModes(ws.ctx, { id: mlp, numClasses: 5 });
    expect(r.total).toBe(2 + 32 * 784 + 32 + 5 * 32 + 5);
    expect(r.numClasses).toBe(5);
    expect(r.onnx?.initializers).toEqual([
      { name: 'flat.shape', shape: [2], dtype: 'INT64', size: 2, trainable: false, head: false },
      { name: 'fc1.weight', shape: [32, 784], dtype: 'FLOAT', size: 25_088, trainable: true, head: false },
      { name: 'fc1.bias', shape: [32], dtype: 'FLOAT', size: 32, trainable: true, head: false },
      { name: 'fc2.weight', shape: [5, 32], dtype: 'FLOAT', size: 160, trainable: true, head: true },
      { name: 'fc2.bias', shape: [5], dtype: 'FLOAT', size: 5, trainable: true, head: true },
    ]);
    expect(r.onnx?.defaultTrainable).toEqual(['fc2.weight', 'fc2.bias']);
    expect(r.onnx?.outputs).toBe(5);
    expect(r.onnx?.newHead).toBe(false);
    expect(r.modes).toEqual([
      {
        mode: { kind: 'onnx', trainable: ['fc2.weight', 'fc2.bias'] },
        trainable: 165,
        fraction: 165 / r.total,
      },
    ]);
  });

  it('counts a new head when the dataset has another number of classes', async () => {
    const r = await modelModes(ws.ctx, { id: mlp, numClasses: 10 });
    expect(r.onnx?.newHead).toBe(true);
    expect(r.modes[0]?.trainable).toBe(32 * 10 + 10);
  });

  it('defaults numClasses to the logits layer outputs', async () => {
    const r = await modelModes(ws.ctx, { id: mlp });
    expect(r.numClasses).toBe(5);
    expect(r.onnx?.newHead).toBe(false);
  });

  it('describes the sets run/validate accepts: LR for the default set only', async () => {
    const r = await modelModes(ws.ctx, { id: mlp, numClasses: 5 });
    const spec = (trainable: string[], estimator: string) =>
      ws.spec(estimator === 'lr' ? {} : { estimator, spsaEps: 1e-3 }, {
        modelId: mlp,
        mode: { kind: 'onnx', trainable },
      });
    const head = await validateRun(ws.ctx, { spec: spec(r.onnx!.defaultTrainable, 'lr') });
    expect(head.ok).toBe(true);
    const more = ['fc1.bias', ...r.onnx!.defaultTrainable];
    const lr = await validateRun(ws.ctx, { spec: spec(more, 'lr') });
    expect(lr.ok).toBe(false);
    expect(lr.ok ? [] : lr.issues.map((i) => i.field)).toEqual(['train.estimator']);
    expect((await validateRun(ws.ctx, { spec: spec(more, 'spsa') })).ok).toBe(true);
  });

  it('still counts every ViT mode for a Hugging Face model, with no onnx entry', async () => {
    const r = await modelModes(ws.ctx, { id: ws.modelId, numClasses: 5 });
    expect(r.onnx).toBeUndefined();
    expect(r.modes.map((m) => m.mode.kind)).toEqual(['head', 'bitfit', 'lora', 'vpt', 'last-k', 'full']);
  });
});

describe('bad input', () => {
  let n = 0;
  /** A fresh import of the MLP, whose file the test then damages. */
  async function imported(): Promise<{ id: number; file: string }> {
    const file = join(files, `victim-${n++}.onnx`);
    writeFileSync(file, mlpClassifier());
    return { id: (await importModel(ws.ctx, { path: file })).id, file };
  }
  const refused = async (args: unknown) => {
    const models = (await listModels(ws.ctx, {})).length;
    const error = await modelModes(ws.ctx, args as { id: number }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((await listModels(ws.ctx, {})).length).toBe(models);
    return toBridgeError(error);
  };

  it('an .onnx file replaced by garbage bytes after import: FORMAT_INVALID naming the file', async () => {
    const { id, file } = await imported();
    writeFileSync(file, Buffer.from('this is not a protobuf at all \x00\xff\xfe'.repeat(50)));
    const data = await refused({ id });
    expect(data.code).toBe('FORMAT_INVALID');
    expect(data.message).toMatch(new RegExp(`^${file}: not an ONNX model`));
  });

  it('an .onnx file cut in half or emptied: FORMAT_INVALID naming the file', async () => {
    for (const cut of [(b: Buffer) => b.subarray(0, b.length >> 1), () => Buffer.alloc(0)]) {
      const { id, file } = await imported();
      writeFileSync(file, cut(readFileSync(file)));
      const data = await refused({ id });
      expect(data.code).toBe('FORMAT_INVALID');
      expect(data.message).toMatch(new RegExp(`^${file}: `));
    }
  });

  it('an .onnx file deleted after import, or replaced by a folder: MODEL_MISSING naming the model', async () => {
    const gone = await imported();
    unlinkSync(gone.file);
    const data = await refused({ id: gone.id });
    expect(data.code).toBe('MODEL_MISSING');
    expect(data.message).toMatch(new RegExp(`^model ${gone.id} \\(.*\\): ENOENT`));
    const folder = await imported();
    rmSync(folder.file);
    mkdirSync(folder.file);
    expect(await refused({ id: folder.id })).toMatchObject({ code: 'MODEL_MISSING' });
  });

  it('an unknown id is NOT_FOUND; bad numbers are named', async () => {
    expect(await refused({ id: 987_654 })).toMatchObject({
      code: 'NOT_FOUND',
      message: 'model 987654 does not exist',
    });
    const data = await refused({ id: 0, numClasses: 1.5 });
    expect(data.code).toBe('ARGS_INVALID');
    expect(data.issues?.map((i) => i.field)).toEqual(['id', 'numClasses']);
    expect((await refused({ id: mlp, numClasses: 1e9 })).issues?.map((i) => i.field)).toEqual(['numClasses']);
  });
});
