import { describe, expect, it } from 'vitest';

import { FormatError, ModelError } from '../../../../engine/errors.ts';
import { GraphBuilder } from '../../../../engine/onnx/graph.ts';
import { exportViTOnnx, prepareViT } from '../../../../engine/models/vit/index.ts';
import { importOnnxClassifier, listOnnxInitializers } from '../../../../engine/models/vit/onnx-import.ts';
import { feeds, maxAbsDiff, randomPixels, randomWeights, session, tinyConfig } from './helpers.ts';
import { referenceCE } from './reference.ts';

const c = tinyConfig({ channels: 1, classes: 3 });
const p = prepareViT(c, randomWeights(c, 3, 2), { mode: { kind: 'head' } });
const exported = exportViTOnnx(p);
const x = randomPixels(c, 2, 1);

describe('generic ONNX classifier import', () => {
  it('lists initializers and turns the chosen ones into inputs without changing the logits', async () => {
    const inits = listOnnxInitializers(exported);
    expect(inits.find((i) => i.name === 'classifier.bias')).toEqual({
      name: 'classifier.bias',
      shape: [3],
      dtype: 'FLOAT',
      size: 3,
    });
    const imp = importOnnxClassifier(exported, { trainable: ['classifier.weight_t', 'classifier.bias'] });
    expect(imp.trainable).toEqual([
      { name: 'classifier.weight_t', shape: [16, 3] },
      { name: 'classifier.bias', shape: [3] },
    ]);
    expect(imp.inputName).toBe('pixel_values');
    expect(imp.numClasses).toBe(3);
    const orig = await (
      await session(exported)
    ).run(feeds({ pixel_values: { data: x, dims: [2, 1, 8, 8] } }));
    const s = await session(imp.bytes);
    expect(s.inputNames).toEqual(['pixel_values', 'y', 'classifier.weight_t', 'classifier.bias']);
    const out = await s.run(
      feeds(
        {
          pixel_values: { data: x, dims: [2, 1, 8, 8] },
          'classifier.weight_t': { data: imp.theta0.subarray(0, 48), dims: [16, 3] },
          'classifier.bias': { data: imp.theta0.subarray(48), dims: [3] },
        },
        [2, 0],
      ),
    );
    const logits = out.logits!.data as Float32Array;
    expect(maxAbsDiff(logits, orig.logits!.data as Float32Array)).toBe(0);
    const ref = [
      referenceCE(Array.from(logits.subarray(0, 3)), 2),
      referenceCE(Array.from(logits.subarray(3)), 0),
    ];
    expect(maxAbsDiff(out.loss!.data as Float32Array, ref)).toBeLessThanOrEqual(1e-5);
  });

  it('handles opset < 13 (axes as attributes)', async () => {
    const g = new GraphBuilder('old', 11);
    const xin = g.input('img', 'float32', ['batch', 2]);
    g.node(
      'Add',
      [
        g.op('MatMul', [xin, g.initializer('W', Float32Array.from([1, 0, 0, 1]), [2, 2])]),
        g.initializer('b', Float32Array.from([0.5, -0.5]), [2]),
      ],
      ['out'],
    );
    g.output('out', 'float32', ['batch', 2]);
    const imp = importOnnxClassifier(g.toBytes(), { trainable: ['b'] });
    expect(imp.opset).toBe(11);
    const out = await (
      await session(imp.bytes)
    ).run(
      feeds(
        { img: { data: Float32Array.from([1, 2]), dims: [1, 2] }, b: { data: imp.theta0, dims: [2] } },
        [1],
      ),
    );
    expect(out.loss!.data[0]).toBeCloseTo(referenceCE([1.5, 1.5], 1), 6);
  });

  it('bad inputs are typed errors naming the file and tensor', () => {
    expect(() =>
      importOnnxClassifier(new TextEncoder().encode('definitely not onnx'), {
        trainable: ['w'],
        file: 'm.onnx',
      }),
    ).toThrow(FormatError);
    expect(() => importOnnxClassifier(new Uint8Array([8, 1]), { trainable: ['w'], file: 'm.onnx' })).toThrow(
      /m\.onnx: not an ONNX model/,
    );
    expect(() => listOnnxInitializers(new Uint8Array(0), 'empty.onnx')).toThrow(
      /empty\.onnx: not an ONNX model/,
    );
    expect(() => importOnnxClassifier(exported, { trainable: ['nope'], file: 'v.onnx' })).toThrow(ModelError);
    expect(() => importOnnxClassifier(exported, { trainable: ['nope'], file: 'v.onnx' })).toThrow(
      /v\.onnx: no initializer 'nope'/,
    );
    const int64 = listOnnxInitializers(exported).find((i) => i.dtype === 'INT64')!;
    expect(() => importOnnxClassifier(exported, { trainable: [int64.name] })).toThrow(/is INT64, only FLOAT/);
    expect(() => importOnnxClassifier(exported, { trainable: [] })).toThrow(/at least one/);
    expect(() => importOnnxClassifier(exported, { trainable: ['classifier.bias'], logits: 'zzz' })).toThrow(
      /no output named 'zzz'/,
    );
  });
});
