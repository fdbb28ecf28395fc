// run/export-model for runs on imported ONNX classifiers: real .onnx files (an MLP with PyTorch-style Gemm layers,
// linear classifiers with MatMul + Add, a bare MatMul and a bias-free Gemm, the bundled ViT exported to ONNX),
// trained by stored runs on the bundled Fashion-MNIST subset, exported, and run in a fresh ORT session on the
// test images: the exported logits equal the training-time graph's at the checkpoint θ (the imported graph fed θ,
// or the frozen features times the trained head), the inputs and outputs keep their names, and an HF export is
// refused with a typed error.
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DatasetCache } from '../../../app/datasets/cache.ts';
import { latestCheckpoint } from '../../../app/db/checkpoints.ts';
import { getDatasetVersion } from '../../../app/db/datasets.ts';
import { executeRun } from '../../../app/runs/execute.ts';
import { planOnnxRun } from '../../../app/runs/onnx-plan.ts';
import { normalization } from '../../../app/runs/problem-onnx.ts';
import type { RunMode } from '../../../app/runs/spec.ts';
import { readSplitRows } from '../../../app/runs/split-rows.ts';
import { invokeHandler, toBridgeError } from '../../../app/use-cases/index.ts';
import { importModel } from '../../../app/use-cases/models.ts';
import { createRun } from '../../../app/use-cases/runs.ts';
import { importOnnxClassifier, onnxPrefixModel } from '../../../engine/models/vit/onnx-import.ts';
import { GraphBuilder } from '../../../engine/onnx/graph.ts';
import { ParamFeeds } from '../../../engine/onnx/session.ts';
import { FlatParams } from '../../../engine/params.ts';
import { Rng } from '../../../engine/rng.ts';
import type { TestWorkspace } from './helpers.ts';
import { LAST_MLP, mlpClassifier, onnxWorkspace, writeBundledViTOnnx } from './onnx-helpers.ts';

let ws: TestWorkspace;
let files: string;
let dispose: () => Promise<void>;
const N = 64; // test images compared per model

function uniform(rng: Rng, n: number, limit: number): Float32Array {
  return Float32Array.from({ length: n }, () => (2 * rng.nextFloat() - 1) * limit);
}

/** A flat-input 3-class linear classifier: MatMul + Add, a bare MatMul, or a Gemm without bias (transB = 0). */
function linear3(kind: 'matmul-add' | 'matmul' | 'gemm'): Uint8Array {
  const g = new GraphBuilder(kind, 17);
  const x = g.input('pixels', 'float32', ['batch', 784]);
  const w = g.initializer('w', uniform(new Rng(3), 784 * 3, 0.05), [784, 3]);
  const out = kind === 'matmul' ? 'scores' : 'logits';
  if (kind === 'matmul-add') {
    g.node('Add', [g.op('MatMul', [x, w]), g.initializer('b', new Float32Array(3), [3])], [out]);
  } else if (kind === 'matmul') {
    // Through an Identity, as exporters often leave one in front of the output.
    g.node('Identity', [g.op('MatMul', [x, w])], [out]);
  } else {
    g.node('Gemm', [x, w], [out]);
  }
  g.output(out, 'float32', ['batch', 3]);
  return g.toBytes();
}

beforeAll(async () => {
  ({ ws, files, dispose } = await onnxWorkspace('flops-onnx-export-'));
  await writeBundledViTOnnx(files, { preprocessorConfig: true });
  writeFileSync(join(files, 'mlp.onnx'), mlpClassifier(5));
  for (const kind of ['matmul-add', 'matmul', 'gemm'] as const)
    writeFileSync(join(files, `${kind}.onnx`), linear3(kind));
});
afterAll(() => dispose());

async function session(bytes: Uint8Array) {
  return ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
}

/** The first N test images, normalised and laid out as the run's problem reads them. */
async function testRows(file: string, mode: RunMode) {
  const version = getDatasetVersion(ws.ctx.workspace.db, ws.datasetVersionId)!;
  const cache = await DatasetCache.open(version.cachePath!);
  try {
    const rec = cache.record;
    const bytes = new Uint8Array(readFileSync(file));
    const shape = {
      height: rec.height,
      width: rec.width,
      channels: rec.channels,
      classes: rec.classes.length,
    };
    const plan = planOnnxRun(bytes, file, mode, shape, undefined).plan!;
    const indices = cache.indices('test').subarray(0, N);
    const { x } = await readSplitRows(cache, indices, await normalization(file, rec), plan.layout);
    return { plan, bytes, x };
  } finally {
    await cache.close();
  }
}

/** Trains a short run, exports it, and returns max |exported − training-time| over N test images' logits. */
async function trainAndExport(file: string, mode: RunMode, trainCfg: Record<string, unknown>) {
  const modelId = (await importModel(ws.ctx, { path: file })).id;
  const run = await createRun(ws.ctx, {
    spec: ws.spec({ maxSteps: 6, ...trainCfg }, { modelId, mode }),
    start: false,
  });
  const outcome = await executeRun(ws.ctx.workspace.db, run.id, { threads: 1 });
  expect(outcome.error).toBeUndefined();
  const theta = latestCheckpoint(ws.ctx.workspace.db, run.id)!.params;

  const target = join(files, 'out', `run-${run.id}.onnx`);
  const result = (await invokeHandler(ws.ctx, 'run/export-model', {
    runId: run.id,
    format: 'onnx',
    path: target,
  })) as {
    path: string;
    bytes: number;
    sha256: string;
    step: number;
  };
  const exported = readFileSync(target);
  expect(result).toMatchObject({ path: target, bytes: exported.length, step: 6 });
  expect(result.sha256).toBe(createHash('sha256').update(exported).digest('hex'));

  const { plan, bytes, x } = await testRows(file, mode);
  const feed = { [plan.inputName]: new ort.Tensor('float32', x, [N, ...plan.rowShape]) };
  const original = await session(bytes);
  const out = await session(exported);
  expect(out.inputNames).toEqual(original.inputNames);
  expect(out.outputNames).toEqual(original.outputNames);
  const logitsName = original.outputNames[0]!;
  await original.release();
  const got = (await out.run(feed))[logitsName]!;
  await out.release();
  expect(got.dims).toEqual([N, 5]);

  // The training-time graph at the checkpoint θ.
  let want: Float32Array;
  if (plan.head) {
    // Head case: the frozen features (or the rows themselves), then W·f + b with the trained head in float64.
    const { features, inDim: p } = plan.head;
    let f = x;
    if (features !== plan.inputName) {
      const prefix = await session(onnxPrefixModel(bytes, features));
      f = (await prefix.run(feed))[features]!.data as Float32Array;
      await prefix.release();
    }
    want = new Float32Array(N * 5);
    for (let r = 0; r < N; r++) {
      for (let o = 0; o < 5; o++) {
        let s = theta[5 * p + o]!;
        for (let i = 0; i < p; i++) s += theta[o * p + i]! * f[r * p + i]!;
        want[r * 5 + o] = s;
      }
    }
  } else {
    const imported = importOnnxClassifier(bytes, {
      trainable: plan.trainable,
      rowShape: plan.rowShape,
      input: plan.inputName,
    });
    const s = await session(imported.bytes);
    const params = new ParamFeeds(new FlatParams(imported.trainable)).feeds(theta);
    const flat = new ort.Tensor('float32', x, [N, x.length / N]);
    want = (
      await s.run({
        [imported.inputName]: flat,
        y: new ort.Tensor('int64', new BigInt64Array(N), [N]),
        ...params,
      })
    )[imported.logitsName]!.data as Float32Array;
    await s.release();
  }
  const g = got.data as Float32Array;
  let maxDiff = 0;
  for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(g[i]! - want[i]!));
  const meta = onnxProto.onnx.ModelProto.decode(exported).metadataProps ?? [];
  return { runId: run.id, maxDiff, theta, exported, meta };
}

describe('run/export-model on imported ONNX classifiers', () => {
  const cases: { name: string; file: string; mode: RunMode; train: Record<string, unknown> }[] = [
    {
      name: 'MLP, fc1.bias + fc2 by SPSA (cut graph)',
      file: 'mlp.onnx',
      mode: { kind: 'onnx', trainable: ['fc1.bias', 'fc2.weight', 'fc2.bias'] },
      train: { estimator: 'spsa', spsaEps: 1e-2 },
    },
    { name: 'MLP head (Gemm transB = 1) by LR', file: 'mlp.onnx', mode: { kind: 'head' }, train: {} },
    { name: 'MatMul + Add, new 5-class head', file: 'matmul-add.onnx', mode: { kind: 'head' }, train: {} },
    {
      name: 'bare MatMul behind an Identity, new head gets a bias',
      file: 'matmul.onnx',
      mode: { kind: 'head' },
      train: {},
    },
    {
      name: 'Gemm without bias (transB = 0), new head gets a bias',
      file: 'gemm.onnx',
      mode: { kind: 'onnx' },
      train: {},
    },
    {
      name: 'ViT exported to ONNX, last block MLP by SPSA (cut graph)',
      file: 'vit/model.onnx',
      mode: { kind: 'onnx', trainable: LAST_MLP },
      train: { estimator: 'spsa', spsaEps: 1e-3, optimizer: { kind: 'adam', lr: 3e-3 } },
    },
  ];
  for (const c of cases) {
    it(`${c.name}: the exported logits equal the training graph's`, async () => {
      const r = await trainAndExport(join(files, c.file), c.mode, c.train);
      console.log(
        `[onnx export] ${c.name}: max |Δ logits| ${r.maxDiff.toExponential(2)} over ${N} test images`,
      );
      expect(r.maxDiff).toBeLessThanOrEqual(1e-5);
      expect(JSON.parse(r.meta.find((m) => m.key === 'flops.classes')!.value!)).toHaveLength(5);
    }, 120_000);
  }

  it('refuses a Hugging Face export of an ONNX run with a typed error', async () => {
    const modelId = (await importModel(ws.ctx, { path: join(files, 'mlp.onnx') })).id;
    const run = await createRun(ws.ctx, {
      spec: ws.spec({}, { modelId, mode: { kind: 'head' } }),
      start: false,
    });
    await expect(
      invokeHandler(ws.ctx, 'run/export-model', { runId: run.id, format: 'hf', path: join(files, 'hf') }),
    ).rejects.toMatchObject({
      code: 'MODEL_FORMAT',
      message: expect.stringMatching(
        /trained the imported ONNX model \d+ \(.*\); it exports as ONNX only/,
      ) as unknown as string,
    });
  });
});

describe('bad input', () => {
  /** A 2-step SPSA run on its own copy of the MLP (the tests then damage the copy), trained and checkpointed. */
  async function trainedRun(copy: string): Promise<{ runId: number; file: string }> {
    const file = join(files, copy);
    copyFileSync(join(files, 'mlp.onnx'), file);
    const modelId = (await importModel(ws.ctx, { path: file })).id;
    const run = await createRun(ws.ctx, {
      spec: ws.spec(
        { estimator: 'spsa', spsaEps: 1e-2, maxSteps: 2 },
        { modelId, mode: { kind: 'onnx', trainable: ['fc1.bias', 'fc2.bias'] } },
      ),
      start: false,
    });
    expect((await executeRun(ws.ctx.workspace.db, run.id, { threads: 1 })).error).toBeUndefined();
    return { runId: run.id, file };
  }
  let run: { runId: number; file: string };
  beforeAll(async () => {
    run = await trainedRun('bad-input.onnx');
  }, 120_000);

  const exportTo = (args: Record<string, unknown>) =>
    invokeHandler(ws.ctx, 'run/export-model', { runId: run.runId, format: 'onnx', ...args }).catch(
      (e: unknown) => {
        expect(e).toBeInstanceOf(Error);
        return toBridgeError(e);
      },
    );
  /** The folder's entries, to see that a refused export leaves nothing behind (no partial file). */
  const listing = (dir: string) => (existsSync(dir) ? readdirSync(dir).sort() : []);

  it('a path in a folder that does not exist yet: the folder is made and the file written whole', async () => {
    const target = join(files, 'new', 'deeper', 'model.onnx');
    const result = (await exportTo({ path: target })) as { path: string; bytes: number };
    expect(result.path).toBe(target);
    expect(readFileSync(target).length).toBe(result.bytes);
    expect(listing(join(files, 'new', 'deeper'))).toEqual(['model.onnx']);
  });

  it('a path that is an existing folder, or below a file: ARGS_INVALID on path, nothing written', async () => {
    const dir = join(files, 'a-folder');
    mkdirSync(dir);
    expect(await exportTo({ path: dir })).toEqual({
      name: 'InvalidArgumentsError',
      code: 'ARGS_INVALID',
      message: expect.stringMatching(
        /path: .*a-folder is a folder; give the path of the \.onnx file/,
      ) as unknown as string,
      issues: [{ field: 'path', message: `${dir} is a folder; give the path of the .onnx file to write` }],
    });
    expect(listing(dir)).toEqual([]);
    const before = listing(files);
    const under = join(files, 'mlp.onnx', 'sub', 'x.onnx');
    expect(await exportTo({ path: under })).toMatchObject({
      code: 'ARGS_INVALID',
      issues: [
        {
          field: 'path',
          message: `${join(files, 'mlp.onnx')} is a file, not a folder: cannot write ${under}`,
        },
      ],
    });
    expect(listing(files)).toEqual(before);
    expect(await exportTo({ path: '' })).toMatchObject({ code: 'ARGS_INVALID', issues: [{ field: 'path' }] });
  });

  it('an existing export is replaced whole, leaving no temporary file beside it', async () => {
    const dir = join(files, 'replace');
    mkdirSync(dir);
    const target = join(dir, 'model.onnx');
    writeFileSync(target, 'an older export');
    const result = (await exportTo({ path: target })) as { bytes: number };
    expect(readFileSync(target).length).toBe(result.bytes);
    expect(listing(dir)).toEqual(['model.onnx']);
  });

  it("the run's .onnx file vanished: MODEL_MISSING naming the model and the path", async () => {
    const doomed = await trainedRun('vanishing.onnx');
    unlinkSync(doomed.file);
    const out = join(files, 'never');
    const data = await invokeHandler(ws.ctx, 'run/export-model', {
      runId: doomed.runId,
      format: 'onnx',
      path: join(out, 'x.onnx'),
    }).catch((e: unknown) => toBridgeError(e));
    expect(data).toMatchObject({
      code: 'MODEL_MISSING',
      message: expect.stringMatching(
        /^model \d+ \(.*\): its files are gone from .*vanishing\.onnx$/,
      ) as unknown as string,
    });
    expect(existsSync(out)).toBe(false);
  }, 120_000);

  it("the run's .onnx file replaced by garbage or by another model: CHECKPOINT_MISMATCH naming run and file", async () => {
    const changed = await trainedRun('changing.onnx');
    const out = join(files, 'mismatch');
    const call = () =>
      invokeHandler(ws.ctx, 'run/export-model', {
        runId: changed.runId,
        format: 'onnx',
        path: join(out, 'x.onnx'),
      }).catch((e: unknown) => toBridgeError(e));
    writeFileSync(changed.file, Buffer.alloc(2048, 0x5a));
    expect(await call()).toMatchObject({
      code: 'CHECKPOINT_MISMATCH',
      message: expect.stringMatching(
        new RegExp(
          `^run ${changed.runId}: .*changing\\.onnx no longer fits the run \\(modelId: .*not an ONNX model`,
        ),
      ) as unknown as string,
    });
    // A model with the same initializer names and other sizes: θ no longer fits the tensors.
    writeFileSync(changed.file, linear3('matmul-add'));
    const other = await call();
    expect(other).toMatchObject({ code: 'CHECKPOINT_MISMATCH' });
    expect((other as { message: string }).message).toMatch(new RegExp(`^run ${changed.runId}: `));
    expect(existsSync(out)).toBe(false);
  }, 120_000);
});
