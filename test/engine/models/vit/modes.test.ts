import { describe, expect, it } from 'vitest';

import { ModelError } from '../../../../engine/errors.ts';
import { buildViTGraph } from '../../../../engine/models/vit/graph.ts';
import {
  gatherTrainable,
  prepareViT,
  trainableCount,
  withTrainable,
  type TrainMode,
} from '../../../../engine/models/vit/modes.ts';
import { randomWeights, session, tinyConfig } from './helpers.ts';

// channels 3, image 8, patch 4 (4 patches, 5 tokens), H 24, 3 heads, MLP 32, 3 layers, 4 classes.
const c = tinyConfig({ channels: 3, hidden: 24, heads: 3, mlp: 32, layers: 3, classes: 4 });
const w = randomWeights(c, 4, 1);
const HEAD = 4 * 24 + 4;
const LN = 2 * 24;
const BLOCK = LN + 3 * (24 * 24 + 24) + (24 * 24 + 24) + LN + (24 * 32 + 32) + (32 * 24 + 24);
const BLOCK_BIASES = LN + 3 * 24 + 24 + LN + 32 + 24;

const expected: [string, TrainMode, number][] = [
  ['head', { kind: 'head' }, HEAD],
  ['bitfit', { kind: 'bitfit' }, HEAD + 24 + 3 * BLOCK_BIASES + LN],
  ['lora r2 q,v all blocks', { kind: 'lora', rank: 2, alpha: 4 }, HEAD + 3 * 2 * (2 * 24 + 24 * 2)],
  [
    'lora r4 q,k,v,o last 1',
    { kind: 'lora', rank: 4, alpha: 4, targets: ['q', 'k', 'v', 'o'], lastK: 1 },
    HEAD + 4 * 2 * 4 * 24,
  ],
  ['vpt 2 prompts', { kind: 'vpt', prompts: 2 }, HEAD + 2 * 24],
  ['last-k 1', { kind: 'last-k', k: 1 }, HEAD + LN + BLOCK],
  ['last-k 3', { kind: 'last-k', k: 3 }, HEAD + LN + 3 * BLOCK],
  ['full', { kind: 'full' }, HEAD + 24 + 5 * 24 + 24 * 3 * 16 + 24 + 3 * BLOCK + LN],
];

describe('trainable modes: parameter counts and graph inputs', () => {
  for (const [label, mode, count] of expected) {
    it(`${label}: ${count} parameters, exactly those as graph inputs`, async () => {
      const p = prepareViT(c, w, { mode });
      expect(trainableCount(p)).toBe(count);
      expect(gatherTrainable(p).length).toBe(count);
      const s = await session(buildViTGraph(p));
      expect(s.inputNames).toEqual([...p.trainable.map((t) => t.name), 'x', 'y']);
      expect(s.outputNames).toEqual(['logits', 'loss']);
    });
  }

  it('lists trainables in forward order, with names a checkpoint would use', () => {
    const p = prepareViT(c, w, { mode: { kind: 'lora', rank: 2, alpha: 2, targets: ['q', 'o'], lastK: 2 } });
    expect(p.trainable.map((t) => t.name)).toEqual([
      'vit.encoder.layer.1.attention.attention.query.lora_A.weight',
      'vit.encoder.layer.1.attention.attention.query.lora_B.weight',
      'vit.encoder.layer.1.attention.output.dense.lora_A.weight',
      'vit.encoder.layer.1.attention.output.dense.lora_B.weight',
      'vit.encoder.layer.2.attention.attention.query.lora_A.weight',
      'vit.encoder.layer.2.attention.attention.query.lora_B.weight',
      'vit.encoder.layer.2.attention.output.dense.lora_A.weight',
      'vit.encoder.layer.2.attention.output.dense.lora_B.weight',
      'classifier.weight',
      'classifier.bias',
    ]);
    expect(p.trainable[0]!.shape).toEqual([2, 24]);
    expect(p.trainable[1]!.shape).toEqual([24, 2]);
    expect(p.loraScale).toBe(1);
    // B = 0 at the start: training starts from the checkpoint's function.
    expect(p.tensors.get(p.trainable[1]!.name)!.data.every((v) => v === 0)).toBe(true);
  });

  it('new heads and prompts are seeded: same seed same values, other seed other values', () => {
    const a = prepareViT(c, w, { mode: { kind: 'vpt', prompts: 3 }, numClasses: 7, seed: 5 });
    const b = prepareViT(c, w, { mode: { kind: 'vpt', prompts: 3 }, numClasses: 7, seed: 5 });
    const d = prepareViT(c, w, { mode: { kind: 'vpt', prompts: 3 }, numClasses: 7, seed: 6 });
    expect(gatherTrainable(a)).toEqual(gatherTrainable(b));
    expect(gatherTrainable(a)).not.toEqual(gatherTrainable(d));
    expect(a.numClasses).toBe(7);
    expect(a.labels).toHaveLength(7);
    const head = a.tensors.get('classifier.weight')!.data;
    const std = Math.sqrt(head.reduce((s, v) => s + v * v, 0) / head.length);
    expect(std).toBeGreaterThan(0.01);
    expect(std).toBeLessThan(0.03);
    // The checkpoint's own head is kept (and shared, not copied) when the class count matches.
    const same = prepareViT(c, w, { mode: { kind: 'head' } });
    expect(same.tensors.get('classifier.weight')).toBe(w.get('classifier.weight'));
    expect(same.labels).toEqual(['c0', 'c1', 'c2', 'c3']);
  });

  it('withTrainable writes theta into a copy without touching the checkpoint', () => {
    const p = prepareViT(c, w, { mode: { kind: 'head' } });
    const theta = gatherTrainable(p).map((v) => v + 1);
    const q = withTrainable(p, theta);
    expect(q.tensors.get('classifier.bias')!.data[0]).toBe(
      Math.fround(w.get('classifier.bias')!.data[0]! + 1),
    );
    expect(p.tensors.get('classifier.bias')).toBe(w.get('classifier.bias'));
    expect(() => withTrainable(p, new Float32Array(3))).toThrow(ModelError);
  });

  it('rejects bad mode settings with a ModelError', () => {
    const bad: TrainMode[] = [
      { kind: 'lora', rank: 0, alpha: 1 },
      { kind: 'lora', rank: 2, alpha: 1, lastK: 4 },
      { kind: 'lora', rank: 2, alpha: 1, targets: [] },
      { kind: 'vpt', prompts: 0 },
      { kind: 'last-k', k: 9 },
      { kind: 'bogus' } as unknown as TrainMode,
    ];
    for (const mode of bad) expect(() => prepareViT(c, w, { mode })).toThrow(ModelError);
    expect(() => prepareViT(c, w, { mode: { kind: 'head' }, trainHead: false })).toThrow(/trains no tensor/);
    const noHead = new Map([...w].filter(([k]) => !k.startsWith('classifier')));
    expect(() => prepareViT(c, noHead, { mode: { kind: 'head' } })).toThrow(/pass numClasses/);
  });
});
