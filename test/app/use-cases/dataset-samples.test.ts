// 'dataset/samples' on the bundled Fashion-MNIST subset: counts per split and class, labels and class names as the
// cache holds them, and PNGs that decode to exactly the cached pixels.
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DatasetCache } from '../../../app/datasets/cache.ts';
import { getDatasetVersion } from '../../../app/db/datasets.ts';
import type { DatasetSamples } from '../../../app/use-cases/datasets.ts';
import { invokeHandler } from '../../../app/use-cases/index.ts';
import { testWorkspace, type TestWorkspace } from '../runs/helpers.ts';

describe('dataset/samples', () => {
  let ws: TestWorkspace;
  let cache: DatasetCache;
  beforeAll(async () => {
    ws = await testWorkspace();
    cache = await DatasetCache.open(getDatasetVersion(ws.ctx.workspace.db, ws.datasetVersionId)!.cachePath!);
  });
  afterAll(async () => {
    await cache?.close();
    await ws?.dispose();
  });

  const samples = (args: Record<string, unknown>) =>
    invokeHandler(ws.ctx, 'dataset/samples', { id: ws.datasetVersionId, ...args }) as Promise<DatasetSamples>;

  it('pages through a split, with labels, class names and pixels from the cache', async () => {
    const test = cache.indices('test');
    const page = await samples({ split: 'test', offset: 10, limit: 25 });
    expect(page.total).toBe(test.length);
    expect(page.offset).toBe(10);
    expect(page.samples.map((s) => s.index)).toEqual(Array.from(test.slice(10, 35)));
    const n = cache.height * cache.width * cache.channels;
    const pixels = new Uint8Array(n);
    for (const s of page.samples) {
      expect(s.split).toBe('test');
      expect(s.label).toBe(cache.labels[s.index]);
      expect(s.className).toBe(cache.record.classes[s.label]);
      expect(s.png.startsWith('data:image/png;base64,')).toBe(true);
      const png = PNG.sync.read(Buffer.from(s.png.slice('data:image/png;base64,'.length), 'base64'));
      expect([png.width, png.height]).toEqual([cache.width, cache.height]);
      await cache.read(Int32Array.of(s.index), pixels);
      // pngjs decodes to RGBA; a grey cache has R = G = B = the cached byte.
      const decoded = new Uint8Array(n);
      for (let p = 0; p < cache.width * cache.height; p++) {
        for (let c = 0; c < cache.channels; c++) decoded[p * cache.channels + c] = png.data[p * 4 + c]!;
      }
      expect(decoded).toEqual(pixels);
    }
  });

  it('filters by class across all splits and counts them', async () => {
    const want = Array.from(cache.labels.entries())
      .filter(([, l]) => l === 2)
      .map(([i]) => i);
    const all = await samples({ classIndex: 2, limit: 200 });
    expect(all.total).toBe(want.length);
    expect(all.samples.map((s) => s.index)).toEqual(want.slice(0, 200));
    expect(new Set(all.samples.map((s) => s.className))).toEqual(new Set([cache.record.classes[2]]));
    const past = await samples({ classIndex: 2, offset: want.length });
    expect(past).toEqual({ total: want.length, offset: want.length, samples: [] });
  });

  it('refuses a limit over 200 and an unknown dataset', async () => {
    await expect(samples({ limit: 201 })).rejects.toMatchObject({ code: 'ARGS_INVALID' });
    await expect(invokeHandler(ws.ctx, 'dataset/samples', { id: 'no-such-dataset' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });
});
