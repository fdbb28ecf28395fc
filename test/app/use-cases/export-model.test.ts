// 'run/export-model' with real files: a tiny head run trains on the bundled ViT and Fashion-MNIST subset, its ONNX
// export runs in onnxruntime-node and scores exactly the run's final evaluation accuracy; the HF folder is complete;
// a run without a checkpoint and a run whose model folder is gone fail with their codes.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DatasetCache } from '../../../app/datasets/cache.ts';
import { getDatasetVersion } from '../../../app/db/datasets.ts';
import { listEvaluations } from '../../../app/db/evaluations.ts';
import { invokeHandler } from '../../../app/use-cases/index.ts';
import { importModel } from '../../../app/use-cases/models.ts';
import { createRun } from '../../../app/use-cases/runs.ts';
import { BatchLoader } from '../../../engine/data/loader.ts';
import { BUNDLED_VIT_DIR, loadViT } from '../../../engine/models/vit/index.ts';
import { testWorkspace, type TestWorkspace } from '../runs/helpers.ts';

describe('run/export-model', () => {
  let ws: TestWorkspace;
  let out: string;
  beforeAll(async () => {
    ws = await testWorkspace();
    out = mkdtempSync(join(tmpdir(), 'flops-export-'));
  });
  afterAll(async () => {
    await ws?.dispose();
    if (out) rmSync(out, { recursive: true, force: true });
  });

  it('writes an ONNX model whose test accuracy equals the run final evaluation, and an HF folder', async () => {
    const run = await createRun(ws.ctx, { spec: ws.spec({ maxSteps: 6 }) });
    const stop = await ws.ctx.queue.wait(run.id);
    expect(stop.status).toBe('completed');
    const evals = listEvaluations(ws.ctx.workspace.db, run.id);
    const final = evals.at(-1)!;
    expect(final.accuracy).not.toBeNull();

    const file = join(out, 'nested', 'model.onnx');
    const result = (await invokeHandler(ws.ctx, 'run/export-model', {
      runId: run.id,
      format: 'onnx',
      path: file,
    })) as { path: string; format: string; bytes: number; sha256: string };
    const bytes = readFileSync(file);
    expect(result).toMatchObject({ path: file, format: 'onnx', bytes: bytes.length });
    expect(result.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));

    // The run's evaluation split (test), normalised as the model's preprocessor says, through the exported model.
    const { config } = await loadViT(BUNDLED_VIT_DIR);
    const pre = config.preprocess;
    const version = getDatasetVersion(ws.ctx.workspace.db, ws.datasetVersionId)!;
    const cache = await DatasetCache.open(version.cachePath!);
    const indices = cache.indices('test');
    const batch = await new BatchLoader(cache, {
      batchSize: indices.length,
      seed: 0,
      indices,
      shuffle: false,
      dropLast: false,
      normalization: {
        rescale: pre.doRescale ? pre.rescaleFactor : 1,
        mean: pre.doNormalize ? pre.mean : [0],
        std: pre.doNormalize ? pre.std : [1],
      },
      layout: 'nchw',
      prefetch: false,
    }).batch(0, 0);
    await cache.close();
    const [h, w] = config.imageSize;
    const session = await ort.InferenceSession.create(bytes);
    const n = indices.length;
    const logits = (
      await session.run({
        pixel_values: new ort.Tensor('float32', batch.pixels, [n, config.numChannels, h, w]),
      })
    ).logits!.data as Float32Array;
    await session.release();
    const k = version.classes.length;
    expect(logits.length).toBe(n * k);
    let correct = 0;
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let c = 1; c < k; c++) if (logits[i * k + c]! > logits[i * k + best]!) best = c;
      if (best === batch.labels[i]) correct++;
    }
    expect(final.examples).toBe(n);
    expect(Math.abs((correct / n) * 100 - final.accuracy! * 100)).toBeLessThanOrEqual(0.5);
    // Equal, as the title says: the same examples classified correctly, not merely close.
    expect(correct).toBe(Math.round(final.accuracy! * n));

    const dir = join(out, 'hf');
    const hf = (await invokeHandler(ws.ctx, 'run/export-model', {
      runId: run.id,
      format: 'hf',
      path: dir,
    })) as {
      bytes: number;
      sha256: string;
    };
    for (const name of ['config.json', 'preprocessor_config.json', 'model.safetensors']) {
      expect(existsSync(join(dir, name))).toBe(true);
    }
    const st = readFileSync(join(dir, 'model.safetensors'));
    expect(hf.sha256).toBe(createHash('sha256').update(st).digest('hex'));
    expect(hf.bytes).toBeGreaterThan(st.length);
    const hfConfig = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { id2label?: object };
    expect(Object.values(hfConfig.id2label ?? {})).toEqual(version.classes);
  }, 120_000);

  it('refuses a run that never trained, and a run whose model folder is gone', async () => {
    const idle = await createRun(ws.ctx, { spec: ws.spec(), start: false });
    await expect(
      invokeHandler(ws.ctx, 'run/export-model', {
        runId: idle.id,
        format: 'onnx',
        path: join(out, 'x.onnx'),
      }),
    ).rejects.toMatchObject({ code: 'NO_CHECKPOINT' });

    const copy = join(out, 'doomed-model');
    cpSync(BUNDLED_VIT_DIR, copy, { recursive: true });
    const model = await importModel(ws.ctx, { path: copy, name: 'doomed-export' });
    const orphan = await createRun(ws.ctx, { spec: ws.spec({}, { modelId: model.id }), start: false });
    rmSync(copy, { recursive: true, force: true });
    await expect(
      invokeHandler(ws.ctx, 'run/export-model', { runId: orphan.id, format: 'hf', path: join(out, 'y') }),
    ).rejects.toMatchObject({ code: 'MODEL_MISSING' });
    await expect(
      invokeHandler(ws.ctx, 'run/export-model', { runId: 1, format: 'tflite', path: '' }),
    ).rejects.toMatchObject({ code: 'ARGS_INVALID' });
  });
});
