// cutFrozenPrefix on a small conv/MLP classifier built here (8x8 images, two convolutions with a residual, a
// Shape-driven flatten, two Gemm layers): for several trainable sets, prefix then suffix give the full graph's
// logits and losses (real ORT sessions), the cut lands where the trainables start, and an int64 shape computed from
// a frozen value is recomputed in the suffix instead of being cached.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';

import { importOnnxClassifier } from '../../../engine/models/vit/onnx-import.ts';
import { cutFrozenPrefix } from '../../../engine/onnx/cut.ts';
import { GraphBuilder } from '../../../engine/onnx/graph.ts';
import { Rng } from '../../../engine/rng.ts';

const CLASSES = 5;
const ROW = 64; // 1x8x8

/** x [batch, 1, 8, 8] → conv1 → relu → (+ conv2 → relu) → flatten by Shape → fc1 → relu → fc2 → logits. */
function convNet(seed: number): Uint8Array {
  const rng = new Rng(seed);
  const u = (n: number, limit: number) =>
    Float32Array.from({ length: n }, () => (2 * rng.nextFloat() - 1) * limit);
  const g = new GraphBuilder('convnet', 17);
  const x = g.input('image', 'float32', ['batch', 1, 8, 8]);
  const pads = { pads: [1, 1, 1, 1] };
  const c1 = g.op('Relu', [
    g.op(
      'Conv',
      [
        x,
        g.initializer('conv1.weight', u(36, 0.5), [4, 1, 3, 3]),
        g.initializer('conv1.bias', u(4, 0.1), [4]),
      ],
      pads,
    ),
  ]);
  const c2 = g.op('Relu', [
    g.op(
      'Conv',
      [
        c1,
        g.initializer('conv2.weight', u(144, 0.3), [4, 4, 3, 3]),
        g.initializer('conv2.bias', u(4, 0.1), [4]),
      ],
      pads,
    ),
  ]);
  const r = g.op('Add', [c1, c2]);
  // Flatten the way PyTorch exports x.view(x.size(0), -1): the batch size read from a frozen value's Shape.
  const batch = g.op('Slice', [g.op('Shape', [c1]), g.constInt64([0]), g.constInt64([1])]);
  const flat = g.op('Reshape', [r, g.op('Concat', [batch, g.constInt64([-1])], { axis: 0 })]);
  const h = g.op('Relu', [
    g.op(
      'Gemm',
      [
        flat,
        g.initializer('fc1.weight', u(16 * 256, 0.1), [16, 256]),
        g.initializer('fc1.bias', u(16, 0.1), [16]),
      ],
      { transB: 1 },
    ),
  ]);
  g.node(
    'Gemm',
    [
      h,
      g.initializer('fc2.weight', u(CLASSES * 16, 0.4), [CLASSES, 16]),
      g.initializer('fc2.bias', u(5, 0.1), [5]),
    ],
    ['logits'],
    { transB: 1 },
  );
  g.output('logits', 'float32', ['batch', CLASSES]);
  return g.toBytes();
}

const rng = new Rng(11);
const N = 24;
const x = Float32Array.from({ length: N * ROW }, () => rng.nextFloat());
const y = BigInt64Array.from({ length: N }, (_, i) => BigInt(i % CLASSES));

async function run(bytes: Uint8Array, feeds: Record<string, ort.Tensor>) {
  const s = await ort.InferenceSession.create(bytes);
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

describe('cutFrozenPrefix', () => {
  const model = convNet(3);
  const cases: { trainable: string[]; cut: string[]; width: number }[] = [
    // The head: the cut is fc1's ReLU output.
    { trainable: ['fc2.weight', 'fc2.bias'], cut: ['relu_'], width: 16 },
    // fc1's bias: the Gemm reads the flattened features.
    { trainable: ['fc1.bias', 'fc2.weight'], cut: ['reshape_'], width: 256 },
    // conv2: its input c1 is also the residual, and the flatten's shape comes from Shape(c1) (int64, moved across).
    { trainable: ['conv2.bias'], cut: ['relu_'], width: 256 },
    { trainable: ['conv2.weight', 'fc1.weight'], cut: ['relu_'], width: 256 },
    // conv1 reads the image: the cut is the image reshaped (nothing to save, still exact).
    { trainable: ['conv1.weight', 'fc2.bias'], cut: ['image'], width: 64 },
  ];
  for (const c of cases) {
    it(`prefix + suffix = full graph when ${c.trainable.join(', ')} train`, async () => {
      const imported = importOnnxClassifier(model, { trainable: c.trainable, rowShape: [1, 8, 8] });
      const result = await cutFrozenPrefix(imported.bytes, {
        rowsInput: imported.inputName,
        rowShape: [ROW],
        probeRows: x,
      });
      expect(result.reason).toBeUndefined();
      const cut = result.cut!;
      expect(cut.values.map((v) => v.name.replace(/\d+$/, ''))).toEqual(c.cut);
      expect(cut.width).toBe(c.width);

      // θ₀ and a perturbed θ: the suffix takes θ as inputs exactly as the full graph does.
      const thetaRng = new Rng(7);
      for (const scale of [0, 0.05]) {
        const theta = imported.theta0.map((v) => v + scale * (2 * thetaRng.nextFloat() - 1));
        const params: Record<string, ort.Tensor> = {};
        let off = 0;
        for (const s of imported.trainable) {
          const n = s.shape.reduce((a, b) => a * b, 1);
          params[s.name] = new ort.Tensor('float32', theta.subarray(off, off + n), s.shape);
          off += n;
        }
        const labels = new ort.Tensor('int64', y, [N]);
        const full = await run(imported.bytes, {
          [imported.inputName]: new ort.Tensor('float32', x, [N, ROW]),
          y: labels,
          ...params,
        });
        const cached = await run(cut.prefix, {
          [imported.inputName]: new ort.Tensor('float32', x, [N, ROW]),
        });
        expect(cached[cut.cutName]!.dims).toEqual([N, cut.width]);
        const part = await run(cut.suffix, { [cut.cutName]: cached[cut.cutName]!, y: labels, ...params });
        for (const out of ['logits', 'loss']) {
          const a = full[out]!.data as Float32Array;
          const b = part[out]!.data as Float32Array;
          expect(b.length).toBe(a.length);
          let max = 0;
          for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
          expect(max).toBeLessThanOrEqual(1e-6);
        }
      }
    });
  }

  it('says why there is no cut when the trainables read the rows directly', async () => {
    const g = new GraphBuilder('linear', 17);
    const input = g.input('x', 'float32', ['batch', ROW]);
    g.node(
      'MatMul',
      [input, g.initializer('w', new Float32Array(ROW * CLASSES), [ROW, CLASSES])],
      ['logits'],
    );
    g.output('logits', 'float32', ['batch', CLASSES]);
    const imported = importOnnxClassifier(g.toBytes(), { trainable: ['w'] });
    const result = await cutFrozenPrefix(imported.bytes, { rowsInput: 'x', rowShape: [ROW], probeRows: x });
    expect(result.cut).toBeUndefined();
    expect(result.reason).toMatch(/nothing frozen comes first/);
  });
});
