import * as ort from 'onnxruntime-node';
import { expect, it } from 'vitest';

import { float, GraphBuilder } from '../../../engine/onnx/graph.ts';

it('builds a MatMul+Add+Softmax model that ONNX Runtime runs with the expected numbers', async () => {
  const g = new GraphBuilder('tiny');
  const x = g.input('x', 'float32', ['batch', 3]);
  const w = g.initializer('w', Float32Array.from([1, 0, 0, 1, 1, -1]), [3, 2]);
  const b = g.input('b', 'float32', [2]);
  const logits = g.op('Add', [g.op('MatMul', [x, w]), b]);
  const scaled = g.op('Mul', [logits, g.constFloat([1], [])]);
  g.node('Softmax', [scaled], ['probs'], { axis: -1 });
  g.node('LeakyRelu', [scaled], ['leaky'], { alpha: float(0.5) });
  g.output('probs', 'float32', ['batch', 2]);
  g.output('leaky', 'float32', ['batch', 2]);

  const session = await ort.InferenceSession.create(g.toBytes());
  const out = await session.run({
    x: new ort.Tensor('float32', Float32Array.from([1, 2, 3]), [1, 3]),
    b: new ort.Tensor('float32', Float32Array.from([0.5, -4]), [2]),
  });
  // logits = [1*1 + 2*0 + 3*1 + 0.5, 1*0 + 2*1 + 3*(-1) - 4] = [4.5, -5]
  const e = Math.exp(-9.5);
  const probs = out.probs!.data as Float32Array;
  expect(probs[0]).toBeCloseTo(1 / (1 + e), 6);
  expect(probs[1]).toBeCloseTo(e / (1 + e), 6);
  expect(Array.from(out.leaky!.data as Float32Array)).toEqual([4.5, -2.5]);
});

it('refuses a reused value name and a mis-sized initializer', () => {
  const g = new GraphBuilder('bad');
  g.input('x', 'float32', [1]);
  expect(() => g.input('x', 'float32', [1])).toThrow(/already used/);
  expect(() => g.initializer('w', new Float32Array(3), [2, 2])).toThrow(/3 values but dims 2x2/);
});
