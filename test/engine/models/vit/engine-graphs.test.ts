import * as ort from 'onnxruntime-node';
import { expect, it } from 'vitest';

import { OnnxFeatureOracle, OnnxLossOracle } from '../../../../engine/onnx/oracle-onnx.ts';
import { vitEngineGraphs } from '../../../../engine/models/vit/engine-graphs.ts';
import { prepareViT } from '../../../../engine/models/vit/modes.ts';
import { maxAbsDiff, randomPixels, randomWeights, session, tinyConfig } from './helpers.ts';

it("the engine's loss oracle over the cached-prefix suffix gives the full model's per-row losses", async () => {
  const c = tinyConfig({ channels: 3, hidden: 16, heads: 2, layers: 3, classes: 4 });
  const p = prepareViT(c, randomWeights(c, 4, 3), {
    mode: { kind: 'lora', rank: 2, alpha: 2, lastK: 1 },
    numClasses: 5,
    newHead: true,
  });
  const g = vitEngineGraphs(p);
  expect(g.cut).toBe(3);
  expect(g.suffix!.inDim).toBe(g.prefix!.featureDim);
  expect(g.full.frozen.length + g.full.trainable.length).toBe(p.tensors.size);
  const B = 6;
  const x = randomPixels(c, B, 5);
  const y = BigInt64Array.from([0, 1, 2, 3, 4, 0].map(BigInt));
  const theta = g.full.initParams();
  theta.data.forEach((v, i) => (theta.data[i] = v + 0.05 * Math.sin(i)));
  const rows = Int32Array.from([5, 0, 3]);

  const fullOracle = new OnnxLossOracle(await session(g.full.bytes), g.full, theta);
  fullOracle.setBatch(x, y);
  const want = new Float32Array(3);
  await fullOracle.losses(theta.data, rows, want);

  const feat = new OnnxFeatureOracle(await session(g.prefix!.bytes), g.prefix!);
  const pre = await (
    await session(g.prefix!.bytes)
  ).run({ x: new ort.Tensor('float32', x, [B, g.full.inDim]) });
  const hidden = pre[g.prefix!.outputName]!.data as Float32Array;
  expect(hidden.length).toBe(B * g.prefix!.featureDim);
  expect(feat.io.featureDim).toBe(g.prefix!.featureDim);
  const suffixOracle = new OnnxLossOracle(await session(g.suffix!.bytes), g.suffix!, theta);
  suffixOracle.setBatch(hidden, y);
  const got = new Float32Array(3);
  await suffixOracle.losses(theta.data, rows, got);
  expect(maxAbsDiff(got, want)).toBeLessThanOrEqual(1e-5);
  expect(Math.min(...want)).toBeGreaterThan(0);
});
