// 'dataset/split' on the bundled Fashion-MNIST subset (5 classes, 200 train + 100 test each): exact per-class counts,
// the same request gives the same version, the pixels are shared with the parent (no decoding, same inode), the new
// version verifies against its own id, appears in dataset/list, trains, and bad fractions name their field.
import { readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CACHE_FILES, DatasetCache, verifyDatasetCache } from '../../../app/datasets/cache.ts';
import { decoderCalls } from '../../../app/datasets/decode.ts';
import type { DatasetVersion } from '../../../app/db/datasets.ts';
import { listDatasets, splitDataset } from '../../../app/use-cases/datasets.ts';
import { toBridgeError } from '../../../app/use-cases/index.ts';
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

describe('bad input', () => {
  const datasets = () => join(ws.dataDir, 'datasets');
  /** The version rows and the cache folders (temporary ones included), to check that nothing was written. */
  const state = async () => ({
    rows: (await listDatasets(ws.ctx, {})).map((d) => d.id).sort(),
    folders: readdirSync(datasets()).sort(),
  });
  const refused = async (args: Record<string, unknown>) => {
    const error = await splitDataset(ws.ctx, args as unknown as Parameters<typeof splitDataset>[1]).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    return toBridgeError(error);
  };

  it('a nonexistent id is NOT_FOUND, naming the id', async () => {
    const before = await state();
    expect(await refused({ id: 'ghost-dataset' })).toMatchObject({
      code: 'NOT_FOUND',
      message: 'dataset ghost-dataset does not exist',
    });
    expect(await refused({ id: 'f'.repeat(64) })).toMatchObject({ code: 'NOT_FOUND' });
    expect(await state()).toEqual(before);
  });

  it('fractions summing to 1 or more, negative, NaN, keepTest with test, names of 10 KB: each field named', async () => {
    const before = await state();
    const id = ws.datasetVersionId;
    expect((await refused({ id, val: 0.5, test: 0.5 })).issues).toEqual([
      { field: 'test', message: 'val + test must be below 1, got 0.5 + 0.5' },
    ]);
    // With test left out, the default 0.1 is what val is summed with, so val is the field to fix.
    expect((await refused({ id, val: 0.95 })).issues).toEqual([
      { field: 'val', message: 'val + test must be below 1, got 0.95 + 0.1' },
    ]);
    expect((await refused({ id, val: -0.2 })).issues?.map((i) => i.field)).toEqual(['val']);
    expect((await refused({ id, val: Number.NaN, test: Number.NaN })).issues?.map((i) => i.field)).toEqual([
      'val',
      'test',
    ]);
    expect((await refused({ id, keepTest: true, test: 0 })).issues).toEqual([
      { field: 'test', message: 'keepTest keeps the test split; leave test out' },
    ]);
    const long = await refused({ id, name: 'x'.repeat(10_240) });
    expect(long.code).toBe('ARGS_INVALID');
    expect(long.issues?.map((i) => i.field)).toEqual(['name']);
    expect(long.issues?.[0]?.message).toMatch(/200/);
    expect((await refused({ id, name: '   ' })).issues?.map((i) => i.field)).toEqual(['name']);
    expect((await refused({ id: '' })).issues?.map((i) => i.field)).toEqual(['id']);
    expect(await state()).toEqual(before);
  });

  it('a name with path separators is only a name: the cache folder is the content id, inside the workspace', async () => {
    const v = await splitDataset(ws.ctx, { id: ws.datasetVersionId, seed: 77, name: '../../etc/passwd\\x' });
    expect(v.name).toBe('../../etc/passwd\\x');
    expect(v.cachePath).toBe(join(datasets(), v.id));
    expect(readdirSync(datasets()).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('a version whose cache folder was deleted: DATASET_MISSING naming the version and the path, nothing written', async () => {
    const child = await splitDataset(ws.ctx, { id: ws.datasetVersionId, seed: 101 });
    rmSync(child.cachePath!, { recursive: true, force: true });
    const before = await state();
    const data = await refused({ id: child.id, seed: 5 });
    expect(data.code).toBe('DATASET_MISSING');
    expect(data.message).toContain(child.id);
    expect(data.message).toContain(child.cachePath!);
    expect(data.message).toMatch(/cache is gone/);
    expect(await state()).toEqual(before);
  });

  it('a version whose pixels file is truncated: FORMAT_INVALID naming the file, no version made from it', async () => {
    const child = await splitDataset(ws.ctx, { id: ws.datasetVersionId, seed: 102 });
    const pixels = join(child.cachePath!, CACHE_FILES.pixels);
    // Replaced, not truncated in place: the file is hard-linked to the parent's.
    const bytes = readFileSync(pixels);
    unlinkSync(pixels);
    writeFileSync(pixels, bytes.subarray(0, bytes.length - 1000));
    const before = await state();
    const data = await refused({ id: child.id, seed: 6 });
    expect(data.code).toBe('FORMAT_INVALID');
    expect(data.message).toContain(pixels);
    expect(data.message).toMatch(/1175000 bytes; the manifest's 1500 images of 28x28x1 need 1176000/);
    expect(await state()).toEqual(before);
    // A cache whose labels were cut short: the same, naming the labels file.
    const child2 = await splitDataset(ws.ctx, { id: ws.datasetVersionId, seed: 103 });
    const labels = join(child2.cachePath!, CACHE_FILES.labels);
    writeFileSync(labels, readFileSync(labels).subarray(0, 10));
    const before2 = await state();
    const data2 = await refused({ id: child2.id, seed: 6 });
    expect(data2.code).toBe('FORMAT_INVALID');
    expect(data2.message).toContain(labels);
    expect(await state()).toEqual(before2);
  });

  it('the same split twice at once gives one version, one row and no temporary folders', async () => {
    const before = await state();
    const args = { id: ws.datasetVersionId, val: 0.2, test: 0.2, seed: 99 };
    const [a, b, c] = await Promise.all([
      splitDataset(ws.ctx, args),
      splitDataset(ws.ctx, args),
      splitDataset(ws.ctx, args),
    ]);
    expect(b.id).toBe(a.id);
    expect(c.id).toBe(a.id);
    const after = await state();
    expect(after.rows).toEqual([...before.rows, a.id].sort());
    expect(after.folders).toEqual([...before.folders, a.id].sort());
    expect(await verifyDatasetCache(a.cachePath!)).toBe(true);
  });
});
