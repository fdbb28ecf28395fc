import { describe, expect, it } from 'vitest';

import { numTokens } from '../../../../engine/models/vit/config.ts';
import { buildViTGraph, buildViTGraphSet, defaultCut } from '../../../../engine/models/vit/graph.ts';
import {
  prepareViT,
  PROMPTS,
  type PreparedViT,
  type TrainMode,
} from '../../../../engine/models/vit/modes.ts';
import {
  feeds,
  lcg,
  maxAbsDiff,
  randn,
  randomPixels,
  randomWeights,
  session,
  tinyConfig,
  type TinyOptions,
} from './helpers.ts';
import { referenceCE, referenceLogits } from './reference.ts';

const BATCH = 3;

function trainableFeeds(p: PreparedViT): Record<string, { data: Float32Array; dims: number[] }> {
  return Object.fromEntries(
    p.trainable.map((s) => [s.name, { data: p.tensors.get(s.name)!.data, dims: s.shape }]),
  );
}

async function runFull(p: PreparedViT, x: Float32Array, labels: number[]) {
  const c = p.config;
  const s = await session(buildViTGraph(p));
  const out = await s.run(
    feeds(
      {
        x: { data: x, dims: [BATCH, c.numChannels * c.imageSize[0] * c.imageSize[1]] },
        ...trainableFeeds(p),
      },
      labels,
    ),
  );
  return { logits: out.logits!.data as Float32Array, loss: out.loss!.data as Float32Array };
}

function reference(p: PreparedViT, x: Float32Array): number[][] {
  const c = p.config;
  const per = c.numChannels * c.imageSize[0] * c.imageSize[1];
  const extras = { prompts: p.tensors.get(PROMPTS), loraScale: p.loraScale };
  return Array.from({ length: BATCH }, (_, i) =>
    referenceLogits(c, p.tensors, x.subarray(i * per, (i + 1) * per), extras),
  );
}

const configs: [string, TinyOptions][] = [
  ['1 channel, 2 heads, qkv bias', { channels: 1, heads: 2, qkvBias: true, classes: 3 }],
  [
    '3 channels, 3 heads, no qkv bias, non-square image',
    { channels: 3, image: [12, 8], hidden: 24, heads: 3, mlp: 40, qkvBias: false, classes: 4 },
  ],
  [
    '3 channels, 8 heads, 3 layers, eps 1e-6',
    { channels: 3, image: 16, patch: 8, hidden: 32, heads: 8, mlp: 64, layers: 3, eps: 1e-6, classes: 5 },
  ],
  [
    'DeiT naming with a distillation token, 4 heads',
    { modelType: 'deit', channels: 3, hidden: 16, heads: 4, classes: 2 },
  ],
];

describe('ViT graph against an independent float64 reference (random weights)', () => {
  for (const [label, opts] of configs) {
    it(label, async () => {
      const c = tinyConfig(opts);
      const classes = opts.classes ?? 3;
      const p = prepareViT(c, randomWeights(c, classes, 11), { mode: { kind: 'full' } });
      const x = randomPixels(c, BATCH);
      const labels = [0, classes - 1, 1 % classes];
      const { logits, loss } = await runFull(p, x, labels);
      const ref = reference(p, x);
      expect(maxAbsDiff(logits, ref.flat())).toBeLessThanOrEqual(1e-4);
      // Logits must not be trivially small, or the tolerance would say nothing.
      expect(Math.max(...ref.flat().map(Math.abs))).toBeGreaterThan(0.3);
      expect(
        maxAbsDiff(
          loss,
          ref.map((l, i) => referenceCE(l, labels[i]!)),
        ),
      ).toBeLessThanOrEqual(1e-4);
    });
  }

  it('LoRA (non-zero B) and VPT prompts through the graph match the reference', async () => {
    const c = tinyConfig({ channels: 3, hidden: 24, heads: 3, mlp: 32, classes: 4 });
    const w = randomWeights(c, 4, 5);
    const x = randomPixels(c, BATCH, 3);
    const modes: TrainMode[] = [
      { kind: 'lora', rank: 2, alpha: 4, targets: ['q', 'k', 'v', 'o'] },
      { kind: 'vpt', prompts: 3 },
    ];
    for (const mode of modes) {
      const p = prepareViT(c, w, { mode, seed: 9 });
      const rnd = lcg(17);
      // B starts at zero; give it values so the adapter path is exercised.
      for (const s of p.trainable)
        if (s.name.includes('lora_B'))
          p.tensors.get(s.name)!.data.set(randn(s.shape[0]! * s.shape[1]!, rnd, 0.3));
      const { logits } = await runFull(p, x, [0, 1, 2]);
      expect(maxAbsDiff(logits, reference(p, x).flat())).toBeLessThanOrEqual(1e-4);
    }
  });
});

describe('frozen-prefix reuse', () => {
  const c = tinyConfig({ channels: 3, hidden: 24, heads: 3, mlp: 32, layers: 3, classes: 4 });
  const w = randomWeights(c, 4, 21);
  const x = randomPixels(c, BATCH, 4);
  const labels = [3, 0, 2];
  const cases: [string, TrainMode, number][] = [
    ['head', { kind: 'head' }, 5],
    ['last-k (k = 1)', { kind: 'last-k', k: 1 }, 3],
    ['LoRA on the last 2 blocks', { kind: 'lora', rank: 2, alpha: 2, targets: ['q', 'v'], lastK: 2 }, 2],
    ['VPT (prefix = embeddings)', { kind: 'vpt', prompts: 2 }, 1],
  ];
  for (const [label, mode, cut] of cases) {
    it(`${label}: prefix ∘ suffix reproduces the full graph`, async () => {
      const p = prepareViT(c, w, { mode, numClasses: 4, newHead: true, seed: 2 });
      const rnd = lcg(3);
      for (const s of p.trainable) {
        const t = p.tensors.get(s.name)!;
        if (s.name.includes('lora_B')) t.data.set(randn(t.data.length, rnd, 0.3));
        if (s.name === 'classifier.weight') t.data.set(randn(t.data.length, rnd, 0.3));
      }
      expect(defaultCut(p)).toBe(cut);
      const set = buildViTGraphSet(p);
      expect(set.split?.cut).toBe(cut);
      const xFeed = { x: { data: x, dims: [BATCH, 3 * 8 * 8] } };
      const full = await (await session(set.full)).run(feeds({ ...xFeed, ...trainableFeeds(p) }, labels));
      const prefix = await (await session(set.split!.prefix)).run(feeds(xFeed));
      const cutName = set.split!.value.name;
      const hidden = prefix[cutName]!;
      expect(hidden.dims).toEqual(cut === 5 ? [BATCH, 24] : [BATCH, numTokens(c) * 24]);
      expect(set.split!.value.width).toBe(hidden.dims[1]);
      const suffix = await (
        await session(set.split!.suffix)
      ).run(
        feeds(
          { [cutName]: { data: hidden.data as Float32Array, dims: [...hidden.dims] }, ...trainableFeeds(p) },
          labels,
        ),
      );
      expect(
        maxAbsDiff(suffix.logits!.data as Float32Array, full.logits!.data as Float32Array),
      ).toBeLessThanOrEqual(1e-5);
      expect(
        maxAbsDiff(suffix.loss!.data as Float32Array, full.loss!.data as Float32Array),
      ).toBeLessThanOrEqual(1e-5);
    });
  }

  it('modes that train the embeddings have no prefix', () => {
    for (const mode of [{ kind: 'bitfit' }, { kind: 'full' }] as TrainMode[]) {
      const p = prepareViT(c, w, { mode });
      expect(defaultCut(p)).toBe(0);
      expect(buildViTGraphSet(p).split).toBeUndefined();
    }
  });

  it('refuses a cut that would freeze a trainable tensor', () => {
    const p = prepareViT(c, w, { mode: { kind: 'last-k', k: 1 } });
    expect(() => buildViTGraph(p, { part: 'suffix', cut: 4 })).toThrow(/layer\.2.*frozen prefix/);
  });
});
