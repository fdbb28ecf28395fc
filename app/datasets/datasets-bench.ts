// Dataset throughput for `npm run bench` (datasets.*): importing a folder of small PNGs (CIFAR-sized, 32x32 RGB,
// 10 classes) and reading batches back from the uint8 cache. The import number is what a user waits for; the
// batch number must stay far above the training step rate so the loader never stalls the queries.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { PNG } from 'pngjs';

import { BatchLoader } from '../../engine/data/loader.ts';
import { Rng } from '../../engine/rng.ts';

import { DatasetCache } from './cache.ts';
import { importImageFolder } from './import.ts';
import type { PreprocessConfig } from './preprocess.ts';

export interface DatasetsBenchOptions {
  /** PNGs in the folder; default 1000. */
  images?: number;
  /** Default: the bundled backbone's input, 32 -> 28x28 grey (resize and channel conversion both exercised). */
  preprocess?: PreprocessConfig;
  /** Rows per batch for the cached read; default 64. */
  batchSize?: number;
  /** Epochs over the cache; default 5. */
  epochs?: number;
}

const BENCH_PREPROCESS: PreprocessConfig = {
  channels: 1,
  resize: { height: 28, width: 28 },
  centerCrop: null,
  resample: 'bilinear',
  rescale: 1 / 255,
  mean: [0.5],
  std: [0.5],
};

/** A 32x32 RGB image with smooth structure plus noise, so PNG compression behaves like on photos, not flat fills. */
function syntheticPng(rng: Rng, label: number): Buffer {
  const png = new PNG({ width: 32, height: 32 });
  const fx = 1 + (label % 4);
  const fy = 1 + Math.floor(label / 4);
  for (let y = 0; y < 32; y++) {
    for (let x = 0; x < 32; x++) {
      const o = (y * 32 + x) * 4;
      const base = 128 + 100 * Math.sin((x * fx + y * fy) / 5);
      for (let c = 0; c < 3; c++)
        png.data[o + c] = Math.max(0, Math.min(255, base + c * 20 + (rng.nextU32() % 24)));
      png.data[o + 3] = 255;
    }
  }
  return PNG.sync.write(png, { colorType: 2 });
}

export async function benchDatasets(
  options: DatasetsBenchOptions = {},
): Promise<{ import_images_per_sec: number; cached_batches_per_sec: number }> {
  const n = options.images ?? 1000;
  const dir = await mkdtemp(join(tmpdir(), 'flops-datasets-bench-'));
  try {
    const root = join(dir, 'images');
    const rng = new Rng(0xda7a);
    for (let c = 0; c < 10; c++) await mkdir(join(root, `class-${c}`), { recursive: true });
    for (let i = 0; i < n; i++) {
      await writeFile(
        join(root, `class-${i % 10}`, `${String(i).padStart(5, '0')}.png`),
        syntheticPng(rng, i % 10),
      );
    }
    const importOnce = () =>
      importImageFolder(root, {
        cacheRoot: join(dir, 'cache'),
        preprocess: options.preprocess ?? BENCH_PREPROCESS,
      });
    // The first import is a warm-up (JIT, sharp's first load); the second, identical one is timed, from the
    // folder scan to the committed version: reading, hashing, decoding, resizing, writing.
    await importOnce();
    const t0 = performance.now();
    const record = await importOnce();
    const importSeconds = (performance.now() - t0) / 1000;

    const cache = await DatasetCache.open(record.cachePath);
    const loader = new BatchLoader(cache, {
      batchSize: options.batchSize ?? 64,
      seed: 1,
      normalization: {
        rescale: record.preprocess.rescale,
        mean: record.preprocess.mean,
        std: record.preprocess.std,
      },
    });
    for await (const _ of loader.epoch(0)); // warm-up: JIT and the first-epoch order
    const epochs = options.epochs ?? 5;
    const t1 = performance.now();
    let batches = 0;
    for (let e = 1; e <= epochs; e++) for await (const _ of loader.epoch(e)) batches++;
    const batchSeconds = (performance.now() - t1) / 1000;
    await cache.close();
    return {
      import_images_per_sec: record.count / importSeconds,
      cached_batches_per_sec: batches / batchSeconds,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
