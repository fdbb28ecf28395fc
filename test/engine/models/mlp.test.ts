import { fileURLToPath } from 'node:url';

import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';

import { loadIdxDataset } from '../../../engine/data/idx.ts';
import { ConfigError } from '../../../engine/errors.ts';
import {
  buildMlp,
  buildMlpFeatures,
  buildMlpLr,
  buildSoftmaxRegression,
  mlpInitialWeights,
  type MlpOptions,
} from '../../../engine/models/mlp.ts';
import type { ModelGraph } from '../../../engine/models/types.ts';
import { createSession, ParamFeeds } from '../../../engine/onnx/session.ts';
import type { FlatParams } from '../../../engine/params.ts';
import { lcg, maxAbsDiff, mlpReference, randomData, type Weights } from './reference.ts';

const fixture = (name: string): string =>
  fileURLToPath(new URL(`../../fixtures/idx/${name}`, import.meta.url));

/** All layers' tensors: the seeded init for frozen ones, the given params for trainable ones. */
function allWeights(o: MlpOptions, params: FlatParams): Weights {
  const w = mlpInitialWeights(o);
  for (const spec of params.specs) w[spec.name] = params.view(spec.name);
  return w;
}

async function runModel(
  model: ModelGraph,
  params: FlatParams,
  x: Float32Array,
  y: BigInt64Array,
  extra: Record<string, ort.Tensor> = {},
): Promise<Record<string, Float32Array>> {
  const { session } = await createSession(model.bytes, { providers: ['cpu'], trainable: model.trainable });
  const out = await session.run({
    ...new ParamFeeds(params).feeds(params.data),
    x: new ort.Tensor('float32', x, [y.length, model.inDim]),
    y: new ort.Tensor('int64', y, [y.length]),
    ...extra,
  });
  await session.release();
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
}

describe('per-row cross-entropy against a float64 reference', () => {
  it('softmax regression (d = 20, 5 classes)', async () => {
    const o = { inDim: 20, numClasses: 5, seed: 11 };
    const model = buildSoftmaxRegression(o);
    expect(model.trainable).toEqual([
      { name: 'w0', shape: [5, 20] },
      { name: 'b0', shape: [5] },
    ]);
    const params = model.initParams();
    params.view('b0').set([0.5, -0.25, 0, 1, -1]);
    const { x, y } = randomData(37, 20, 5, 1);
    const out = await runModel(model, params, x, y);
    const ref = mlpReference(allWeights(o, params), model.layerDims, x, y);
    expect(out.loss!.length).toBe(37);
    expect(maxAbsDiff(out.loss!, ref.loss)).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(out.logits!, ref.logits)).toBeLessThanOrEqual(1e-5);
  });

  it('MLP 784-128-64-10 on the Fashion-MNIST fixture', async () => {
    const o = { inDim: 784, hidden: [128, 64], numClasses: 10, seed: 5 };
    const model = buildMlp(o);
    const params = model.initParams();
    const ds = await loadIdxDataset(
      fixture('t10k-64-images-idx3-ubyte.gz'),
      fixture('t10k-64-labels-idx1-ubyte'),
    );
    const out = await runModel(model, params, ds.x, ds.y);
    const ref = mlpReference(allWeights(o, params), model.layerDims, ds.x, ds.y);
    expect(maxAbsDiff(out.loss!, ref.loss)).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(out.logits!, ref.logits)).toBeLessThanOrEqual(1e-5);
  });

  it('stays finite and exact for huge logits (log-softmax is stabilised in the graph)', async () => {
    const o = { inDim: 3, numClasses: 4, seed: 2 };
    const model = buildSoftmaxRegression(o);
    const params = model.initParams();
    params.view('w0').set([1e4, 0, 0, 0, 1e4, 0, 0, 0, -1e4, 3e3, 3e3, 3e3]);
    const x = Float32Array.from([1, 0.5, 0.25, -1, -0.5, 0.25, 0.1, 0.1, 0.1]);
    const y = BigInt64Array.from([2n, 0n, 3n]);
    const out = await runModel(model, params, x, y);
    const ref = mlpReference(allWeights(o, params), model.layerDims, x, y);
    expect(out.loss!.every(Number.isFinite)).toBe(true);
    // Losses here are ~1e4, so compare relative to their size (float32 has ~7 digits).
    for (let r = 0; r < 3; r++)
      expect(Math.abs(out.loss![r]! - ref.loss[r]!)).toBeLessThanOrEqual(1e-6 * ref.loss[r]! + 1e-5);
    expect(out.loss![2]).toBeCloseTo(ref.loss[2]!, 1);
  });
});

describe('builders', () => {
  it('declares trainable inputs in FlatParams order and reports dims and names', () => {
    const m = buildMlp({ inDim: 8, hidden: [6, 4], numClasses: 3, seed: 1 });
    expect(m.trainable.map((t) => `${t.name}:${t.shape.join('x')}`)).toEqual([
      'w0:6x8',
      'b0:6',
      'w1:4x6',
      'b1:4',
      'w2:3x4',
      'b2:3',
    ]);
    expect(m.frozen).toEqual([]);
    expect(m.layerDims).toEqual([8, 6, 4, 3]);
    expect(m).toMatchObject({
      inputName: 'x',
      labelName: 'y',
      lossName: 'loss',
      logitsName: 'logits',
      opset: 17,
    });
    expect(m.name).toBe('mlp-8-6-4-3');
    expect(m.initParams().specs).toEqual(m.trainable);
  });

  it('seeds He init for ReLU layers, Xavier for the head, zero biases; each layer from its own stream', () => {
    const o = { inDim: 400, hidden: [300], numClasses: 50, seed: 9 };
    const p = buildMlp(o).initParams();
    const std = (a: Float32Array): number => Math.sqrt(a.reduce((s, v) => s + v * v, 0) / a.length);
    expect(std(p.view('w0')) / Math.sqrt(2 / 400)).toBeCloseTo(1, 1);
    expect(std(p.view('w1')) / Math.sqrt(2 / 350)).toBeCloseTo(1, 1);
    expect(p.view('b0').every((v) => v === 0)).toBe(true);
    const same = (a: Float32Array, b: Float32Array): boolean =>
      Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
        Buffer.from(b.buffer, b.byteOffset, b.byteLength),
      );
    expect(same(buildMlp(o).initParams().data, p.data)).toBe(true);
    expect(same(buildMlp({ ...o, seed: 10 }).initParams().data, p.data)).toBe(false);
    // Changing the head does not change the first layer's draw.
    expect(
      same(
        buildMlp({ ...o, numClasses: 7 })
          .initParams()
          .view('w0'),
        p.view('w0'),
      ),
    ).toBe(true);
  });

  it('frozen layers become initializers and the outputs equal the unfrozen model', async () => {
    const o = { inDim: 10, hidden: [8, 6], numClasses: 4, seed: 3 };
    const frozen = buildMlp({ ...o, frozenLayers: 2 });
    expect(frozen.trainable.map((t) => t.name)).toEqual(['w2', 'b2']);
    expect(frozen.frozen.map((t) => t.name)).toEqual(['w0', 'b0', 'w1', 'b1']);
    const full = buildMlp(o);
    const { x, y } = randomData(9, 10, 4, 4);
    const a = await runModel(frozen, frozen.initParams(), x, y);
    const b = await runModel(full, full.initParams(), x, y);
    expect(maxAbsDiff(a.loss!, b.loss!)).toBeLessThanOrEqual(1e-6);
  });

  it('takes given weights for frozen layers', async () => {
    const o = { inDim: 5, hidden: [4], numClasses: 3, seed: 1 };
    const w0 = Float32Array.from({ length: 20 }, (_, i) => (i % 3) - 1);
    const m = buildMlp({ ...o, frozenLayers: 1, weights: { w0 } });
    const { x, y } = randomData(6, 5, 3, 2);
    const out = await runModel(m, m.initParams(), x, y);
    const ref = mlpReference({ ...allWeights(o, m.initParams()), w0 }, m.layerDims, x, y);
    expect(maxAbsDiff(out.loss!, ref.loss)).toBeLessThanOrEqual(1e-5);
  });

  it('refuses bad options with ConfigError', () => {
    expect(() => buildMlp({ inDim: 0, numClasses: 3, seed: 1 })).toThrow(ConfigError);
    expect(() => buildMlp({ inDim: 4, hidden: [2.5], numClasses: 3, seed: 1 })).toThrow(/model\.hidden\[0\]/);
    expect(() => buildMlp({ inDim: 4, hidden: [3], numClasses: 3, seed: 1, frozenLayers: 2 })).toThrow(
      /model\.frozenLayers: must be an integer in \[0, 1\]/,
    );
    expect(() =>
      buildMlp({ inDim: 4, numClasses: 3, seed: 1, weights: { w0: new Float32Array(2) } }),
    ).toThrow(/model\.weights\.w0: has 2 values, expected 12/);
    expect(() => buildMlpFeatures({ inDim: 4, numClasses: 3, seed: 1 })).toThrow(
      /needs at least one hidden layer/,
    );
  });
});

describe('LR variant (§2.1)', () => {
  const o = { inDim: 12, hidden: [9, 7], numClasses: 5, seed: 21 };

  it('adds σ-scaled noise at every pre-activation and outputs each layer input a_l', async () => {
    const model = buildMlpLr(o);
    expect(model.noiseNames).toEqual(['noise_0', 'noise_1', 'noise_2']);
    expect(model.noiseDims).toEqual([9, 7, 5]);
    expect(model.actNames).toEqual(['act_0', 'act_1', 'act_2']);
    expect(model.actDims).toEqual([12, 9, 7]);
    const rows = 11;
    const params = model.initParams();
    const { x, y } = randomData(rows, 12, 5, 8);
    const rand = lcg(99);
    const noise = model.noiseDims.map((m) =>
      Float32Array.from({ length: rows * m }, () => (rand() - 0.5) * 0.2),
    );
    const feeds = Object.fromEntries(
      model.noiseNames.map((n, l) => [n, new ort.Tensor('float32', noise[l]!, [rows, model.noiseDims[l]!])]),
    );
    const out = await runModel(model, params, x, y, feeds);
    const ref = mlpReference(allWeights(o, params), model.layerDims, x, y, noise);
    model.actNames.forEach((name, l) =>
      expect(maxAbsDiff(out[name]!, ref.acts[l]!)).toBeLessThanOrEqual(1e-5),
    );
    expect(maxAbsDiff(out.loss!, ref.loss)).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(out.logits!, ref.logits)).toBeLessThanOrEqual(1e-5);
    // The noise matters: without it the reference differs.
    expect(
      maxAbsDiff(mlpReference(allWeights(o, params), model.layerDims, x, y).loss, ref.loss),
    ).toBeGreaterThan(1e-3);
  });

  it('with zero noise equals the plain MLP; frozen layers get no noise input', async () => {
    const lr = buildMlpLr({ ...o, frozenLayers: 1 });
    expect(lr.layers).toEqual([1, 2]);
    expect(lr.noiseNames).toEqual(['noise_1', 'noise_2']);
    expect(lr.actNames).toEqual(['act_1', 'act_2']);
    const plain = buildMlp({ ...o, frozenLayers: 1 });
    const rows = 6;
    const { x, y } = randomData(rows, 12, 5, 3);
    const zeros = Object.fromEntries(
      lr.noiseNames.map((n, l) => [
        n,
        new ort.Tensor('float32', new Float32Array(rows * lr.noiseDims[l]!), [rows, lr.noiseDims[l]!]),
      ]),
    );
    const a = await runModel(lr, lr.initParams(), x, y, zeros);
    const b = await runModel(plain, plain.initParams(), x, y);
    expect(maxAbsDiff(a.loss!, b.loss!)).toBeLessThanOrEqual(1e-6);
    // The feature prefix (for LR at the head) computes the head's input act_2.
    const features = buildMlpFeatures(o);
    expect(features.featureDim).toBe(7);
    const { session } = await createSession(features.bytes, { providers: ['cpu'] });
    const f = await session.run({ x: new ort.Tensor('float32', x, [rows, 12]) });
    expect(maxAbsDiff(f.features!.data as Float32Array, a.act_2!)).toBeLessThanOrEqual(1e-6);
    await session.release();
  });
});

it('sanity: the 784-128-64-10 graph has ln(10)-ish loss at init', async () => {
  const model = buildMlp({ inDim: 784, hidden: [128, 64], numClasses: 10, seed: 1 });
  const ds = await loadIdxDataset(
    fixture('t10k-64-images-idx3-ubyte.gz'),
    fixture('t10k-64-labels-idx1-ubyte'),
  );
  const out = await runModel(model, model.initParams(), ds.x, ds.y);
  const mean = out.loss!.reduce((a, b) => a + b, 0) / out.loss!.length;
  expect(mean).toBeGreaterThan(1);
  expect(mean).toBeLessThan(5);
});
