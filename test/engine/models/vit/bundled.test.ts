// The bundled demo backbone (assets/models/vit-tiny-fmnist, written by tools/pretrain_vit.py) through our graphs:
// torch's golden logits, its test accuracy, its provenance, and that its features transfer to the held-out classes.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';

import {
  BUNDLED_VIT_DIR,
  buildViTGraph,
  buildViTGraphSet,
  exportViTOnnx,
  loadViT,
  preprocessPixels,
  prepareViT,
} from '../../../../engine/models/vit/index.ts';
import { benchVitInference, benchVitTraining } from '../../../../engine/models/vit/vit-bench.ts';
import { maxAbsDiff, session } from './helpers.ts';

const GOLDEN = new URL('../../../fixtures/vit/golden.json', import.meta.url);
const FMNIST = '/usr/share/datasets/fashion-mnist';
const hasData = existsSync(join(FMNIST, 't10k-images-idx3-ubyte.gz'));
if (!hasData)
  console.warn(`[vit bundled] ${FMNIST} not found: skipping the Fashion-MNIST accuracy and transfer checks`);

interface Golden {
  model_sha256: string;
  test_accuracy_pct: number;
  test_correct: number;
  test_count: number;
  samples: { test_index: number; label: number; pixels: number[]; logits: number[] }[];
}
const golden = JSON.parse(readFileSync(GOLDEN, 'utf8')) as Golden;

/** A minimal IDX reader (gzip, big-endian header) independent of engine/data. */
function idx(file: string): { dims: number[]; data: Uint8Array } {
  const b = gunzipSync(readFileSync(join(FMNIST, file)));
  const nd = b[3]!;
  const dims = Array.from({ length: nd }, (_, i) => b.readUInt32BE(4 + 4 * i));
  return { dims, data: new Uint8Array(b.buffer, b.byteOffset + 4 + 4 * nd, b.length - 4 - 4 * nd) };
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('bundled ViT (vit-tiny-fmnist)', () => {
  it('is small, HF-shaped, and its sha256 matches PROVENANCE.md and the golden fixture', async () => {
    const file = join(BUNDLED_VIT_DIR, 'model.safetensors');
    expect(statSync(file).size).toBeLessThan(1_000_000);
    const hash = sha256(file);
    expect(golden.model_sha256).toBe(hash);
    expect(readFileSync(join(BUNDLED_VIT_DIR, 'PROVENANCE.md'), 'utf8')).toContain(hash);
    const { config } = await loadViT(BUNDLED_VIT_DIR);
    expect(config).toMatchObject({
      architecture: 'ViTForImageClassification',
      imageSize: [28, 28],
      patchSize: [7, 7],
      numChannels: 1,
      hiddenSize: 64,
      numLayers: 4,
      numHeads: 4,
      intermediateSize: 128,
      labels: ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat'],
    });
  });

  it("reproduces torch's golden logits (16 test images) within 1e-4", async () => {
    const { config, weights } = await loadViT(BUNDLED_VIT_DIR);
    const p = prepareViT(config, weights, { mode: { kind: 'head' } });
    const n = golden.samples.length;
    const x = preprocessPixels(
      config,
      golden.samples.flatMap((s) => s.pixels),
    );
    const s = await session(buildViTGraph(p));
    const out = await s.run({
      x: new ort.Tensor('float32', x, [n, 784]),
      y: new ort.Tensor('int64', BigInt64Array.from(golden.samples.map((g) => BigInt(g.label))), [n]),
      'classifier.weight': new ort.Tensor('float32', p.tensors.get('classifier.weight')!.data, [5, 64]),
      'classifier.bias': new ort.Tensor('float32', p.tensors.get('classifier.bias')!.data, [5]),
    });
    const diff = maxAbsDiff(
      out.logits!.data as Float32Array,
      golden.samples.flatMap((g) => g.logits),
    );
    expect(diff).toBeLessThanOrEqual(1e-4);
  });

  it.skipIf(!hasData)("reproduces torch's test accuracy on classes 0-4 within 0.1 points", async () => {
    const { config, weights } = await loadViT(BUNDLED_VIT_DIR);
    const p = prepareViT(config, weights, { mode: { kind: 'head' } });
    const images = idx('t10k-images-idx3-ubyte.gz').data;
    const labels = idx('t10k-labels-idx1-ubyte.gz').data;
    const keep = [...labels.keys()].filter((i) => labels[i]! < 5);
    expect(keep.length).toBe(golden.test_count);
    const s = await session(exportViTOnnx(p));
    let correct = 0;
    const B = 500;
    for (let at = 0; at < keep.length; at += B) {
      const rows = keep.slice(at, at + B);
      const raw = new Uint8Array(rows.length * 784);
      rows.forEach((r, j) => raw.set(images.subarray(r * 784, (r + 1) * 784), j * 784));
      const out = await s.run({
        pixel_values: new ort.Tensor('float32', preprocessPixels(config, raw), [rows.length, 1, 28, 28]),
      });
      const logits = out.logits!.data as Float32Array;
      rows.forEach((r, j) => {
        const row = logits.subarray(j * 5, j * 5 + 5);
        if (row.indexOf(Math.max(...row)) === labels[r]) correct++;
      });
    }
    const acc = (100 * correct) / keep.length;
    console.log(
      `[vit bundled] ONNX test accuracy ${acc.toFixed(2)} % (torch ${golden.test_accuracy_pct.toFixed(2)} %)`,
    );
    expect(Math.abs(acc - golden.test_accuracy_pct)).toBeLessThanOrEqual(0.1);
  });

  it.skipIf(!hasData)(
    'its frozen features transfer to the held-out classes 5-9 (nearest class mean beats chance by far)',
    async () => {
      const { config, weights } = await loadViT(BUNDLED_VIT_DIR);
      const p = prepareViT(config, weights, { mode: { kind: 'head' }, numClasses: 5, newHead: true });
      const set = buildViTGraphSet(p);
      expect(set.split?.value.name).toBe('features');
      const prefix = await session(set.split!.prefix);
      const images = idx('t10k-images-idx3-ubyte.gz').data;
      const labels = idx('t10k-labels-idx1-ubyte.gz').data;
      const rows = [...labels.keys()].filter((i) => labels[i]! >= 5).slice(0, 1000);
      const raw = new Uint8Array(rows.length * 784);
      rows.forEach((r, j) => raw.set(images.subarray(r * 784, (r + 1) * 784), j * 784));
      const f = (
        await prefix.run({ x: new ort.Tensor('float32', preprocessPixels(config, raw), [rows.length, 784]) })
      ).features!.data as Float32Array;
      // Class means from the first half, accuracy on the second half.
      const half = rows.length / 2;
      const means = Array.from({ length: 5 }, () => new Float64Array(64));
      const counts = new Array<number>(5).fill(0);
      for (let j = 0; j < half; j++) {
        const k = labels[rows[j]!]! - 5;
        counts[k]!++;
        for (let h = 0; h < 64; h++) means[k]![h]! += f[j * 64 + h]!;
      }
      means.forEach((m, k) => m.forEach((v, h) => (m[h] = v / counts[k]!)));
      let correct = 0;
      for (let j = half; j < rows.length; j++) {
        let best = -1;
        let bestD = Infinity;
        for (let k = 0; k < 5; k++) {
          let d = 0;
          for (let h = 0; h < 64; h++) d += (f[j * 64 + h]! - means[k]![h]!) ** 2;
          if (d < bestD) [best, bestD] = [k, d];
        }
        if (best === labels[rows[j]!]! - 5) correct++;
      }
      const acc = (100 * correct) / (rows.length - half);
      console.log(`[vit bundled] nearest-class-mean accuracy on held-out classes 5-9: ${acc.toFixed(1)} %`);
      expect(acc).toBeGreaterThan(45); // chance is 20 %
    },
  );

  it('benchVitInference reports throughput, and the cached prefix speeds up head-mode queries', async () => {
    const r = await benchVitInference('head', { batch: 32, runs: 3, threads: 1 });
    console.log(`[vit bundled] head: ${JSON.stringify(r)}`);
    expect(r.inference_rows_per_sec).toBeGreaterThan(0);
    expect(r.trainable_params).toBe(5 * 64 + 5);
    expect(r.prefix_reuse_speedup).toBeGreaterThan(1);
  });

  it.each(['head', 'last-k', 'full'] as const)(
    'benchVitTraining (%s) measures the train() loop against inference of the query graph',
    async (mode) => {
      const inference = await benchVitInference(mode, { batch: 16, runs: 2, threads: 1 });
      const r = await benchVitTraining(mode, {
        inference,
        batch: 16,
        warmupSteps: 1,
        stepsPerRound: 1,
        rounds: 1,
        threads: 1,
      });
      console.log(`[vit bundled] ${mode} training: ${JSON.stringify(r)}`);
      expect(r.training_rows_per_sec).toBeGreaterThan(0);
      expect(r.ms_per_step).toBeGreaterThan(0);
      const reference = inference.suffix_rows_per_sec ?? inference.inference_rows_per_sec;
      expect(r.overhead_ratio).toBeCloseTo(r.training_rows_per_sec / reference, 9);
    },
  );
});
