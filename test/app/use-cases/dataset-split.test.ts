// 'dataset/split' on the bundled Fashion-MNIST subset (5 classes, 200 train + 100 test each): exact per-class counts,
// the same request gives the same version, the pixels are shared with the parent (no decoding, same inode), the new
// version verifies against its own id, appears in dataset/list, trains, and bad fractions name their field.
import { statSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CACHE_FILES, DatasetCache, verifyDatasetCache } from '../../../app/datasets/cache.ts';
import { decoderCalls } from '../../../app/datasets/decode.ts';
import type { DatasetVersion } from '../../../app/db/datasets.ts';
import { listDatasets, splitDataset } from '../../../app/use-cases/datasets.ts';
import { validateRun } from '../../../app/use-cases/runs.ts';
import { InvalidArgumentsError } from '../../../app/use-cases/validate.ts';
import { testWorkspace, type TestWorkspace } from '../runs/helpers.ts';

let ws: TestWorkspace;
beforeAll(async () => {
  ws = await testWorkspace();
});
afterAll(async () => {
  await ws.dispose();
});

type Counts = { counts: Record<string, number>; perClass: Record<string, number[]> };
const counts = (v: DatasetVersion) => v.splitCounts as unknown as Counts;

describe('dataset/split', () => {
  it('re-splits every class exactly, shares the pixels and verifies', async () => {
    const decodesBefore = decoderCalls();
    const v = await splitDataset(ws.ctx, { id: ws.datasetVersionId, val: 0.15, test: 0.25, seed: 3 });
    // 300 images per class: val round(45) = 45, test round(75) = 75, train the other 180.
    expect(counts(v).counts).toEqual({ train: 900, val: 225, test: 375 });
    expect(counts(v).perClass).toEqual({
      train: [180, 180, 180, 180, 180],
      val: [45, 45, 45, 45, 45],
      test: [75, 75, 75, 75, 75],
    });
    expect(v.splitSpec).toEqual({ kind: 'stratified', spec: { seed: 3, val: 0.15, test: 0.25 } });
    expect(v.id).not.toBe(ws.datasetVersionId);
    expect(v.id).toMatch(/^[0-9a-f]{64}$/);
    expect((v.source as { resplitOf?: string }).resplitOf).toBe(ws.datasetVersionId);
    expect(decoderCalls()).toEqual(decodesBefore);
    const parent = (await listDatasets(ws.ctx, {})).find((d) => d.id === ws.datasetVersionId)!;
    expect(statSync(join(v.cachePath!, CACHE_FILES.pixels)).ino).toBe(
      statSync(join(parent.cachePath!, CACHE_FILES.pixels)).ino,
    );
    expect(await verifyDatasetCache(v.cachePath!)).toBe(true);
    // The cache the loader opens agrees with the stored counts, image for image.
    const cache = await DatasetCache.open(v.cachePath!);
    expect([
      cache.indices('train').length,
      cache.indices('val').length,
      cache.indices('test').length,
    ]).toEqual([900, 225, 375]);
    await cache.close();
  });

  it('gives the same version for the same request, and another for another seed', async () => {
    const a = await splitDataset(ws.ctx, { id: ws.datasetVersionId, val: 0.15, test: 0.25, seed: 3 });
    const b = await splitDataset(ws.ctx, {
      id: ws.datasetVersionId.slice(0, 10),
      val: 0.15,
      test: 0.25,
      seed: 3,
    });
    expect(b.id).toBe(a.id);
    expect(b.createdAt).toBe(a.createdAt);
    const c = await splitDataset(ws.ctx, { id: ws.datasetVersionId, val: 0.15, test: 0.25, seed: 4 });
    expect(c.id).not.toBe(a.id);
    expect(counts(c).counts).toEqual(counts(a).counts);
    const list = await listDatasets(ws.ctx, {});
    expect(list.map((d) => d.id).sort()).toEqual([ws.datasetVersionId, a.id, c.id].sort());
  });

  it('keepTest re-draws val from the train images only and leaves the test images where they were', async () => {
    const v = await splitDataset(ws.ctx, { id: ws.datasetVersionId, val: 0.1, keepTest: true, seed: 1 });
    expect(counts(v).counts).toEqual({ train: 900, val: 100, test: 500 });
    expect(counts(v).perClass.val).toEqual([20, 20, 20, 20, 20]);
    expect(v.splitSpec).toEqual({ kind: 'predefined', spec: { seed: 1, val: 0.1, test: 0 } });
    const parent = (await listDatasets(ws.ctx, {})).find((d) => d.id === ws.datasetVersionId)!;
    const [p, q] = [await DatasetCache.open(parent.cachePath!), await DatasetCache.open(v.cachePath!)];
    expect(q.indices('test')).toEqual(p.indices('test'));
    await Promise.all([p.close(), q.close()]);
    // A run on it validates with the new val split for evaluation.
    const checked = await validateRun(ws.ctx, {
      spec: ws.spec({}, { datasetVersionId: v.id, evalSplit: 'val', kShot: undefined }),
    });
    expect(checked.ok).toBe(true);
  });

  it('names every bad field and makes nothing', async () => {
    const before = (await listDatasets(ws.ctx, {})).length;
    const bad = async (args: Record<string, unknown>) => {
      const error = await splitDataset(ws.ctx, { id: ws.datasetVersionId, ...args }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidArgumentsError);
      return (error as InvalidArgumentsError).issues;
    };
    expect(await bad({ val: 1.2, test: -0.1, seed: 1.5 })).toEqual([
      { field: 'val', message: expect.stringMatching(/<1/) as unknown as string },
      { field: 'test', message: expect.stringMatching(/>=0/) as unknown as string },
      { field: 'seed', message: expect.stringMatching(/int/) as unknown as string },
    ]);
    expect(await bad({ val: 0.6, test: 0.5 })).toEqual([
      { field: 'test', message: 'val + test must be below 1, got 0.6 + 0.5' },
    ]);
    expect((await bad({ keepTest: true, test: 0.2 })).map((i) => i.field)).toEqual(['test']);
    await expect(splitDataset(ws.ctx, { id: 'no-such-dataset' })).rejects.toThrow(/does not exist/);
    expect((await listDatasets(ws.ctx, {})).length).toBe(before);
  });
});
