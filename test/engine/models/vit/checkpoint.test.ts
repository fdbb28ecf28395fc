import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { FormatError, ModelError } from '../../../../engine/errors.ts';
import { writeSafetensors, type F32Tensor } from '../../../../engine/models/safetensors.ts';
import { loadViTConfig, parseViTConfig, preprocessPixels } from '../../../../engine/models/vit/config.ts';
import { loadViTWeights } from '../../../../engine/models/vit/weights.ts';
import { randomWeights, tinyConfig, tinyConfigJson } from './helpers.ts';

const root = mkdtempSync(join(tmpdir(), 'vit-ckpt-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

async function folder(config: unknown, tensors: [string, F32Tensor][], pre?: unknown): Promise<string> {
  const dir = join(root, `m${n++}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config));
  if (pre !== undefined) writeFileSync(join(dir, 'preprocessor_config.json'), JSON.stringify(pre));
  await writeSafetensors(join(dir, 'model.safetensors'), tensors);
  return dir;
}

const rename = (w: Map<string, F32Tensor>, prefix: string) =>
  [...w].map(([k, v]) => [k.startsWith('vit.') ? prefix + k.slice(4) : k, v] as [string, F32Tensor]);

async function rejects(
  p: Promise<unknown>,
  type: new (...a: never[]) => Error,
  pattern: RegExp,
): Promise<void> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(type);
  expect((e as Error).message).toMatch(pattern);
}

describe('config parsing', () => {
  it('reads the HF fields and the preprocessor (scalar mean/std broadcast per channel)', () => {
    const c = parseViTConfig(tinyConfigJson({ channels: 3, image: [8, 12], classes: 2 }), {
      image_mean: [0.5],
      image_std: 0.25,
      rescale_factor: 1 / 255,
      do_resize: false,
    });
    expect(c.imageSize).toEqual([8, 12]);
    expect(c.patchSize).toEqual([4, 4]);
    expect(c.numChannels).toBe(3);
    expect(c.labels).toEqual(['c0', 'c1']);
    expect(c.preprocess.mean).toEqual([0.5, 0.5, 0.5]);
    expect(c.preprocess.std).toEqual([0.25, 0.25, 0.25]);
    expect(c.preprocess.doResize).toBe(false);
    const x = preprocessPixels(
      { ...c, numChannels: 1, imageSize: [1, 2], preprocess: { ...c.preprocess, mean: [0.5], std: [0.25] } },
      [0, 255],
    );
    expect(Array.from(x)).toEqual([-2, 2]);
  });

  it('ViTModel configs carry no labels; DeiT gets a distillation token', () => {
    expect(parseViTConfig({ ...tinyConfigJson(), architectures: ['ViTModel'] }).labels).toEqual([]);
    const d = parseViTConfig(tinyConfigJson({ modelType: 'deit' }));
    expect(d.distillationToken).toBe(true);
    expect(d.architecture).toBe('DeiTForImageClassification');
  });

  it('unsupported architectures, activations and inconsistent sizes are ModelErrors naming the file', () => {
    const base = tinyConfigJson();
    const cases: [unknown, RegExp][] = [
      [{ ...base, model_type: 'swin' }, /unsupported model_type "swin"/],
      [
        { ...base, architectures: ['ViTMAEForPreTraining'] },
        /unsupported architecture "ViTMAEForPreTraining"/,
      ],
      [{ ...base, architectures: ['DeiTForImageClassificationWithTeacher'] }, /unsupported architecture/],
      [{ ...base, hidden_act: 'gelu_new' }, /unsupported hidden_act/],
      [{ ...base, num_attention_heads: 3 }, /not divisible/],
      [{ ...base, image_size: 10 }, /not a multiple of patch_size/],
      [{ ...base, hidden_size: -4 }, /hidden_size must be a positive integer/],
      [[1, 2], /not a JSON object/],
    ];
    for (const [cfg, re] of cases) {
      expect(() => parseViTConfig(cfg, undefined, 'my/config.json')).toThrow(ModelError);
      expect(() => parseViTConfig(cfg, undefined, 'my/config.json')).toThrow(re);
      expect(() => parseViTConfig(cfg, undefined, 'my/config.json')).toThrow(/my\/config\.json/);
    }
    expect(() => parseViTConfig(tinyConfigJson({ channels: 3 }), { image_mean: [0.1, 0.2] })).toThrow(
      /2 values for 3 channels/,
    );
  });

  it('a config.json that is not JSON is a FormatError naming the file', async () => {
    const dir = await folder('{"model_type": ', []);
    await rejects(loadViTConfig(dir), FormatError, /config\.json: not valid JSON/);
  });
});

describe('weight loading', () => {
  const c = tinyConfig({ channels: 3, classes: 3 });
  const w = randomWeights(c, 3, 4);

  it('ViTForImageClassification naming loads every tensor under canonical names', async () => {
    const dir = await folder(tinyConfigJson({ channels: 3, classes: 3 }), [...w]);
    const cfg = await loadViTConfig(dir);
    const got = await loadViTWeights(dir, cfg);
    expect(got.size).toBe(w.size);
    for (const [k, v] of w) expect(got.get(k)).toEqual(v);
  });

  it('ViTModel naming (no prefix, a pooler, no classifier) loads the backbone only', async () => {
    const tensors = rename(new Map([...w].filter(([k]) => !k.startsWith('classifier'))), '');
    tensors.push(['pooler.dense.weight', { shape: [16, 16], data: new Float32Array(256) }]);
    const dir = await folder({ ...tinyConfigJson({ channels: 3 }), architectures: ['ViTModel'] }, tensors);
    const got = await loadViTWeights(dir, await loadViTConfig(dir));
    expect(got.has('vit.encoder.layer.1.output.dense.weight')).toBe(true);
    expect(got.has('classifier.weight')).toBe(false);
  });

  it('DeiT naming with its distillation token', async () => {
    const dc = tinyConfig({ modelType: 'deit', channels: 3, classes: 3 });
    const dw = randomWeights(dc, 3, 2);
    const dir = await folder(
      tinyConfigJson({ modelType: 'deit', channels: 3, classes: 3 }),
      rename(dw, 'deit.'),
    );
    const got = await loadViTWeights(dir, await loadViTConfig(dir));
    expect(got.get('vit.embeddings.distillation_token')!.shape).toEqual([1, 1, 16]);
    expect(got.get('vit.embeddings.position_embeddings')!.shape).toEqual([1, 6, 16]);
  });

  it('a missing tensor is a ModelError naming the file and the checkpoint tensor', async () => {
    const dir = await folder(
      { ...tinyConfigJson({ channels: 3 }), architectures: ['ViTModel'] },
      rename(new Map([...w].filter(([k]) => k !== 'vit.encoder.layer.1.attention.attention.key.bias')), ''),
    );
    await rejects(
      loadViTWeights(dir, await loadViTConfig(dir)),
      ModelError,
      /model\.safetensors: missing tensor 'encoder\.layer\.1\.attention\.attention\.key\.bias'/,
    );
    const empty = await folder(tinyConfigJson(), [['foo', { shape: [1], data: new Float32Array(1) }]]);
    await rejects(
      loadViTWeights(empty, await loadViTConfig(empty)),
      ModelError,
      /missing tensor 'vit\.embeddings\.cls_token'/,
    );
  });

  it('a shape that disagrees with the config is a ModelError naming the tensor and both shapes', async () => {
    // Same tensors, but the config claims 4 heads of a 32-wide model.
    const dir = await folder(tinyConfigJson({ channels: 3, classes: 3, hidden: 32, heads: 4 }), [...w]);
    await rejects(
      loadViTWeights(dir, await loadViTConfig(dir)),
      ModelError,
      /tensor 'vit\.embeddings\.cls_token' has shape \[1, 1, 16\], config implies \[1, 1, 32\]/,
    );
    const bad = new Map(w);
    bad.set('vit.encoder.layer.0.intermediate.dense.weight', {
      shape: [16, 32],
      data: new Float32Array(512),
    });
    const dir2 = await folder(tinyConfigJson({ channels: 3, classes: 3 }), [...bad]);
    await rejects(
      loadViTWeights(dir2, await loadViTConfig(dir2)),
      ModelError,
      /intermediate\.dense\.weight' has shape \[16, 32\], config implies \[32, 16\]/,
    );
  });

  it('a classifier whose class count disagrees with id2label is a ModelError', async () => {
    const dir = await folder(tinyConfigJson({ channels: 3, classes: 5 }), [...w]);
    await rejects(
      loadViTWeights(dir, await loadViTConfig(dir)),
      ModelError,
      /3 classes but config\.json lists 5 labels/,
    );
  });

  it('a file that is not safetensors is a FormatError naming it', async () => {
    const dir = await folder(tinyConfigJson({ channels: 3, classes: 3 }), []);
    writeFileSync(join(dir, 'model.safetensors'), 'this is not a model');
    await rejects(
      loadViTWeights(dir, await loadViTConfig(dir)),
      FormatError,
      /model\.safetensors: (bad header length|header)/,
    );
  });
});
