// `npm run bench -- --only onnx`: what frozen-prefix reuse (cut.ts) buys an imported ONNX classifier. The model is
// the bundled ViT exported to ONNX (exportViTOnnx, a new 5-class head) imported with its last block's MLP trainable,
// as a user would import any .onnx file; a "row" is one image through the graph the queries run: the whole imported
// graph without the cut, the suffix on cached cut rows with it. onnx.prefix_reuse_speedup is the ratio.
import * as ort from 'onnxruntime-node';

import { bundledViTOnnx, vitBlockMlpInitializers } from '../models/vit/index.ts';
import { importOnnxClassifier } from '../models/vit/onnx-import.ts';
import { FlatParams } from '../params.ts';
import { Rng } from '../rng.ts';
import { cutFrozenPrefix } from './cut.ts';
import { rowsPerSec } from './rows-per-sec.ts';
import { ParamFeeds } from './session.ts';

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

export async function benchOnnxPrefixReuse(
  opts: { batch?: number; runs?: number } = {},
): Promise<OnnxCutBenchResult> {
  const batch = opts.batch ?? 64;
  const runs = opts.runs ?? 10;
  const { config, bytes } = await bundledViTOnnx();
  const trainable = vitBlockMlpInitializers(config.numLayers - 1);
  const [h, w] = config.imageSize;
  const rowShape = [config.numChannels, h, w];
  const imported = importOnnxClassifier(bytes, { trainable, rowShape });
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
  const params = new ParamFeeds(new FlatParams(imported.trainable)).feeds(imported.theta0);
  const y = new ort.Tensor('int64', new BigInt64Array(batch), [batch]);
  const full = await rowsPerSec(
    imported.bytes,
    { [imported.inputName]: new ort.Tensor('float32', x, [batch, inDim]), y, ...params },
    batch,
    runs,
    1,
  );
  const prefix = await ort.InferenceSession.create(cut.prefix);
  const cached = (await prefix.run({ [imported.inputName]: new ort.Tensor('float32', x, [batch, inDim]) }))[
    cut.cutName
  ]!;
  await prefix.release();
  const suffix = await rowsPerSec(cut.suffix, { [cut.cutName]: cached, y, ...params }, batch, runs, 1);
  return {
    full_rows_per_sec: full,
    suffix_rows_per_sec: suffix,
    prefix_reuse_speedup: suffix / full,
    cut_width: cut.width,
  };
}
