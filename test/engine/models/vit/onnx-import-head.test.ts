// The ONNX-import helpers a run on an imported classifier is planned with: finding the linear layer that writes the
// logits (Gemm either way round, MatMul + Add, through Identity; nothing when another op follows), cutting the model
// before it (the frozen prefix gives exactly that layer's input), and the flat row input.
import { describe, expect, it } from 'vitest';

import {
  findOutputLinear,
  FLAT_INPUT,
  importOnnxClassifier,
  onnxImageInput,
  onnxPrefixModel,
  readOnnxInitializer,
} from '../../../../engine/models/vit/onnx-import.ts';
import { exportViTOnnx, prepareViT } from '../../../../engine/models/vit/index.ts';
import { GraphBuilder } from '../../../../engine/onnx/graph.ts';
import { feeds, maxAbsDiff, randomPixels, randomWeights, session, tinyConfig } from './helpers.ts';

/** x [batch, 2, 2] → Flatten → Relu(W1 x) → last layer → (tail) → logits. */
function twoLayer(last: 'gemm-t' | 'gemm' | 'matmul-add' | 'add-matmul' | 'softmax'): Uint8Array {
  const g = new GraphBuilder('two', 17);
  const x = g.op('Flatten', [g.input('x', 'float32', ['batch', 2, 2])], { axis: 1 });
  const w1 = g.initializer(
    'w1',
    Float32Array.from({ length: 12 }, (_, i) => (i % 5) / 4 - 0.5),
    [4, 3],
  );
  const h = g.op('Relu', [g.op('MatMul', [x, w1])]);
  const wOut = Float32Array.from([1, -1, 0.5, 2, 0, -2]);
  const b = g.initializer('b', Float32Array.from([0.1, -0.1]), [2]);
  let z: string;
  if (last === 'gemm-t') z = g.op('Gemm', [h, g.initializer('w', wOut, [2, 3]), b], { transB: 1 });
  else if (last === 'gemm') z = g.op('Gemm', [h, g.initializer('w', wOut, [3, 2]), b]);
  else if (last === 'add-matmul') z = g.op('Add', [b, g.op('MatMul', [h, g.initializer('w', wOut, [3, 2])])]);
  else z = g.op('Add', [g.op('MatMul', [h, g.initializer('w', wOut, [3, 2])]), b]);
  if (last === 'softmax') z = g.op('Softmax', [z], { axis: 1 });
  g.output(z, 'float32', ['batch', 2], 'logits');
  return g.toBytes();
}

describe('findOutputLinear', () => {
  it('finds Gemm (transB 0 or 1) and MatMul + Add in either order, through the Identity to the output', () => {
    const expected = { weight: 'w', bias: 'b', inDim: 3, outDim: 2 };
    expect(findOutputLinear(twoLayer('gemm-t'))).toMatchObject({ ...expected, layout: 'out-in' });
    expect(findOutputLinear(twoLayer('gemm'))).toMatchObject({ ...expected, layout: 'in-out' });
    expect(findOutputLinear(twoLayer('matmul-add'))).toMatchObject({ ...expected, layout: 'in-out' });
    expect(findOutputLinear(twoLayer('add-matmul'))).toMatchObject({ ...expected, layout: 'in-out' });
  });

  it('finds nothing when the logits are not the layer output', () => {
    expect(findOutputLinear(twoLayer('softmax'))).toBeUndefined();
  });

  it("finds the exported ViT's classifier, and the prefix computes exactly its input", async () => {
    const c = tinyConfig({ channels: 1, classes: 3 });
    const bytes = exportViTOnnx(prepareViT(c, randomWeights(c, 3, 2), { mode: { kind: 'head' } }));
    const linear = findOutputLinear(bytes)!;
    expect(linear).toMatchObject({
      weight: 'classifier.weight_t',
      bias: 'classifier.bias',
      layout: 'in-out',
    });
    expect([linear.inDim, linear.outDim]).toEqual([16, 3]);
    const x = randomPixels(c, 2, 1);
    const input = onnxImageInput(bytes);
    expect(input).toEqual({ name: 'pixel_values', rowShape: [1, 8, 8] });
    const prefix = await session(onnxPrefixModel(bytes, linear.features));
    expect(prefix.outputNames).toEqual([linear.features]);
    const f = (await prefix.run(feeds({ pixel_values: { data: x, dims: [2, 1, 8, 8] } })))[linear.features]!
      .data as Float32Array;
    expect(f.length).toBe(2 * 16);
    // features · W + b is the full model's logits.
    const w = readOnnxInitializer(bytes, linear.weight).data;
    const b = readOnnxInitializer(bytes, linear.bias!).data;
    const full = await session(bytes);
    const logits = (await full.run(feeds({ pixel_values: { data: x, dims: [2, 1, 8, 8] } }))).logits!
      .data as Float32Array;
    const mine = new Float32Array(6);
    for (let r = 0; r < 2; r++)
      for (let k = 0; k < 3; k++) {
        let s = b[k]!;
        for (let i = 0; i < 16; i++) s += f[r * 16 + i]! * w[i * 3 + k]!;
        mine[r * 3 + k] = s;
      }
    expect(maxAbsDiff(mine, logits)).toBeLessThan(1e-5);
  });
});

describe('importOnnxClassifier with a row shape', () => {
  it('adds a flat input reshaped into the image input, with the same logits', async () => {
    const bytes = twoLayer('gemm-t');
    const imp = importOnnxClassifier(bytes, { trainable: ['w1'], rowShape: [2, 2] });
    expect(imp.inputName).toBe(FLAT_INPUT);
    const s = await session(imp.bytes);
    expect(s.inputNames).toEqual([FLAT_INPUT, 'y', 'w1']);
    const x = Float32Array.from([1, 2, 3, 4, -1, 0.5, 0, 2]);
    const out = await s.run(
      feeds({ [FLAT_INPUT]: { data: x, dims: [2, 4] }, w1: { data: imp.theta0, dims: [4, 3] } }, [0, 1]),
    );
    const orig = await (await session(bytes)).run(feeds({ x: { data: x, dims: [2, 2, 2] } }));
    expect(maxAbsDiff(out.logits!.data as Float32Array, orig.logits!.data as Float32Array)).toBe(0);
  });
});
