// `npm run bench -- --only onnx`: what frozen-prefix reuse (cut.ts) buys an imported ONNX classifier. The model is
// the bundled ViT exported to ONNX (exportViTOnnx, a new 5-class head) imported with its last block's MLP trainable,
// as a user would import any .onnx file; a "row" is one image through the graph the queries run: the whole imported
// graph without the cut, the suffix on cached cut rows with it. onnx.prefix_reuse_speedup is the ratio.
import { performance } from 'node:perf_hooks';

import * as ort from 'onnxruntime-node';

import { BUNDLED_VIT_DIR, exportViTOnnx, loadViT, prepareViT } from '../models/vit/index.ts';
import { importOnnxClassifier } from '../models/vit/onnx-import.ts';
import { Rng } from '../rng.ts';
import { cutFrozenPrefix } from './cut.ts';

export interface OnnxCutBenchResult {
  /** Query rows per second through the whole imported graph (x, y, θ → logits, loss). */
  full_rows_per_sec: number;
  /** The same through the suffix on cached cut rows. */
  suffix_rows_per_sec: number;
  /** suffix_rows_per_sec / full_rows_per_sec. */
  prefix_reuse_speedup: number;
  /** Floats per cached row (the cut values: the last block's MLP input and its residual). */
  cut_width: number;
}

async function rowsPerSec(bytes: Uint8Array, feeds: Record<string, ort.Tensor>, batch: number, runs: number) {
  const s = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  try {
    for (let i = 0; i < 2; i++) await s.run(feeds);
    // Best of 3 rounds: on a shared machine the slow rounds measure the neighbours, not the graph.
    let best = 0;
    for (let round = 0; round < 3; round++) {
      const t0 = performance.now();
      for (let i = 0; i < runs; i++) await s.run(feeds);
      best = Math.max(best, (batch * runs) / ((performance.now() - t0) / 1000));
    }
    return best;
  } finally {
    await s.release();
  }
}

export async function benchOnnxPrefixReuse(
  opts: { batch?: number; runs?: number } = {},
): Promise<OnnxCutBenchResult> {
  const batch = opts.batch ?? 64;
  const runs = opts.runs ?? 10;
  const { config, weights } = await loadViT(BUNDLED_VIT_DIR);
  const prepared = prepareViT(config, weights, {
    mode: { kind: 'head' },
    numClasses: 5,
    newHead: true,
    seed: 0,
  });
  const last = config.numLayers - 1;
  const trainable = [
    'intermediate.dense.weight_t',
    'intermediate.dense.bias',
    'output.dense.weight_t',
    'output.dense.bias',
  ].map((t) => `vit.encoder.layer.${last}.${t}`);
  const [h, w] = config.imageSize;
  const rowShape = [config.numChannels, h, w];
  const imported = importOnnxClassifier(exportViTOnnx(prepared), { trainable, rowShape });
  const inDim = rowShape.reduce((a, b) => a * b, 1);
  // Throughput does not depend on the pixel values: seeded normalised-looking rows.
  const rng = new Rng(0);
  const x = Float32Array.from({ length: batch * inDim }, () => 2 * rng.nextFloat() - 1);
  const { cut, reason } = await cutFrozenPrefix(imported.bytes, {
    rowsInput: imported.inputName,
    rowShape: [inDim],
    probeRows: x,
  });
  if (!cut) throw new Error(`onnx bench: the imported ViT has no cut (${reason})`);
  const params: Record<string, ort.Tensor> = {};
  let off = 0;
  for (const s of imported.trainable) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    params[s.name] = new ort.Tensor('float32', imported.theta0.subarray(off, off + n), s.shape);
    off += n;
  }
  const y = new ort.Tensor('int64', new BigInt64Array(batch), [batch]);
  const full = await rowsPerSec(
    imported.bytes,
    { [imported.inputName]: new ort.Tensor('float32', x, [batch, inDim]), y, ...params },
    batch,
    runs,
  );
  const prefix = await ort.InferenceSession.create(cut.prefix);
  const cached = (await prefix.run({ [imported.inputName]: new ort.Tensor('float32', x, [batch, inDim]) }))[
    cut.cutName
  ]!;
  await prefix.release();
  const suffix = await rowsPerSec(cut.suffix, { [cut.cutName]: cached, y, ...params }, batch, runs);
  return {
    full_rows_per_sec: full,
    suffix_rows_per_sec: suffix,
    prefix_reuse_speedup: suffix / full,
    cut_width: cut.width,
  };
}
