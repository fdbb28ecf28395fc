import { describe, expect, it } from 'vitest';

import { buildViTGraph, cutValue, lrLayers } from '../../../../engine/models/vit/graph.ts';
import { prepareViT, type PreparedViT } from '../../../../engine/models/vit/modes.ts';
import {
  feeds,
  maxAbsDiff,
  randn,
  lcg,
  randomPixels,
  randomWeights,
  session,
  tinyConfig,
} from './helpers.ts';

const c = tinyConfig({ channels: 1, hidden: 16, heads: 2, mlp: 24, layers: 2, classes: 3 });
const w = randomWeights(c, 3, 6);
const B = 4;
const x = randomPixels(c, B, 2);
const labels = [0, 1, 2, 1];

function inputs(p: PreparedViT, overrides: Record<string, Float32Array> = {}) {
  return Object.fromEntries(
    p.trainable.map((s) => [
      s.name,
      { data: overrides[s.name] ?? p.tensors.get(s.name)!.data, dims: s.shape },
    ]),
  );
}

describe('LR noise injection at trainable linear outputs (suffix graph)', () => {
  const p = prepareViT(c, w, { mode: { kind: 'last-k', k: 1 } });
  const cut = 2;
  const T = cutValue(p, cut).width / 16;

  it('lists one noise site per trainable linear and LayerNorm, in graph order, with the tensors it trains', () => {
    const layers = lrLayers(p, { part: 'suffix', cut });
    expect(layers.map((l) => l.layer)).toEqual([
      'vit.encoder.layer.1.layernorm_before',
      'vit.encoder.layer.1.attention.attention.query',
      'vit.encoder.layer.1.attention.attention.key',
      'vit.encoder.layer.1.attention.attention.value',
      'vit.encoder.layer.1.attention.output.dense',
      'vit.encoder.layer.1.layernorm_after',
      'vit.encoder.layer.1.intermediate.dense',
      'vit.encoder.layer.1.output.dense',
      'vit.layernorm',
      'classifier',
    ]);
    expect(layers[6]).toMatchObject({
      tokens: T,
      out: 24,
      in: 16,
      noiseName: 'noise:vit.encoder.layer.1.intermediate.dense',
      weight: 'vit.encoder.layer.1.intermediate.dense.weight',
      bias: 'vit.encoder.layer.1.intermediate.dense.bias',
    });
    // LayerNorm: a diagonal gain whose input is n̂; the final one sees only the CLS token.
    expect(layers[0]).toMatchObject({ tokens: T, out: 16, in: 16, diagonal: true });
    expect(layers[8]).toMatchObject({ tokens: 1, out: 16, in: 16, weight: 'vit.layernorm.weight' });
    expect(layers[9]).toMatchObject({ tokens: 1, out: 3, in: 16, actName: 'act:classifier' });
    // q, k and v read the same LayerNorm output: one act output serves all three.
    expect(new Set(layers.slice(1, 4).map((l) => l.actName)).size).toBe(1);
  });

  it('zero noise reproduces the plain suffix; constant noise equals a bias shift; acts are the layer inputs', async () => {
    const prefix = await session(buildViTGraph(p, { part: 'prefix', cut }));
    const hidden = (await prefix.run(feeds({ x: { data: x, dims: [B, 64] } }))).hidden!;
    const h = { hidden: { data: hidden.data as Float32Array, dims: [...hidden.dims] } };
    const plain = await (
      await session(buildViTGraph(p, { part: 'suffix', cut }))
    ).run(feeds({ ...h, ...inputs(p) }, labels));
    const layers = lrLayers(p, { part: 'suffix', cut });
    const lrs = await session(buildViTGraph(p, { part: 'suffix', cut, lrNoise: true }));
    const zeros = Object.fromEntries(
      layers.map((l) => [
        l.noiseName,
        { data: new Float32Array(B * l.tokens * l.out), dims: [B, l.tokens * l.out] },
      ]),
    );
    const clean = await lrs.run(feeds({ ...h, ...inputs(p), ...zeros }, labels));
    expect(maxAbsDiff(clean.loss!.data as Float32Array, plain.loss!.data as Float32Array)).toBe(0);
    expect(maxAbsDiff(clean.logits!.data as Float32Array, plain.logits!.data as Float32Array)).toBe(0);
    // The classifier's input is the CLS feature; the first block linear's input has T tokens of width 16.
    expect(clean['act:classifier']!.dims).toEqual([B, 16]);
    expect(clean['act:vit.encoder.layer.1.attention.attention.query']!.dims).toEqual([B, T * 16]);

    // Noise δ on every row and token of a layer's output is the same as adding δ to its bias.
    for (const target of layers.filter((_, i) => i === 0 || i === 1 || i === 6 || i === 9)) {
      const delta = randn(target.out, lcg(target.out), 0.5);
      const noise = new Float32Array(B * target.tokens * target.out).map((_, i) => delta[i % target.out]!);
      const noisy = await lrs.run(
        feeds(
          {
            ...h,
            ...inputs(p),
            ...zeros,
            [target.noiseName]: { data: noise, dims: [B, target.tokens * target.out] },
          },
          labels,
        ),
      );
      const bias = `${target.layer}.bias`;
      const shifted = p.tensors.get(bias)!.data.map((v, i) => v + delta[i]!);
      const ref = await (
        await session(buildViTGraph(p, { part: 'suffix', cut }))
      ).run(feeds({ ...h, ...inputs(p, { [bias]: shifted }) }, labels));
      expect(
        maxAbsDiff(noisy.loss!.data as Float32Array, ref.loss!.data as Float32Array),
      ).toBeLessThanOrEqual(1e-5);
      expect(maxAbsDiff(noisy.loss!.data as Float32Array, plain.loss!.data as Float32Array)).toBeGreaterThan(
        1e-4,
      );
    }
  });
});
