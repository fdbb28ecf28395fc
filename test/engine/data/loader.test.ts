import { describe, expect, it } from 'vitest';

import {
  BatchLoader,
  MemoryPixelSource,
  normalizationTable,
  type Batch,
  type PixelSource,
} from '../../../engine/data/loader.ts';
import { ConfigError } from '../../../engine/errors.ts';

/** 10 images of 2x3x2 (HWC) whose pixel values encode (image, y, x, channel), labels = image % 3. */
function source(count = 10, h = 2, w = 3, c = 2): MemoryPixelSource {
  const pixels = new Uint8Array(count * h * w * c);
  for (let i = 0; i < count; i++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let ch = 0; ch < c; ch++)
          pixels[((i * h + y) * w + x) * c + ch] = (i * 20 + y * 6 + x * 2 + ch) % 256;
  return new MemoryPixelSource(
    pixels,
    Int32Array.from({ length: count }, (_, i) => i % 3),
    h,
    w,
    c,
  );
}

/** Wraps a source and counts read calls and images read. */
function counting(inner: MemoryPixelSource): {
  source: PixelSource;
  stats: { reads: number; images: number };
} {
  const stats = { reads: 0, images: 0 };
  const source: PixelSource = {
    count: inner.count,
    height: inner.height,
    width: inner.width,
    channels: inner.channels,
    labels: inner.labels,
    read: (indices, out) => {
      stats.reads++;
      stats.images += indices.length;
      inner.read(indices, out);
    },
  };
  return { source, stats };
}

async function collect(loader: BatchLoader, epoch: number): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of loader.epoch(epoch)) out.push(b);
  return out;
}

describe('BatchLoader', () => {
  it('visits every index once per epoch in a seeded shuffled order', async () => {
    const loader = new BatchLoader(source(), { batchSize: 4, seed: 1 });
    expect(loader.batchesPerEpoch).toBe(3);
    const batches = await collect(loader, 0);
    expect(batches.map((b) => b.size)).toEqual([4, 4, 2]);
    const ids = batches.flatMap((b) => [...b.sampleIds]);
    expect([...ids].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(ids).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const again = await collect(new BatchLoader(source(), { batchSize: 4, seed: 1 }), 0);
    expect(again.flatMap((b) => [...b.sampleIds])).toEqual(ids);
    const epoch1 = await collect(loader, 1);
    expect(epoch1.flatMap((b) => [...b.sampleIds])).not.toEqual(ids);
  });

  it('normalises and transposes to NCHW, with labels and sample ids per row', async () => {
    const src = source();
    const loader = new BatchLoader(src, {
      batchSize: 3,
      seed: 0,
      shuffle: false,
      normalization: { rescale: 1 / 255, mean: [0.5, 0.25], std: [0.5, 2] },
    });
    const b = await loader.batch(0, 1);
    expect(b.shape).toEqual([3, 2, 2, 3]);
    expect([...b.sampleIds]).toEqual([3, 4, 5]);
    expect([...b.labels]).toEqual([0, 1, 2]);
    // Row 0 is image 3; channel 1, y 1, x 2: raw value 3*20 + 6 + 4 + 1 = 71.
    const v = b.pixels[0 * 12 + 1 * 6 + 1 * 3 + 2]!;
    expect(v).toBeCloseTo((71 / 255 - 0.25) / 2, 6);
    const c0 = b.pixels[0 * 12 + 0 * 6 + 1 * 3 + 2]!;
    expect(c0).toBeCloseTo((70 / 255 - 0.5) / 0.5, 6);
  });

  it('keeps HWC for layout nhwc', async () => {
    const b = await new BatchLoader(source(), {
      batchSize: 1,
      seed: 0,
      shuffle: false,
      layout: 'nhwc',
    }).batch(0, 2);
    expect(b.shape).toEqual([1, 2, 3, 2]);
    expect(Array.from(b.pixels, (x) => Math.round(x * 255))).toEqual(
      Array.from(
        { length: 12 },
        (_, k) => 40 + Math.floor(k / 6) * 6 + (Math.floor(k / 2) % 3) * 2 + (k % 2),
      ),
    );
  });

  it('iterates a subset, with repeats, and drops a partial batch on request', async () => {
    const loader = new BatchLoader(source(), {
      batchSize: 2,
      seed: 3,
      indices: [7, 7, 2, 5, 9],
      dropLast: true,
    });
    expect(loader.batchesPerEpoch).toBe(2);
    const ids = (await collect(loader, 0)).flatMap((b) => [...b.sampleIds]);
    expect(ids).toHaveLength(4);
    for (const i of ids) expect([7, 2, 5, 9]).toContain(i);
  });

  it('gives the same batch whether prefetched, requested out of order, or not prefetched', async () => {
    const a = new BatchLoader(source(), {
      batchSize: 3,
      seed: 5,
      augment: { randomCrop: { padding: 1 }, hflip: true },
    });
    const b = new BatchLoader(source(), {
      batchSize: 3,
      seed: 5,
      prefetch: false,
      augment: { randomCrop: { padding: 1 }, hflip: true },
    });
    const inOrder = await collect(a, 2);
    expect(a.assembled).toBeGreaterThan(inOrder.length - 1);
    for (const i of [3, 0, 2, 1]) {
      const x = await b.batch(2, i);
      expect([...x.pixels]).toEqual([...inOrder[i]!.pixels]);
      expect([...x.sampleIds]).toEqual([...inOrder[i]!.sampleIds]);
    }
  });

  it('prefetches the next batch while the current one is in use', async () => {
    const { source: src, stats } = counting(source());
    const loader = new BatchLoader(src, { batchSize: 4, seed: 0 });
    await loader.batch(0, 0);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(stats.reads).toBe(2); // batch 0, and batch 1 ahead of the request
    await loader.batch(0, 1);
    expect(stats.reads).toBe(2); // served from the prefetch
  });

  it('augments deterministically per (seed, epoch, sample), off by default', async () => {
    const src = source(4, 4, 4, 1);
    const plain = await new BatchLoader(src, { batchSize: 4, seed: 1, shuffle: false }).batch(0, 0);
    const expected = Array.from(src.pixels, (v) => v / 255);
    plain.pixels.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));

    const flip = await new BatchLoader(src, {
      batchSize: 4,
      seed: 1,
      shuffle: false,
      augment: { hflip: true },
    }).batch(0, 0);
    let flipped = 0;
    for (let b = 0; b < 4; b++) {
      const row = (y: number, p: Float32Array) => Array.from(p.subarray(b * 16 + y * 4, b * 16 + y * 4 + 4));
      const same = row(0, flip.pixels).every((v, x) => v === row(0, plain.pixels)[x]);
      const mirrored = row(0, flip.pixels).every((v, x) => v === row(0, plain.pixels)[3 - x]);
      expect(same || mirrored).toBe(true);
      if (!same) flipped++;
    }
    expect(flipped).toBeGreaterThan(0);

    const crop = await new BatchLoader(src, {
      batchSize: 4,
      seed: 1,
      shuffle: false,
      augment: { randomCrop: { padding: 2 } },
    }).batch(0, 0);
    // Every cropped pixel is either a source pixel of the same image or padding (0).
    for (let b = 0; b < 4; b++) {
      const own = new Set(Array.from(src.pixels.subarray(b * 16, b * 16 + 16), (v) => v / 255));
      for (const v of crop.pixels.subarray(b * 16, b * 16 + 16)) {
        expect(v === 0 || [...own].some((o) => Math.abs(o - v) < 1e-6)).toBe(true);
      }
    }
  });

  it('reads each image once per epoch from the source', async () => {
    const { source: src, stats } = counting(source(20));
    const loader = new BatchLoader(src, { batchSize: 8, seed: 0, prefetch: false });
    await collect(loader, 0);
    await collect(loader, 1);
    expect(stats.images).toBe(40);
  });

  it('rejects bad options (BAD CALL)', () => {
    expect(() => new BatchLoader(source(), { batchSize: 0, seed: 0 })).toThrow(ConfigError);
    expect(() => new BatchLoader(source(), { batchSize: 2, seed: 0, indices: [10] })).toThrow(
      /outside the dataset/,
    );
    expect(
      () =>
        new BatchLoader(source(), {
          batchSize: 2,
          seed: 0,
          normalization: { rescale: 1, mean: [0, 0, 0], std: [1] },
        }),
    ).toThrow(/3 values for 2 channels/);
    expect(() => normalizationTable({ rescale: 1, mean: [0], std: [0] }, 1)).toThrow(/std must be > 0/);
    expect(
      () => new BatchLoader(source(), { batchSize: 2, seed: 0, augment: { randomCrop: { padding: -1 } } }),
    ).toThrow(ConfigError);
    expect(() => new MemoryPixelSource(new Uint8Array(5), new Int32Array(1), 2, 2, 1)).toThrow(/5 bytes/);
  });

  it('rejects a batch index outside the epoch', async () => {
    await expect(new BatchLoader(source(), { batchSize: 4, seed: 0 }).batch(0, 3)).rejects.toThrow(/outside/);
  });
});
