import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { ModelError } from '../../../../engine/errors.ts';
import { readSafetensorsHeader } from '../../../../engine/models/safetensors.ts';
import {
  buildViTGraph,
  exportViTHf,
  exportViTOnnx,
  gatherTrainable,
  loadViT,
  prepareViT,
  type PreparedViT,
  type TrainMode,
} from '../../../../engine/models/vit/index.ts';
import {
  feeds,
  lcg,
  maxAbsDiff,
  randn,
  randomPixels,
  randomWeights,
  session,
  tinyConfig,
} from './helpers.ts';

const root = mkdtempSync(join(tmpdir(), 'vit-export-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const c = tinyConfig({ channels: 3, hidden: 24, heads: 3, mlp: 32, layers: 2, classes: 4 });
const w = randomWeights(c, 4, 8);
const x = randomPixels(c, 5, 9);
const dims = [5, 3, 8, 8];
const flatDims = [5, 3 * 8 * 8];

/** A "fine-tuned" theta: the initial one moved by noise (LoRA's B included, so the merge is exercised). */
function tuned(p: PreparedViT): Float32Array {
  const theta = gatherTrainable(p);
  const n = randn(theta.length, lcg(99), 0.2);
  return theta.map((v, i) => v + n[i]!);
}

async function trainingLogits(p: PreparedViT, theta: Float32Array): Promise<Float32Array> {
  const inputs: Record<string, { data: Float32Array; dims: number[] }> = { x: { data: x, dims: flatDims } };
  let off = 0;
  for (const s of p.trainable) {
    const k = s.shape.reduce((a, b) => a * b, 1);
    inputs[s.name] = { data: theta.subarray(off, off + k), dims: s.shape };
    off += k;
  }
  const out = await (await session(buildViTGraph(p))).run(feeds(inputs, [0, 1, 2, 0, 1]));
  return out.logits!.data as Float32Array;
}

describe('export', () => {
  const modes: TrainMode[] = [
    { kind: 'lora', rank: 3, alpha: 6, targets: ['q', 'k', 'v', 'o'] },
    { kind: 'vpt', prompts: 2 },
    { kind: 'last-k', k: 1 },
    { kind: 'bitfit' },
  ];
  for (const mode of modes) {
    it(`${mode.kind}: the standalone ONNX (trainables baked in) reproduces the training graph`, async () => {
      const p = prepareViT(c, w, { mode, numClasses: 6, seed: 1 });
      const theta = tuned(p);
      const onnx = exportViTOnnx(p, theta);
      const s = await session(onnx);
      expect(s.inputNames).toEqual(['pixel_values']);
      expect(s.outputNames).toEqual(['logits']);
      const out = await s.run(feeds({ pixel_values: { data: x, dims } }));
      expect(
        maxAbsDiff(out.logits!.data as Float32Array, await trainingLogits(p, theta)),
      ).toBeLessThanOrEqual(1e-5);
    });
  }

  it('HF folder (LoRA merged) reloads through loadViT and gives the same logits', async () => {
    const p = prepareViT(c, w, {
      mode: { kind: 'lora', rank: 2, alpha: 2, lastK: 1 },
      numClasses: 3,
      labels: ['a', 'b', 'c'],
    });
    const theta = tuned(p);
    const dir = join(root, 'hf');
    await exportViTHf(p, dir, theta);
    const header = await readSafetensorsHeader(join(dir, 'model.safetensors'));
    expect(header.entries.some((e) => e.name.includes('lora'))).toBe(false);
    expect(
      header.entries.some((e) => e.name === 'vit.encoder.layer.1.attention.attention.query.weight'),
    ).toBe(true);
    const back = await loadViT(dir);
    expect(back.config.labels).toEqual(['a', 'b', 'c']);
    expect(back.config.preprocess).toEqual(c.preprocess);
    const q = prepareViT(back.config, back.weights, { mode: { kind: 'head' } });
    expect(
      maxAbsDiff(await trainingLogits(q, gatherTrainable(q)), await trainingLogits(p, theta)),
    ).toBeLessThanOrEqual(1e-5);
  });

  it('refuses an HF export of a VPT model (HF ViT has no prompt tokens)', async () => {
    const p = prepareViT(c, w, { mode: { kind: 'vpt', prompts: 1 } });
    await expect(exportViTHf(p, join(root, 'vpt'))).rejects.toThrow(ModelError);
  });
});
